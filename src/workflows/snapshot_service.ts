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
import {
  type BranchRecord,
  findBranch,
  findSnapshot,
  findTrackedSnapshot,
  type SnapshotRecord,
} from "../domain/inventory.ts";
import { parsePulledName } from "../domain/remote_refs.ts";
import { destroyTrackedSnapshot } from "../ops/tracking_removal.ts";
import { releaseSnapshotNames } from "../ops/store/claims_index.ts";
import { snapshotBranch } from "../ops/take_snapshot.ts";
import { withLock } from "../runtime/lock.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";

/** What a snapshot delete removed. */
export interface SnapshotDeleteResult {
  snapshot: string;
  /** The remote it was pulled from (a remote-tracking snapshot), else null. */
  remote: string | null;
  /** Branches made from it (and from theirs), deepest first: only with `force`. */
  removedBranches: string[];
  /** The snapshots of those branches, destroyed with them. */
  removedSnapshots: string[];
  /**
   * Datasets zvpg did not make inside those branches (only with `force`), and the
   * remote-tracking dataset a pulled snapshot was the last one of.
   */
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

  /**
   * Snapshots, oldest first: this pool's, then those pulled from remotes (named
   * `<remote>/<name>`, by remote). With `branch`, those of one branch only: one of this
   * pool's, else a remote-tracking one (`<remote>/<branch>`).
   */
  async list(options: { branch?: string } = {}): Promise<SnapshotRecord[]> {
    const { branch } = options;
    if (branch !== undefined) validateBranchName(branch, this.ctx.config.branchNamingPattern);
    const inventory = await loadInitializedInventory(this.ctx, "snapshot list", {
      containers: false,
      tracking: true,
    });
    const all = [...inventory.snapshots, ...inventory.tracking ?? []];
    if (branch === undefined) return all;
    // a branch of this pool comes first, as git takes refs/heads before refs/remotes
    if (inventory.branches.some((b) => b.name === branch)) {
      return inventory.snapshots.filter((s) => s.branch === branch);
    }
    const tracked = (inventory.tracking ?? []).filter((s) => s.branch === branch);
    if (tracked.length === 0) findBranch(inventory, branch);
    return tracked;
  }

  /** One snapshot: of this pool, or pulled from a remote (`<remote>/<name>`). */
  async info(name: string): Promise<SnapshotRecord> {
    const pulled = isPulledName(name);
    const inventory = await loadInitializedInventory(this.ctx, "snapshot info", {
      containers: false,
      tracking: pulled,
    });
    return pulled ? findTrackedSnapshot(inventory, name) : findSnapshot(inventory, name);
  }

  /**
   * Deletes a snapshot. Refused while branches depend on it, or while it (or one of
   * theirs) is the base of the next push to a remote, unless `force`, which deletes those
   * branches (and theirs) first and releases the remotes' holds.
   */
  async delete(name: string, options: { force?: boolean } = {}): Promise<SnapshotDeleteResult> {
    if (isPulledName(name)) return await this.deleteTracked(name, options);
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
        releaseRemoteBases: options.force,
      });
      refuseDependents(name, losses.dependents, options.force);
      // everything the recursive destroys take is listed: nothing goes unnamed
      const { removedSnapshots, foreign: removedDatasets } = losses;
      const removed = await destroyLosses(this.ctx, losses);
      faultPoint("snapshot.delete.before-destroy");
      await this.ctx.zfs.destroy(snapshot.zfsName);
      await releaseSnapshotNames(this.ctx, [...removedSnapshots, name]);
      log.info(`snapshot '${name}' deleted`);
      return {
        snapshot: name,
        remote: null,
        removedBranches: removed,
        removedSnapshots,
        removedDatasets,
      };
    });
  }

  /**
   * Deletes the snapshot `<remote>/<name>` pulled from a remote: as a snapshot of this
   * pool (refused while branches are cloned from it, unless `force`), its
   * `zvpg-remote-*` holds released first; its remote-tracking dataset goes with its last
   * snapshot.
   */
  private async deleteTracked(
    name: string,
    options: { force?: boolean },
  ): Promise<SnapshotDeleteResult> {
    return await withLock(this.ctx.layout, async () => {
      const inventory = await loadInitializedInventory(this.ctx, "snapshot delete", {
        tracking: true,
      });
      const snapshot = findTrackedSnapshot(inventory, name);
      const tracking = inventory.tracking ?? [];
      // its dependents are planned as a local snapshot's are (a pulled one has no branch)
      const losses = planLosses(
        { ...inventory, snapshots: [...inventory.snapshots, ...tracking] },
        {
          snapshots: [snapshot],
          dependentsGo: `deleted with snapshot '${name}'`,
          releaseRemoteBases: options.force,
        },
      );
      refuseDependents(name, losses.dependents, options.force);
      const removed = await destroyLosses(this.ctx, losses);
      await releaseSnapshotNames(this.ctx, losses.removedSnapshots);
      faultPoint("snapshot.delete.before-destroy");
      const dataset = snapshot.zfsName.split("@")[0];
      const last = !tracking.some((s) => s !== snapshot && s.zfsName.startsWith(`${dataset}@`));
      const datasets = await destroyTrackedSnapshot(this.ctx, snapshot, last);
      log.info(`snapshot '${name}' deleted`);
      return {
        snapshot: name,
        remote: snapshot.remote,
        removedBranches: removed,
        removedSnapshots: losses.removedSnapshots,
        removedDatasets: [...losses.foreign, ...datasets],
      };
    });
  }
}

/** Refuses, naming them, to delete snapshot `name` while branches depend on it (no `force`). */
function refuseDependents(name: string, dependents: BranchRecord[], force?: boolean): void {
  if (dependents.length === 0 || force) return;
  throw new DependencyError(
    `snapshot '${name}' has dependent branches: ${dependents.map((b) => b.name).join(", ")}`,
    dependents.map((b) => b.name),
    "delete those branches first, or use --force to delete them too",
  );
}

/**
 * Whether `name` names a snapshot pulled from a remote (`<remote>/<name>`); any other
 * name must be a valid snapshot name of this pool (a usage error otherwise).
 */
function isPulledName(name: string): boolean {
  if (parsePulledName(name)) return true;
  validateSnapshotName(name);
  return false;
}
