/**
 * Taking a data directory's dataset over as main's data dataset, without copying (see
 * src/domain/datadir_adoption.ts), and giving it back when the import fails.
 *
 * Invariant: before anything changes, the dataset is snapshotted as `@zvpg-adopt`; a failed
 * import rolls it back to that snapshot, renames it back and restores its mountpoint and
 * atime, so the user gets their dataset back as it was. A successful import destroys that
 * snapshot (it holds the source's role passwords, which the import removes).
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Adoption } from "../domain/datadir_adoption.ts";
import { PROPS } from "../domain/layout.ts";
import type { Context } from "../runtime/context.ts";
import { log } from "../runtime/log.ts";

/** The snapshot a take-over starts from. */
export const ADOPT_SNAPSHOT = "zvpg-adopt";

/** A dataset taken over, and what is needed to give it back. */
export interface AdoptedDataset extends Adoption {
  /** The original `mountpoint` and `atime`: the value and whether it was set locally. */
  original: Record<"mountpoint" | "atime", { value: string; local: boolean }>;
}

/**
 * Renames `adoption.dataset` to main's data dataset and moves the data directory to
 * `pgdata` at its root (renames inside the file system); undefined, with nothing changed,
 * when it cannot be taken over (it has child datasets or snapshots of its own, or main's
 * data dataset exists already): the caller copies then.
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
  const found = await zfs.localProps(adoption.dataset, ["mountpoint", "atime"]);
  const original = {
    mountpoint: found.mountpoint ?? { value: adoption.mountpoint, local: true },
    atime: found.atime ?? { value: "on", local: false },
  };
  const adopted: AdoptedDataset = { ...adoption, original };
  started(adopted);
  await zfs.snapshot(`${adoption.dataset}@${ADOPT_SNAPSHOT}`);
  await zfs.rename(adoption.dataset, layout.dataDataset);
  await zfs.set(layout.dataDataset, {
    mountpoint: layout.dataMount,
    atime: "off",
    [PROPS.branch]: config.branchDefault,
    [PROPS.state]: "stopped",
    [PROPS.created]: ctx.now().toISOString(),
  });
  await zfs.mount(layout.dataDataset);
  movePgdataToRoot(layout.dataMount, adoption.subdir);
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
 * Gives a taken-over dataset back as it was (rolled back to `@zvpg-adopt`, its old name,
 * mountpoint and atime, zvpg's properties removed); best effort, each step logged.
 */
export async function giveBack(ctx: Context, adopted: AdoptedDataset): Promise<void> {
  const { zfs, layout } = ctx;
  const step = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      log.warn(`giving ${adopted.dataset} back: ${what} failed: ${(error as Error).message}`);
    }
  };
  const name = (await zfs.exists(layout.dataDataset)) ? layout.dataDataset : adopted.dataset;
  // interrupted before its snapshot was taken: nothing else was changed either
  const snapshotted = await zfs.exists(`${name}@${ADOPT_SNAPSHOT}`);
  if (snapshotted) await step("rollback", () => zfs.rollback(`${name}@${ADOPT_SNAPSHOT}`));
  if (name !== adopted.dataset) {
    await step("rename", () => zfs.rename(layout.dataDataset, adopted.dataset));
  }
  for (const prop of [PROPS.branch, PROPS.state, PROPS.created, PROPS.pid]) {
    await step(`unset ${prop}`, () => zfs.inherit(adopted.dataset, prop));
  }
  for (const prop of ["mountpoint", "atime"] as const) {
    const o = adopted.original[prop];
    await step(
      prop,
      () =>
        o.local
          ? zfs.set(adopted.dataset, { [prop]: o.value })
          : zfs.inherit(adopted.dataset, prop),
    );
  }
  if (snapshotted) {
    await step("destroy the snapshot", () => zfs.destroy(`${adopted.dataset}@${ADOPT_SNAPSHOT}`));
  }
  if (!existsSync(adopted.mountpoint)) await step("mount", () => zfs.mount(adopted.dataset));
}

/** Ends a take-over that succeeded: its starting snapshot goes (it holds the old passwords). */
export async function finishAdoption(ctx: Context): Promise<void> {
  await ctx.zfs.destroy(`${ctx.layout.dataDataset}@${ADOPT_SNAPSHOT}`);
}
