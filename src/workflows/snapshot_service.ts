/**
 * Snapshots (alias: commits): create, list, info, delete.
 *
 * @module
 */
import { DependencyError, StateError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName, validateSnapshotName } from "../domain/names.ts";
import { destroyLosses } from "../ops/branch_removal.ts";
import { planLosses } from "../domain/losses.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { findBranch, findSnapshot, type SnapshotRecord } from "../domain/inventory.ts";
import { releaseSnapshotNames } from "../ops/store/claims_index.ts";
import { snapshotBranch } from "../ops/take_snapshot.ts";
import { withLock } from "../runtime/lock.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";

/** What a snapshot delete removed. */
export interface SnapshotDeleteResult {
  snapshot: string;
  /** Branches made from it (and from theirs), deepest first: only with `force`. */
  removedBranches: string[];
  /** The snapshots of those branches, destroyed with them. */
  removedSnapshots: string[];
  /** Datasets zvpg did not make inside those branches: only with `force`. */
  removedDatasets: string[];
}

/** Snapshot workflows. */
export class SnapshotService {
  constructor(private readonly ctx: Context) {}

  /** Takes a snapshot of a branch (CHECKPOINT first when its PostgreSQL runs). */
  create(
    name: string,
    options: { message?: string; branch?: string } = {},
  ): Promise<SnapshotRecord> {
    return snapshotBranch(this.ctx, name, options);
  }

  /** Snapshots, oldest first, optionally of one branch only. */
  async list(options: { branch?: string } = {}): Promise<SnapshotRecord[]> {
    if (options.branch !== undefined) {
      validateBranchName(options.branch, this.ctx.config.branchNamingPattern);
    }
    const inventory = await loadInitializedInventory(this.ctx, "snapshot list", {
      containers: false,
    });
    if (options.branch !== undefined) {
      findBranch(inventory, options.branch);
      return inventory.snapshots.filter((s) => s.branch === options.branch);
    }
    return inventory.snapshots;
  }

  /** One snapshot. */
  async info(name: string): Promise<SnapshotRecord> {
    validateSnapshotName(name);
    const inventory = await loadInitializedInventory(this.ctx, "snapshot info", {
      containers: false,
    });
    return findSnapshot(inventory, name);
  }

  /**
   * Deletes a snapshot. Refused while branches depend on it, unless `force`, which
   * deletes those branches (and theirs) first.
   */
  async delete(name: string, options: { force?: boolean } = {}): Promise<SnapshotDeleteResult> {
    validateSnapshotName(name);
    return await withLock(this.ctx.layout, async () => {
      const inventory = await loadInitializedInventory(this.ctx, "snapshot delete");
      const snapshot = findSnapshot(inventory, name);
      // a protected branch's snapshots (and origin) are held: refuse by name, not by EBUSY
      const owner = inventory.branches.find((b) => b.name === snapshot.branch);
      if (owner?.protected) {
        throw new StateError(
          `snapshot '${name}' belongs to protected branch '${owner.name}' and cannot be deleted`,
          { hint: `run 'zvpg branch unprotect ${owner.name}' first if you mean it` },
        );
      }
      const losses = planLosses(inventory, {
        snapshots: [snapshot],
        dependentsGo: `deleted with snapshot '${name}'`,
      });
      const { dependents } = losses;
      if (dependents.length > 0 && !options.force) {
        throw new DependencyError(
          `snapshot '${name}' has dependent branches: ${dependents.map((b) => b.name).join(", ")}`,
          dependents.map((b) => b.name),
          "delete those branches first, or use --force to delete them too",
        );
      }
      // everything the recursive destroys take is listed: nothing goes unnamed
      const { removedSnapshots, foreign: removedDatasets } = losses;
      const removed = await destroyLosses(this.ctx, losses);
      faultPoint("snapshot.delete.before-destroy");
      await this.ctx.zfs.destroy(snapshot.zfsName);
      await releaseSnapshotNames(this.ctx, [...removedSnapshots, name]);
      log.info(`snapshot '${name}' deleted`);
      return { snapshot: name, removedBranches: removed, removedSnapshots, removedDatasets };
    });
  }
}
