/**
 * Removing branches and everything that depends on them, in an order that never leaves
 * a clone without its origin.
 *
 * @module
 */
import { destroyArchive } from "./wal_archive.ts";
import { rmSync } from "node:fs";
import { CommandFailedError, DatasetBusyError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import {
  branchContainers,
  ensureRuntimeDirsMounted,
  removeRuntimeDir,
  stopBranchContainer,
} from "./branch_container.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import type { BranchRecord, Inventory } from "../domain/inventory.ts";
import type { LossPlan } from "../domain/losses.ts";
import { record } from "./store/record.ts";
import { markDeleting } from "../domain/lifecycle.ts";
import { baseOfPushes } from "../domain/remote_bases.ts";
import { releaseBaseHolds } from "./remote_holds.ts";

/**
 * Destroys branches in order: marks each `deleting`, stops and removes its containers,
 * destroys its dataset with its snapshots, removes its runtime directory. Returns the
 * names removed. The caller holds the lock.
 */
export async function destroyBranches(ctx: Context, branches: BranchRecord[]): Promise<string[]> {
  const removed: string[] = [];
  for (const branch of branches) {
    await destroyBranch(ctx, branch);
    removed.push(branch.name);
  }
  return removed;
}

/**
 * Destroys what a {@link LossPlan} allowed beyond the operation's own data: first the
 * holds of the bases of pushes among what goes are released (`--force`), then the
 * branches made from its snapshots go, deepest first. Returns their names. The caller
 * holds the lock.
 */
export async function destroyLosses(
  ctx: Context,
  plan: Pick<LossPlan, "dependents" | "remoteBases">,
): Promise<string[]> {
  await releaseBaseHolds(ctx, plan.remoteBases);
  return await destroyBranches(ctx, plan.dependents);
}

/** Destroys one branch (see {@link destroyBranches}). */
export async function destroyBranch(ctx: Context, branch: BranchRecord): Promise<void> {
  log.info(`deleting branch '${branch.name}'`);
  // mounted before anything changes: a mount that fails leaves the branch as it was
  await ensureRuntimeDirsMounted(ctx);
  await record(ctx, branch.dataset, markDeleting());
  faultPoint("branch.delete.after-mark");
  for (const container of await branchContainers(ctx, branch.name)) {
    await stopBranchContainer(ctx, container.name);
  }
  faultPoint("branch.delete.after-stop");
  try {
    await ctx.zfs.destroy(branch.dataset, { recursive: true });
  } catch (error) {
    if (error instanceof CommandFailedError && /busy/i.test(error.stderr)) {
      throw new DatasetBusyError(
        `branch '${branch.name}' could not be deleted: its dataset is busy (a process is using ${branch.mountpoint})`,
        {
          hint:
            `stop that process (see 'fuser -vm ${branch.mountpoint}'), then run 'zvpg branch delete ${branch.name}' again`,
        },
      );
    }
    throw error;
  }
  faultPoint("branch.delete.after-destroy");
  await destroyArchive(ctx, branch.name);
  await removeRuntimeDir(ctx, branch.name);
  // the copy of the password 'branch url|env|psql' wrote for it goes with it
  rmSync(ctx.layout.branchPassFile(branch.name), { force: true });
}

/**
 * Destroys the origin snapshot of a deleted branch when zvpg took it for itself and no
 * branch but the ones just `removed` (and `branch`) was made from it. Returns its name.
 */
export async function destroyUnusedAutoSnapshot(
  ctx: Context,
  inventory: Inventory,
  branch: BranchRecord,
  removed: string[],
): Promise<string | undefined> {
  if (branch.origin === null) return undefined;
  const origin = inventory.snapshots.find((s) =>
    s.name === branch.origin && s.dependents.includes(branch.name)
  );
  if (!origin?.auto) return undefined;
  const gone = new Set([...removed, branch.name]);
  if (origin.dependents.some((d) => !gone.has(d))) return undefined;
  if (origin.remotes?.length) {
    log.info(`kept snapshot '${origin.name}': it is ${baseOfPushes(origin.remotes)}`);
    return undefined;
  }
  await ctx.zfs.destroy(origin.zfsName);
  log.info(`deleted snapshot '${origin.name}' (taken for branch '${branch.name}')`);
  return origin.name;
}
