/**
 * Expiry and protection of branches: `branch expire`, `branch protect|unprotect`, `gc`.
 *
 * @module
 */
import { StateError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName } from "../domain/names.ts";
import type { Context } from "../context.ts";
import { withLock } from "../runtime/lock.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import { record } from "../ops/store/record.ts";
import {
  type BranchRecord,
  findBranch,
  type Inventory,
  type SnapshotRecord,
} from "../domain/inventory.ts";
import { HOLD_TAG, PROPS } from "../domain/layout.ts";
import { assertNotProtected, inFlightError, isInFlight } from "../domain/lifecycle.ts";
import type { Expiry } from "../domain/duration.ts";
import { type GcSkip, planGc } from "../domain/gc_plan.ts";
import { expiryProps } from "../domain/metadata_props.ts";
import { destroyBranch } from "../ops/branch_removal.ts";
import { snapshotNamesOf } from "../domain/losses.ts";
import { assertNotBusy } from "../ops/operation_alive.ts";
import { collectArchives } from "../ops/wal_archive.ts";

/** What `gc` removed (or would remove, with `dryRun`) and what it left. */
export interface GcResult {
  dryRun: boolean;
  removedBranches: string[];
  removedSnapshots: string[];
  skipped: GcSkip[];
  /** Archived WAL segments removed (see src/ops/wal_archive.ts `collectArchives`). */
  removedWalSegments: number;
}

/** Expiry, protection and gc workflows. */
export class LifecycleService {
  constructor(private readonly ctx: Context) {}

  /** Sets (or with null clears) when branch `name` expires. */
  async expire(name: string, expiry: Expiry | null): Promise<BranchRecord> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    await withLock(ctx.layout, async () => {
      const branch = findBranch(await loadInitializedInventory(ctx, "branch expire"), name);
      if (branch.isDefault && expiry) {
        throw new StateError(`branch '${name}' is the default branch and never expires`, {
          hint: "set an expiry on the branches made from it instead",
        });
      }
      // a protected branch's expiry does not change, to 'never' neither
      assertNotProtected(branch, expiry ? "given an expiry" : "set to never expire");
      assertNotBusy(branch);
      if (expiry === null) {
        await ctx.zfs.inherit(branch.dataset, PROPS.expires);
        await ctx.zfs.inherit(branch.dataset, PROPS.ttl);
        return;
      }
      if (expiry.ttlSeconds === null) await ctx.zfs.inherit(branch.dataset, PROPS.ttl);
      await record(ctx, branch.dataset, expiryProps(expiry));
    });
    return await this.branch(name);
  }

  /**
   * Protects a branch: recorded first, then its snapshots and its origin are held (a
   * protect stopped half-way leaves it protected; running it again holds the rest).
   */
  async protect(name: string): Promise<BranchRecord> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    await withLock(ctx.layout, async () => {
      const inventory = await loadInitializedInventory(ctx, "branch protect");
      const branch = findBranch(inventory, name);
      if (isInFlight(branch)) throw inFlightError(branch);
      await record(ctx, branch.dataset, { [PROPS.protected]: "on" });
      for (const s of heldSnapshots(inventory, branch)) await ctx.zfs.hold(HOLD_TAG, s);
      log.info(`branch '${name}' is protected`);
    });
    return await this.branch(name);
  }

  /** Releases the holds, then the protection (the reverse order of {@link protect}). */
  async unprotect(name: string): Promise<BranchRecord> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    await withLock(ctx.layout, async () => {
      const inventory = await loadInitializedInventory(ctx, "branch unprotect");
      const branch = findBranch(inventory, name);
      for (const s of heldSnapshots(inventory, branch)) {
        // the origin may be held for another protected branch made from it too
        if (!heldByOthers(inventory, branch, s)) await ctx.zfs.release(HOLD_TAG, s);
      }
      await ctx.zfs.inherit(branch.dataset, PROPS.protected);
      log.info(`branch '${name}' is no longer protected`);
    });
    return await this.branch(name);
  }

  /**
   * Deletes expired branches and automatic snapshots nothing depends on (see
   * src/domain/gc_plan.ts); with `dryRun` only says what it would do.
   */
  async gc(options: { dryRun?: boolean } = {}): Promise<GcResult> {
    const { ctx } = this;
    return await withLock(ctx.layout, async () => {
      const inventory = await loadInitializedInventory(ctx, "gc");
      const plan = planGc(inventory, ctx.now());
      const result: GcResult = {
        dryRun: options.dryRun === true,
        removedBranches: plan.branches.map((b) => b.name),
        removedSnapshots: [
          ...snapshotNamesOf(inventory, plan.branches),
          ...plan.snapshots.map((s) => s.name),
        ],
        skipped: plan.skipped,
        removedWalSegments: 0,
      };
      if (options.dryRun) {
        result.removedWalSegments = walGc(ctx, inventory, plan.snapshots, true).segments;
        return result;
      }
      for (const b of plan.branches) {
        assertNotBusy(b);
        await destroyBranch(ctx, b);
        log.info(`gc: deleted expired branch '${b.name}'`);
      }
      for (const s of plan.snapshots) {
        await ctx.zfs.destroy(s.zfsName);
        log.info(`gc: deleted unused automatic snapshot '${s.name}'`);
      }
      // after the snapshots: a base gc removed needs no segment any more
      result.removedWalSegments = walGc(ctx, inventory, plan.snapshots, false).segments;
      return result;
    });
  }

  private async branch(name: string): Promise<BranchRecord> {
    return findBranch(await loadInitializedInventory(this.ctx, "branch info"), name);
  }
}

/** {@link collectArchives} over the branches that stay and the snapshots that stay. */
function walGc(
  ctx: Context,
  inventory: Inventory,
  removed: SnapshotRecord[],
  dryRun: boolean,
) {
  const gone = new Set(removed.map((s) => s.zfsName));
  return collectArchives(
    ctx,
    inventory.branches,
    inventory.snapshots.filter((s) => !gone.has(s.zfsName)),
    { dryRun },
  );
}

/** The snapshots a protection holds: the branch's own and its origin. */
function heldSnapshots(inventory: Inventory, branch: BranchRecord): string[] {
  return inventory.snapshots
    .filter((s) => s.branch === branch.name || s.dependents.includes(branch.name))
    .map((s) => s.zfsName);
}

/** Whether snapshot `zfsName` is held for another protected branch than `branch`. */
function heldByOthers(inventory: Inventory, branch: BranchRecord, zfsName: string): boolean {
  return inventory.branches.some((b) =>
    b.name !== branch.name && b.protected && heldSnapshots(inventory, b).includes(zfsName)
  );
}
