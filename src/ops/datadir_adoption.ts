/**
 * Taking a data directory's dataset over as main's data dataset, without copying (see
 * src/domain/datadir_adoption.ts), and giving it back when the import fails.
 *
 * Invariant: before anything changes, every property set on the dataset is read and the
 * dataset snapshotted as `@zvpg-adopt`; a failed or interrupted import gives it back as it
 * was on every path ({@link giveBack}): its data rolled back to that snapshot (the later
 * snapshots, all zvpg's, go with it), its old name, exactly the properties it had (every
 * one zvpg set or changed, `zvpg:*` included, removed or put back) and mounted at its
 * mountpoint again. A successful import destroys that snapshot (it holds the source's role
 * passwords, which the import removes).
 *
 * @module
 */
import { mkdirSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Adoption } from "../domain/datadir_adoption.ts";
import { PROPS } from "../domain/layout.ts";
import { ZvpgError } from "../errors.ts";
import type { Context } from "../runtime/context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { log } from "../runtime/log.ts";
import { ensureMounted } from "./mounts.ts";

/** The snapshot a take-over starts from. */
export const ADOPT_SNAPSHOT = "zvpg-adopt";

/**
 * How long a give-back keeps retrying a step ZFS refuses as busy: zfs-fuse answers "dataset
 * is busy" for a moment after a rollback or an unmount, and under load for longer.
 */
const GIVE_BACK_BUSY_MS = 30_000;

/** A dataset taken over, and what is needed to give it back. */
export interface AdoptedDataset extends Adoption {
  /** Every property set locally on the dataset before the take-over (native and user). */
  original: Record<string, string>;
}

/**
 * Renames `adoption.dataset` to main's data dataset and moves the data directory to
 * `pgdata` at its root (renames inside the file system); undefined, with nothing changed,
 * when it cannot be taken over (it has child datasets or snapshots of its own, it is not
 * mounted by ZFS at a path of its own (a `legacy` mountpoint), or main's data dataset
 * exists already): the caller copies then.
 */
export async function adoptDataset(
  ctx: Context,
  adoption: Adoption,
  owner: { uid: number; gid: number },
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
  const adopted: AdoptedDataset = { ...adoption, original };
  started(adopted);
  await zfs.snapshot(`${adoption.dataset}@${ADOPT_SNAPSHOT}`);
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
 * changed is put back), the snapshot destroyed, and mounted at its mountpoint. Each step
 * is tried whatever the others did (a step ZFS refuses as busy is retried); throws, naming
 * what is left to do, when one failed.
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
  const name = (await zfs.exists(layout.dataDataset)) ? layout.dataDataset : adopted.dataset;
  // interrupted before its snapshot was taken: nothing else was changed either
  const snapshotted = await zfs.exists(`${name}@${ADOPT_SNAPSHOT}`);
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
  }
  await step("properties", () => restoreProperties(ctx, adopted));
  if (snapshotted) {
    await step("destroy the snapshot", () => zfs.destroy(`${adopted.dataset}@${ADOPT_SNAPSHOT}`));
  }
  await step("mount", () => ensureMounted(ctx, adopted.dataset, adopted.mountpoint));
  if (failed.length > 0) {
    throw new ZvpgError(`${adopted.dataset} was not given back whole (${failed[0]})`, {
      hint:
        `check 'zfs get all ${adopted.dataset}' and 'zfs mount'; its data is at @${ADOPT_SNAPSHOT} if that snapshot is left`,
    });
  }
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
