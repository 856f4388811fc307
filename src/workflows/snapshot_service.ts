/**
 * Snapshots (alias: commits): create, list, info, delete.
 *
 * @module
 */
import { DependencyError, SnapshotNotFoundError, StateError, UsageError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName, validateSnapshotName } from "../domain/names.ts";
import { destroyBranches, orderDependents, snapshotNamesOf } from "../ops/branch_removal.ts";
import { execSql } from "../ops/branch_container.ts";
import type { Context } from "../runtime/context.ts";
import { faultPoint } from "../runtime/fault.ts";
import {
  type BranchRecord,
  encodeMessage,
  findBranch,
  findSnapshot,
  foreignDatasetsIn,
  type SnapshotRecord,
} from "../domain/inventory.ts";
import {
  assertSnapshotNameFree,
  claimSnapshotName,
  loadBranchScope,
  loadSnapshotOf,
  releaseSnapshotNames,
  scopeBranch,
  type SnapshotNames,
  snapshotNames,
} from "../ops/inventory_store.ts";
import { snapshotProps } from "../domain/metadata_props.ts";
import { HOLD_TAG } from "../domain/layout.ts";
import { assertNotProtected, inFlightError, isInFlight } from "../domain/lifecycle.ts";
import { withLock } from "../runtime/lock.ts";
import { loadInitializedInventory } from "../ops/inventory_store.ts";

/** Longest snapshot message accepted, in bytes once encoded. */
export const MAX_MESSAGE_BYTES = 1000;

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
  async create(
    name: string,
    options: { message?: string; branch?: string } = {},
  ): Promise<SnapshotRecord> {
    validateSnapshotName(name);
    const message = options.message ?? "";
    checkMessage(message);
    const branchName = options.branch ?? this.ctx.config.branchDefault;
    validateBranchName(branchName, this.ctx.config.branchNamingPattern);
    return await withLock(this.ctx.layout, async () => {
      // only this branch (and its container) and the claims index are read: the cost does
      // not grow with the branches or snapshots of the pool
      const scope = await loadBranchScope(this.ctx, "snapshot create", [branchName], {
        containers: "branch",
        claims: true,
      });
      const branch = scopeBranch(scope, branchName);
      return await this.createLocked(snapshotNames(scope), branch, name, message);
    });
  }

  /**
   * Takes a snapshot while the caller holds the lock. `names` checks and claims the name;
   * `branch` carries its container (a running one gets a CHECKPOINT).
   */
  async createLocked(
    names: SnapshotNames,
    branch: BranchRecord,
    name: string,
    message: string,
    options: { autoFor?: string } = {},
  ): Promise<SnapshotRecord> {
    await assertSnapshotNameFree(this.ctx, name, names);
    if (isInFlight(branch)) throw inFlightError(branch);
    if (branch.container?.state === "running") await this.checkpoint(branch);
    // the name is claimed before the snapshot exists, so the index never misses it
    await claimSnapshotName(this.ctx, names, name, branch.name);
    faultPoint("snapshot.before-zfs");
    const taken = this.ctx.now();
    await this.ctx.zfs.snapshot(
      `${branch.dataset}@${name}`,
      snapshotProps(message, taken, options.autoFor),
    );
    log.info(`snapshot '${name}' taken of branch '${branch.name}'`);
    // a protected branch's snapshots are held, so not even a hand-typed `zfs destroy` works
    if (branch.protected) await this.ctx.zfs.hold(HOLD_TAG, `${branch.dataset}@${name}`);
    const after = await loadSnapshotOf(this.ctx, branch, name);
    if (!after) throw new SnapshotNotFoundError(name);
    return after;
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
      const dependents = orderDependents(inventory, [snapshot.zfsName]);
      // a protected branch's snapshots (and origin) are held: refuse by name, not by EBUSY
      const owner = inventory.branches.find((b) => b.name === snapshot.branch);
      if (owner?.protected) {
        throw new StateError(
          `snapshot '${name}' belongs to protected branch '${owner.name}' and cannot be deleted`,
          { hint: `run 'zvpg branch unprotect ${owner.name}' first if you mean it` },
        );
      }
      for (const b of dependents) assertNotProtected(b, `deleted with snapshot '${name}'`);
      if (dependents.length > 0 && !options.force) {
        throw new DependencyError(
          `snapshot '${name}' has dependent branches: ${dependents.map((b) => b.name).join(", ")}`,
          dependents.map((b) => b.name),
          "delete those branches first, or use --force to delete them too",
        );
      }
      // everything the recursive destroys take is listed: nothing goes unnamed
      const removedSnapshots = snapshotNamesOf(inventory, dependents);
      const removedDatasets = dependents.flatMap((b) => foreignDatasetsIn(inventory, b));
      const removed = await destroyBranches(this.ctx, dependents);
      faultPoint("snapshot.delete.before-destroy");
      await this.ctx.zfs.destroy(snapshot.zfsName);
      await releaseSnapshotNames(this.ctx, [...removedSnapshots, name]);
      log.info(`snapshot '${name}' deleted`);
      return { snapshot: name, removedBranches: removed, removedSnapshots, removedDatasets };
    });
  }

  async checkpoint(branch: BranchRecord): Promise<void> {
    try {
      await execSql(this.ctx, branch.name, branch.container!.name, "CHECKPOINT");
      log.debug(`CHECKPOINT done on branch '${branch.name}'`);
    } catch (error) {
      log.warn(
        `CHECKPOINT on branch '${branch.name}' failed (${(error as Error).message}); ` +
          "the snapshot is still crash-consistent",
      );
    }
  }
}

function checkMessage(message: string): void {
  const bytes = new TextEncoder().encode(encodeMessage(message)).length;
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new UsageError(
      `snapshot message is too long (${bytes} bytes encoded, at most ${MAX_MESSAGE_BYTES})`,
      { hint: "shorten the -m message" },
    );
  }
}
