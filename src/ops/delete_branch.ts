/**
 * Deleting a branch: `branch delete`, and the removal of diff's and merge's temporary
 * branches.
 *
 * @module
 */
import { StateError } from "../errors.ts";
import { validateBranchName } from "../domain/names.ts";
import { destroyBranch, destroyLosses, destroyUnusedAutoSnapshot } from "./branch_removal.ts";
import { planLosses } from "../domain/losses.ts";
import type { Context } from "../context.ts";
import { releaseSnapshotNames } from "./store/claims_index.ts";
import { loadInitializedInventory } from "./store/load_inventory.ts";
import { findBranch } from "../domain/inventory.ts";
import {
  assertNotProtected,
  assertNoUnfinishedReset,
  assertOwnEngine,
} from "../domain/lifecycle.ts";
import { assertNotBusy } from "./operation_alive.ts";
import { withLock } from "../runtime/lock.ts";

/** What `branch delete` removed. */
export interface BranchDeleteResult {
  branch: string;
  /** Branches made from its snapshots (deepest first), deleted with `--force`. */
  removedBranches: string[];
  /**
   * Every snapshot destroyed: the branch's own (named ones only with `--force`), those of
   * the removed branches, and automatic snapshots nothing depends on any more.
   */
  removedSnapshots: string[];
  /** Datasets zvpg did not make that were inside the deleted branches (only with force). */
  removedDatasets: string[];
}

/**
 * Deletes a branch: container, dataset and snapshots. Refused for the default branch, for
 * a branch another zvpg process is creating or deleting, and, without `force`, while it
 * holds snapshots someone named, snapshots that are bases of pushes to remotes, or other
 * branches depend on its snapshots (naming them).
 * Its origin snapshot goes too when zvpg took it for this branch and nothing else uses it.
 */
export async function deleteBranch(
  ctx: Context,
  name: string,
  options: { force?: boolean } = {},
): Promise<BranchDeleteResult> {
  validateBranchName(name, ctx.config.branchNamingPattern);
  return await withLock(ctx.layout, async () => {
    const inventory = await loadInitializedInventory(ctx, "branch delete");
    const branch = findBranch(inventory, name);
    if (branch.isDefault) {
      throw new StateError(`branch '${name}' is the default branch and cannot be deleted`, {
        hint: "the default branch holds the main data; delete other branches instead",
      });
    }
    assertNotBusy(branch);
    assertNoUnfinishedReset(inventory, branch);
    assertOwnEngine(ctx.runtime.flavor, branch);
    assertNotProtected(branch, "deleted");
    const own = inventory.snapshots.filter((s) => s.branch === name);
    const losses = planLosses(inventory, {
      snapshots: own,
      branch,
      dependentsGo: `deleted with '${name}'`,
      releaseRemoteBases: options.force,
      refuse: options.force ? undefined : {
        branch: name,
        verb: "deleted",
        hint:
          "delete or move them first ('zvpg snapshot delete', 'zvpg branch delete'), or use --force to delete them with it",
      },
    });
    // in the order they go: the dependents' first, then the branch's own
    const removedSnapshots = [...losses.removedSnapshots, ...own.map((s) => s.name)];
    const removed = await destroyLosses(ctx, losses);
    await destroyBranch(ctx, branch);
    const origin = await destroyUnusedAutoSnapshot(ctx, inventory, branch, removed);
    if (origin) removedSnapshots.push(origin);
    await releaseSnapshotNames(ctx, removedSnapshots);
    return {
      branch: name,
      removedBranches: removed,
      removedSnapshots,
      removedDatasets: losses.foreign,
    };
  });
}
