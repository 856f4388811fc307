/**
 * Taking a data directory's dataset over as main's data dataset, without copying (see
 * src/domain/datadir_adoption.ts), and giving it back when the import fails or its zvpg
 * was killed.
 *
 * Invariant: before anything changes, every property set on the dataset is read and the
 * dataset snapshotted as `@zvpg-adopt`, the snapshot carrying in the same `zfs snapshot`
 * the take-over's record (its name, mountpoint, properties, what the import will make) and
 * the pid of the zvpg doing it. A failed or interrupted import, or `status health --repair`
 * once that zvpg is dead, gives it back as it was on every path ({@link undoTakeOver}):
 * what the import made removed, its data rolled back to that snapshot (the later
 * snapshots, all zvpg's, go with it), its old name, exactly the properties it had (every
 * one zvpg set or changed, `zvpg:*` included, removed or put back), mounted at its
 * mountpoint again, and the snapshot (the record) destroyed last. A successful import
 * destroys that snapshot (it holds the source's role passwords, which the import removes):
 * the point of no return, after which nothing is left to give back.
 *
 * @module
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type AdoptedDataset,
  type Adoption,
  encodeTakeOver,
  TAKE_OVER_RECORD_MAX,
  type TakeOver,
  takeOversIn,
} from "../domain/datadir_adoption.ts";
import type { Inventory } from "../domain/inventory.ts";
import { ADOPT_PROPS, ADOPT_SNAPSHOT, PROPS } from "../domain/layout.ts";
import { ZvpgError } from "../errors.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { log } from "../runtime/log.ts";
import { importContainers } from "./branch_container.ts";
import { ensureMounted } from "./mounts.ts";

export type { AdoptedDataset } from "../domain/datadir_adoption.ts";

/**
 * How long a give-back keeps retrying a step ZFS refuses as busy: zfs-fuse answers "dataset
 * is busy" for a moment after a rollback or an unmount, and under load for longer.
 */
const GIVE_BACK_BUSY_MS = 30_000;

/**
 * Renames `adoption.dataset` to main's data dataset and moves the data directory to
 * `pgdata` at its root (renames inside the file system); undefined, with nothing changed,
 * when it cannot be taken over (it has child datasets or snapshots of its own, it is not
 * mounted by ZFS at a path of its own (a `legacy` mountpoint), or main's data dataset
 * exists already, or its record would not fit in a property): the caller copies then.
 * `made` is what the import goes on to make that does not exist yet (recorded, to be
 * removed by a give-back).
 */
export async function adoptDataset(
  ctx: Context,
  adoption: Adoption,
  owner: { uid: number; gid: number },
  made: AdoptedDataset["made"],
  /**
   * Told what to give back as soon as the starting snapshot exists, before anything moves:
   * the caller's rollback must then give the dataset back (never delete `pgdata`), even
   * when this throws or is interrupted half-way.
   */
  started: (adopted: AdoptedDataset) => void,
): Promise<AdoptedDataset | undefined> {
  const { zfs, layout, config } = ctx;
  const below = await zfs.get([adoption.dataset], ["type"], 1);
  if (below.some((e) => e.name !== adoption.dataset)) {
    log.info(`${adoption.dataset} has snapshots or child datasets: copying instead of taking over`);
    return undefined;
  }
  if (await zfs.exists(layout.dataDataset)) {
    log.info(`${layout.dataDataset} exists already: copying instead of taking over`);
    return undefined;
  }
  const settings = await zfs.localProps(adoption.dataset, ["all"]);
  if (!settings.mountpoint?.value.startsWith("/")) {
    log.info(`${adoption.dataset} has no mountpoint of its own: copying instead of taking over`);
    return undefined;
  }
  const original = Object.fromEntries(
    Object.entries(settings).filter(([, p]) => p.local).map(([prop, p]) => [prop, p.value]),
  );
  const adopted: AdoptedDataset = { ...adoption, original, made };
  const record = encodeTakeOver(adopted);
  if (record.length > TAKE_OVER_RECORD_MAX) {
    log.info(`${adoption.dataset} has too many properties to record: copying instead`);
    return undefined;
  }
  started(adopted);
  // the intent, recorded with the snapshot: 'status health --repair' gives it back from it
  await zfs.snapshot(`${adoption.dataset}@${ADOPT_SNAPSHOT}`, {
    [ADOPT_PROPS.record]: record,
    [PROPS.pid]: String(Deno.pid),
  });
  faultPoint("import.adopt.after-snapshot");
  await zfs.rename(adoption.dataset, layout.dataDataset);
  faultPoint("import.adopt.after-rename");
  await zfs.set(layout.dataDataset, {
    mountpoint: layout.dataMount,
    atime: "off",
    [PROPS.branch]: config.branchDefault,
    [PROPS.state]: "stopped",
    [PROPS.created]: ctx.now().toISOString(),
  });
  faultPoint("import.adopt.after-set");
  await zfs.mount(layout.dataDataset);
  faultPoint("import.adopt.after-mount");
  movePgdataToRoot(layout.dataMount, adoption.subdir);
  faultPoint("import.adopt.after-move");
  const pgdata = join(layout.dataMount, "pgdata");
  const stat = statSync(join(pgdata, "PG_VERSION"));
  if (stat.uid !== owner.uid || stat.gid !== owner.gid) {
    await ctx.runner.run("chown", ["-R", `${owner.uid}:${owner.gid}`, pgdata]);
  }
  return adopted;
}

/** Moves the data directory (`subdir` of `root`, or `root` itself) to `root/pgdata`. */
function movePgdataToRoot(root: string, subdir: string | null): void {
  const pgdata = join(root, "pgdata");
  if (subdir === "pgdata") return;
  if (subdir !== null) {
    renameSync(join(root, subdir), pgdata);
    return;
  }
  // the dataset's root is the data directory: its entries move one level down
  const staging = join(root, ".zvpg-adopt-pgdata");
  mkdirSync(staging, { mode: 0o700 });
  const owner = statSync(root);
  Deno.chownSync(staging, owner.uid, owner.gid);
  for (const entry of readdirSync(root)) {
    if (entry !== ".zvpg-adopt-pgdata") renameSync(join(root, entry), join(staging, entry));
  }
  renameSync(staging, pgdata);
}

/**
 * Gives a taken-over dataset back as it was, whichever step the take-over or the import
 * reached: rolled back to `@zvpg-adopt` (with the snapshots zvpg took since), under its old
 * name, with exactly the properties it had before (what zvpg set is removed, what it
 * changed is put back), mounted at its mountpoint, and the snapshot (the record of the
 * take-over) destroyed last. Each step is tried whatever the others did (a step ZFS
 * refuses as busy is retried); throws, naming what is left to do, when one failed: the
 * snapshot is then kept, for `status health --repair` to finish from.
 */
export async function giveBack(ctx: Context, adopted: AdoptedDataset): Promise<void> {
  const { zfs, layout } = ctx;
  const failed: string[] = [];
  const step = async (what: string, action: () => Promise<unknown>) => {
    try {
      await zfs.retryBusy(action, GIVE_BACK_BUSY_MS);
    } catch (error) {
      failed.push(`${what}: ${(error as Error).message}`);
      log.warn(`giving ${adopted.dataset} back: ${what} failed: ${(error as Error).message}`);
    }
  };
  // where its snapshot is says how far it got (under main's name once renamed); with none,
  // it was interrupted before the snapshot was taken (nothing else was changed either)
  const snapshotAt = (await zfs.exists(`${adopted.dataset}@${ADOPT_SNAPSHOT}`))
    ? adopted.dataset
    : (await zfs.exists(`${layout.dataDataset}@${ADOPT_SNAPSHOT}`))
    ? layout.dataDataset
    : undefined;
  const snapshotted = snapshotAt !== undefined;
  const name = snapshotAt ??
    ((await zfs.exists(adopted.dataset)) ? adopted.dataset : layout.dataDataset);
  if (name === layout.dataDataset && !snapshotted) {
    // renamed after its snapshot was taken, so the take-over had finished (snapshot destroyed)
    throw new ZvpgError(`${adopted.dataset} was taken over for good as ${name}`, {
      hint: "its data is main's now: run 'zvpg status health --repair'",
    });
  }
  if (snapshotted) {
    // the snapshots taken since (the import's) are zvpg's: the dataset had none of its own
    await step("rollback", () => zfs.rollback(`${name}@${ADOPT_SNAPSHOT}`, { later: true }));
  }
  if (name !== adopted.dataset) {
    await step("rename", () => zfs.rename(layout.dataDataset, adopted.dataset, 0));
    faultPoint("import.give-back.after-rename");
  }
  await step("properties", () => restoreProperties(ctx, adopted));
  await step("mount", () => ensureMounted(ctx, adopted.dataset, adopted.mountpoint));
  if (failed.length > 0) {
    throw new ZvpgError(`${adopted.dataset} was not given back whole (${failed[0]})`, {
      hint: snapshotted
        ? `its data is at @${ADOPT_SNAPSHOT}: run 'zvpg status health --repair' to finish`
        : `check 'zfs get all ${adopted.dataset}' and 'zfs mount'`,
    });
  }
  // last: the record goes once everything it records is back
  if (snapshotted) {
    await zfs.retryBusy(
      () => zfs.destroy(`${adopted.dataset}@${ADOPT_SNAPSHOT}`),
      GIVE_BACK_BUSY_MS,
    );
  }
}

/**
 * Undoes a take-over and the import that followed it: removes main's and the loader's
 * containers and what the import made ({@link AdoptedDataset}.made: zvpg's other datasets,
 * never with anything below them, and its config files), then gives the dataset back
 * ({@link giveBack}). The one undo of both a failed or interrupted import and of
 * `status health --repair` after its zvpg was killed. Each part is tried whatever the
 * others did; throws the first failure.
 */
export async function undoTakeOver(ctx: Context, adopted: AdoptedDataset): Promise<void> {
  const { zfs } = ctx;
  const failed: unknown[] = [];
  const attempt = async (action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      failed.push(error);
    }
  };
  await attempt(async () => {
    for (const c of await importContainers(ctx)) await ctx.runtime.remove(c.name);
  });
  for (const dataset of [...adopted.made.datasets].reverse()) {
    await attempt(async () => {
      if (await zfs.exists(dataset)) await zfs.destroy(dataset);
    });
  }
  for (const file of adopted.made.files) rmSync(file, { force: true });
  await attempt(() => giveBack(ctx, adopted));
  if (failed.length > 0) throw failed[0];
}

/**
 * Every take-over recorded in the pool ({@link takeOversIn}). Given the inventory of an
 * initialised pool, only main's data dataset can hold one, and the inventory lists its
 * snapshots: read only when `@zvpg-adopt` is among them. Otherwise (no main yet, or not
 * zvpg's: a take-over before its properties were set, or a give-back past its rename) the
 * whole pool is read, in one call.
 */
export async function findTakeOvers(ctx: Context, inventory?: Inventory): Promise<TakeOver[]> {
  const { zfs, layout } = ctx;
  const props = [ADOPT_PROPS.record, PROPS.pid];
  if (inventory?.initialized) {
    const snapshot = `${layout.dataDataset}@${ADOPT_SNAPSHOT}`;
    if (!inventory.snapshots.some((s) => s.zfsName === snapshot)) return [];
    return takeOversIn(await zfs.get([snapshot], props));
  }
  return takeOversIn(await zfs.getTree([layout.pool], props));
}

/**
 * Puts back the properties the dataset had before the take-over: each one set on it now
 * that was not is inherited again (for user properties: removed), each one it had is set
 * to its old value.
 */
async function restoreProperties(ctx: Context, adopted: AdoptedDataset): Promise<void> {
  const { zfs } = ctx;
  const now = await zfs.localProps(adopted.dataset, ["all"]);
  for (const [prop, p] of Object.entries(now)) {
    if (p.local && !(prop in adopted.original)) {
      await zfs.retryBusy(() => zfs.inherit(adopted.dataset, prop), GIVE_BACK_BUSY_MS);
    }
  }
  for (const [prop, value] of Object.entries(adopted.original)) {
    if (now[prop]?.local && now[prop].value === value) continue;
    await zfs.retryBusy(() => zfs.set(adopted.dataset, { [prop]: value }), GIVE_BACK_BUSY_MS);
  }
}

/** Ends a take-over that succeeded: its starting snapshot goes (it holds the old passwords). */
export async function finishAdoption(ctx: Context): Promise<void> {
  await ctx.zfs.destroy(`${ctx.layout.dataDataset}@${ADOPT_SNAPSHOT}`);
}
