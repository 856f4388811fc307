/**
 * Branches: each a ZFS clone of a snapshot, served by its own PostgreSQL container.
 *
 * @module
 */
import { BranchExistsError, BranchNotFoundError, StateError } from "../errors.ts";
import {
  type ArchiveInfo,
  archiveInfo,
  planPointInTime,
  type ReachedPoint,
} from "../ops/pitr_plan.ts";
import { setArchive } from "../ops/wal_archive.ts";
import { inFlightAlive } from "../ops/operation_alive.ts";
import { describeTarget, type PitrTarget, type RecoveryPlan } from "../domain/wal_archive.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName } from "../domain/names.ts";
import { stopBranchContainer, waitBranchReady } from "../ops/branch_container.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { rolledBack, shielded } from "../runtime/interrupt.ts";
import { loadBranch, loadForStart } from "../ops/store/load_branch.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import { record } from "../ops/store/record.ts";
import type { BranchRecord, SnapshotRecord } from "../domain/inventory.ts";
import {
  assertOwnEngine,
  inFlightError,
  isInFlight,
  markRunning,
  markStopped,
} from "../domain/lifecycle.ts";
import { withLock } from "../runtime/lock.ts";
import { allocatePort, checkRequestedPort } from "../ops/ports.ts";
import { snapshotBranch } from "../ops/take_snapshot.ts";
import {
  createBranch,
  type CreateBranchOptions,
  removeBranchContainers,
  startWithRetries,
} from "../ops/create_branch.ts";
import { type BranchDeleteResult, deleteBranch } from "../ops/delete_branch.ts";
import { Phases } from "../runtime/phases.ts";

/** Branch workflows. */
export class BranchService {
  constructor(private readonly ctx: Context) {}

  /**
   * Creates a branch from a snapshot and starts its PostgreSQL (see {@link createBranch}).
   * On Ctrl-C it stops the step under way and removes what it made. Its phases go to
   * `phases`.
   */
  create(
    name: string,
    options: CreateBranchOptions = {},
    phases: Phases = new Phases(),
  ): Promise<BranchRecord> {
    return createBranch(this.ctx, name, options, phases);
  }

  /**
   * Creates a point-in-time branch (`--at`): the newest snapshot of the parent taken before
   * the target is cloned, and its first start replays the parent's WAL archive up to the
   * target and promotes. A target outside the window is refused before anything is made.
   */
  async createAt(
    name: string,
    target: PitrTarget,
    options: Omit<CreateBranchOptions, "from" | "recovery"> = {},
    phases: Phases = new Phases(),
  ): Promise<{ branch: BranchRecord; reached: ReachedPoint; base: string }> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    const parentName = options.parent ?? ctx.config.branchDefault;
    validateBranchName(parentName, ctx.config.branchNamingPattern);
    const inventory = await loadInitializedInventory(ctx, "branch create");
    const parent = inventory.branches.find((b) => b.name === parentName);
    if (!parent) throw new BranchNotFoundError(parentName);
    const existing = inventory.branches.find((b) => b.name === name);
    // the leftover of an interrupted create goes in createBranch
    if (existing && !(existing.state === "creating" && !inFlightAlive(existing))) {
      throw new BranchExistsError(`branch '${name}' already exists`, {
        hint: "pick another name, or delete it first with 'zvpg branch delete'",
      });
    }
    const { base, plan } = await planPointInTime(ctx, parent, inventory.snapshots, target);
    log.info(`branch '${name}': replaying from snapshot '${base}' to ${describeTarget(target)}`);
    const recovery: { plan: RecoveryPlan; reached?: ReachedPoint } = { plan };
    const branch = await createBranch(
      ctx,
      name,
      { ...options, parent: parentName, from: base, recovery },
      phases,
    );
    return { branch, reached: recovery.reached!, base };
  }

  /** Turns a branch's WAL archive on or off (from its next start); returns its window. */
  async archive(name: string, on: boolean | undefined): Promise<ArchiveInfo> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    const inventory = await loadInitializedInventory(ctx, "branch archive");
    const branch = inventory.branches.find((b) => b.name === name);
    if (!branch) throw new BranchNotFoundError(name);
    if (on !== undefined) {
      await withLock(ctx.layout, () => setArchive(ctx, name, on));
    }
    return await archiveInfo(ctx, branch, inventory.snapshots);
  }

  /**
   * Starts the PostgreSQL container of a stopped branch. On Ctrl-C it removes the
   * container it started; the branch stays stopped. Its phases (container, ready) go to
   * `phases`.
   */
  async start(
    name: string,
    options: { port?: number } = {},
    phases: Phases = new Phases(),
  ): Promise<BranchRecord> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    let running = false;
    let marked = false;
    let started: { container: string; port: number };
    try {
      started = await withLock(ctx.layout, async () => {
        const { branch, ports } = await loadForStart(ctx, name);
        this.assertStartable(branch);
        if (branch.container) await ctx.runtime.remove(branch.container.name);
        if (options.port !== undefined) checkRequestedPort(ctx, ports, options.port, name);
        const port = options.port ??
          allocatePort(ctx, ports, name, { preferred: branch.lastPort });
        // from here on, any container of this branch is the one this start runs
        running = true;
        return await startWithRetries(ctx, phases, ports, name, port, options.port !== undefined);
      });
      await phases.time("ready", () => waitBranchReady(ctx, name, started.container, started.port));
      marked = true;
      await record(ctx, ctx.layout.branchDataset(name), markRunning());
      log.info(`branch '${name}' is ready on port ${started.port}`);
      return await this.info(name);
    } catch (error) {
      if (!running) throw error;
      await shielded(() =>
        withLock(ctx.layout, async () => {
          await removeBranchContainers(ctx, name);
          if (!marked) return;
          await record(ctx, ctx.layout.branchDataset(name), markStopped())
            .catch((e) => log.error(String(e.message)));
        })
      );
      throw rolledBack(error);
    }
  }

  /** Stops (fast shutdown) and removes a branch's container. Returns whether it ran. */
  async stop(name: string): Promise<boolean> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    return await withLock(ctx.layout, async () => {
      const branch = await loadBranch(ctx, "branch stop", name);
      if (isInFlight(branch)) throw inFlightError(branch);
      assertOwnEngine(ctx.runtime.flavor, branch);
      const wasRunning = branch.container?.state === "running";
      // Record the intent first: a crash after this leaves a stopped branch whose
      // container may still run (shown as running), never a "running" one without it.
      if (branch.state !== "stopped") await record(ctx, branch.dataset, markStopped());
      faultPoint("branch.stop.after-mark");
      if (branch.container) await stopBranchContainer(ctx, branch.container.name);
      if (wasRunning) log.info(`branch '${name}' stopped`);
      else log.info(`branch '${name}' was not running`);
      return wasRunning;
    });
  }

  /** All branches, the default first. */
  async list(): Promise<BranchRecord[]> {
    return (await loadInitializedInventory(this.ctx, "branch list")).branches;
  }

  /** One branch. */
  async info(name: string): Promise<BranchRecord> {
    validateBranchName(name, this.ctx.config.branchNamingPattern);
    return await loadBranch(this.ctx, "branch info", name);
  }

  /**
   * Deletes a branch: container, dataset and snapshots. Refused for the default branch, for
   * a branch another zvpg process is creating or deleting, and, without `force`, while it
   * holds snapshots someone named or other branches depend on its snapshots (naming them).
   * Its origin snapshot goes too when zvpg took it for this branch and nothing else uses it.
   */
  delete(name: string, options: { force?: boolean } = {}): Promise<BranchDeleteResult> {
    return deleteBranch(this.ctx, name, options);
  }

  /** Snapshots a branch (`branch snapshot <branch> <snapshot>`). */
  snapshot(branch: string, snapshot: string, message?: string): Promise<SnapshotRecord> {
    validateBranchName(branch, this.ctx.config.branchNamingPattern);
    return snapshotBranch(this.ctx, snapshot, { branch, message });
  }

  private assertStartable(branch: BranchRecord): void {
    if (isInFlight(branch)) throw inFlightError(branch);
    assertOwnEngine(this.ctx.runtime.flavor, branch);
    if (branch.container?.state === "running") {
      throw new StateError(`branch '${branch.name}' is already running on port ${branch.port}`, {
        hint: `stop it first with 'zvpg branch stop ${branch.name}'`,
      });
    }
  }
}
