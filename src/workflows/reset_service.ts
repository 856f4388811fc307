/**
 * `branch reset`: throw away a branch's changes and put it back at its origin snapshot,
 * another snapshot, or its parent's current state, keeping its name, port, password and
 * connection URI. A clone swap (see src/ops/reset_swap.ts): nothing of the old data is
 * destroyed before the new data is in place (and running, when the branch ran).
 *
 * - A swap goes plan → mark → make → swap → finish; a reset in place (`rollBack`) plans,
 *   then marks, rolls back and restarts.
 * - The run's `Progress` says how far it got: clean-up undoes a reset until its point of no
 *   return, and finishes it after.
 *
 * @module
 */
import { InterruptedError, StateError, UsageError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName, validateSnapshotName } from "../domain/names.ts";
import { destroyLosses } from "../ops/branch_removal.ts";
import { type LossPlan, planLosses, snapshotNamesOf } from "../domain/losses.ts";
import type { ContainerInfo } from "../adapters/container_runtime.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import {
  rolledBack,
  shielded,
  throwIfInterrupted,
  throwIfInterruptedNow,
} from "../runtime/interrupt.ts";
import { loadBranch } from "../ops/store/load_branch.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import { loadNameClaims } from "../ops/store/name_claims.ts";
import { record } from "../ops/store/record.ts";
import {
  type BranchRecord,
  findBranch,
  findSnapshot,
  type Inventory,
  servedPort,
  type SnapshotRecord,
} from "../domain/inventory.ts";
import { PROPS } from "../domain/layout.ts";
import {
  assertNotProtected,
  assertNoUnfinishedReset,
  assertOwnEngine,
  inFlightError,
  isInFlight,
  markResetting,
} from "../domain/lifecycle.ts";
import { operationAlive } from "../ops/operation_alive.ts";
import { expiryFromTtl } from "../domain/duration.ts";
import { withLock } from "../runtime/lock.ts";
import { settleAll } from "../runtime/settle_all.ts";
import { takeAutoSnapshot } from "../ops/take_snapshot.ts";
import { finishReset, startRequested, swapIn, undoReset } from "../ops/reset_swap.ts";
import { type PausedServer, pauseServer, resumeServer } from "../ops/server_control.ts";
import { waitBranchReady } from "../ops/branch_container.ts";
import { allocatePort } from "../ops/ports.ts";
import {
  planPointInTime,
  type ReachedPoint,
  restartPromoted,
  waitPromoted,
} from "../ops/pitr_plan.ts";
import { writeRecoveryPlan } from "../ops/wal_archive.ts";
import { describeTarget, type PitrTarget, type RecoveryPlan } from "../domain/wal_archive.ts";
import { assertNoServer } from "../ops/data_holders.ts";
import { markRunning, markStopped } from "../domain/lifecycle.ts";
import { Phases, type PhaseTimings } from "../runtime/phases.ts";

/** Options of `branch reset`. */
export interface ResetOptions {
  /** Reset to this snapshot instead of the branch's origin. */
  to?: string;
  /** Reset to a new snapshot of the parent's current state. */
  parent?: boolean;
  /** Also destroy its named snapshots and the branches made from its snapshots. */
  force?: boolean;
  /** Reset to its parent as it was at this moment, replayed from the parent's archive. */
  at?: PitrTarget;
}

/** What a reset did. */
export interface BranchResetResult {
  branch: BranchRecord;
  /** The snapshot the branch now starts from. */
  snapshot: string;
  /** Branches made from its snapshots, deleted with `--force`. */
  removedBranches: string[];
  /** Its snapshots (and theirs), destroyed with the old data; an unused old origin too. */
  removedSnapshots: string[];
  timings: PhaseTimings;
  /** With `at`: the moment the branch reached (see `branch create --at`). */
  reached?: ReachedPoint;
}

/** How far a reset got (recorded before each step, for its clean-up). */
interface Progress {
  /** The branch was marked resetting: clean-up must undo or finish. */
  marked?: boolean;
  /** The old data is destroyed (or rolled back in place): clean-up finishes, never undoes. */
  oldGone?: boolean;
  /** The automatic snapshot a `--parent` reset set out to take. */
  autoSnapshot?: string;
  /** How the branch ran before (an undo returns it there, marked or not). */
  before?: HowItRuns;
  /** The end of the old server, under way from before the mark. */
  ending?: Promise<void>;
}

/** Branch reset workflow. */
export class ResetService {
  constructor(private readonly ctx: Context) {}

  /**
   * Resets branch `name`. Refused for the default branch (it has no origin: it is the
   * data every other branch comes from), a protected branch, a branch busy with another
   * operation, and, without `force`, one holding named snapshots or whose snapshots other
   * branches depend on. On failure or Ctrl-C the branch is put back as it was.
   */
  async reset(name: string, options: ResetOptions = {}): Promise<BranchResetResult> {
    this.validate(name, options);
    const run: ResetRun = { name, options, progress: {}, phases: new Phases() };
    try {
      return await withLock(this.ctx.layout, async () => {
        if (options.at) await this.planAt(run, options.at);
        const plan = await this.plan(run);
        if (plan.kind === "rollback") return await this.rollBack(run, plan);
        const how = await this.mark(run, plan);
        const made = await this.make(run, plan, how);
        const removed = await this.swap(run, plan, made);
        return await this.finish(run, plan, made, removed);
      });
    } catch (error) {
      const { progress } = run;
      if (progress.marked || progress.ending) await shielded(() => this.cleanUp(run));
      // past the point of no return the clean-up finished the reset: never say it undid it
      throw rolledBack(error, progress.oldGone ? "finished it (its old data was gone)" : undefined);
    }
  }

  private validate(name: string, options: ResetOptions): void {
    validateBranchName(name, this.ctx.config.branchNamingPattern);
    if (options.to !== undefined) validateSnapshotName(options.to);
    if (options.at !== undefined && (options.to !== undefined || options.parent)) {
      throw new UsageError("--at cannot be combined with --to or --parent", {
        hint: "--at picks the parent's snapshot itself",
      });
    }
    if (options.to !== undefined && options.parent) {
      throw new UsageError("--to and --parent cannot be used together", {
        hint: "pick one: a snapshot (--to) or the parent's current state (--parent)",
      });
    }
  }

  /**
   * Reads the inventory and decides how the branch is reset: in place (to one of its own
   * snapshots, or to its origin through its birth snapshot) or by a clone swap. The
   * branch's state, protection, losses and target are refused here, before anything changes.
   */
  private async plan(run: ResetRun): Promise<ResetPlan> {
    const { name, options } = run;
    const inventory = await loadInitializedInventory(this.ctx, "branch reset");
    const branch = findBranch(inventory, name);
    const to = options.to === undefined ? undefined : findSnapshot(inventory, options.to);
    const own = inventory.snapshots.filter((s) => s.branch === name);
    if (to?.branch === name) {
      this.assertResettable(inventory, branch, { ownSnapshot: true });
      const later = own.slice(own.findIndex((s) => s.zfsName === to.zfsName) + 1);
      return planInPlace(inventory, branch, options, {
        rollTo: to.zfsName,
        target: to,
        later,
        hint:
          `delete them first, or use --force to throw them away with its changes since '${to.name}'`,
      });
    }
    this.assertResettable(inventory, branch);
    const origin = originOf(inventory, branch);
    if (
      !options.parent && !run.recovery && branch.birth && origin &&
      (to === undefined || to.zfsName === origin.zfsName)
    ) {
      // back to its origin: its birth snapshot holds exactly that, roll back in place
      return planInPlace(inventory, branch, options, {
        rollTo: branch.birth,
        target: origin,
        later: own,
        hint: "delete or move them first, or use --force to throw them away with its changes",
      });
    }
    return this.planSwap(inventory, branch, own, options);
  }

  /** A clone swap: what it loses with the branch's data, and its target (unless `--parent`). */
  private planSwap(
    inventory: Inventory,
    branch: BranchRecord,
    own: SnapshotRecord[],
    options: ResetOptions,
  ): SwapPlan {
    const losses = planLosses(inventory, {
      snapshots: own,
      branch,
      dependentsGo: "deleted (it depends on a snapshot of the branch being reset)",
      releaseRemoteBases: options.force,
      refuse: options.force ? undefined : {
        branch: branch.name,
        verb: "reset",
        hint: "delete or move them first, or use --force to throw them away with its changes",
      },
    });
    const lost = new Set([branch.name, ...losses.dependents.map((b) => b.name)]);
    const chosen = options.parent ? undefined : this.chosenTarget(inventory, branch, options, lost);
    return { kind: "swap", inventory, branch, losses, lost, chosen };
  }

  /**
   * A point-in-time reset: the base snapshot of the branch's parent for `target` becomes
   * the reset's `to`, and the recovery is kept for the branch's first start. A target
   * outside the parent's window is refused before anything changes.
   */
  private async planAt(run: ResetRun, target: PitrTarget): Promise<void> {
    const inventory = await loadInitializedInventory(this.ctx, "branch reset");
    const branch = findBranch(inventory, run.name);
    const parent = inventory.branches.find((b) => b.name === branch.parent);
    if (!parent) {
      throw new StateError(`branch '${run.name}' has no parent branch to replay`, {
        hint: "reset it --to a snapshot instead",
      });
    }
    const { base, plan } = await planPointInTime(this.ctx, parent, inventory.snapshots, target);
    log.info(
      `branch '${run.name}': replaying from snapshot '${base}' to ${describeTarget(target)}`,
    );
    run.options = { ...run.options, to: base };
    run.recovery = plan;
  }

  /**
   * Marks the branch resetting while its old server ends (its container removed; `make`
   * awaits the end with its clone): nothing it serves is kept. Its container is the one the
   * plan read (the lock is held).
   */
  private async mark(run: ResetRun, { branch }: SwapPlan): Promise<HowItRuns> {
    const container = branch.container;
    const { resume, port } = await this.markWhileEnding(
      branch,
      run.progress,
      container ? () => this.ctx.runtime.remove(container.name) : undefined,
    );
    faultPoint("branch.reset.after-mark");
    return { resume, port };
  }

  /**
   * Makes the new data beside the branch: a clone of the target (for `--parent`, a new
   * snapshot of the parent, taken now) and its birth snapshot, once the old server ended.
   */
  private async make(run: ResetRun, plan: SwapPlan, how: HowItRuns): Promise<Made> {
    const { ctx } = this;
    const { inventory, branch } = plan;
    const dataset = ctx.layout.resetDataset(run.name, "new");
    const target = await run.phases.time(
      "snapshot",
      async () => plan.chosen ?? await this.parentSnapshot(inventory, branch, run.progress),
    );
    await run.phases.time("clone", async () => {
      await settleAll([
        ctx.zfs.clone(target.zfsName, dataset, {
          mountpoint: "none",
          ...this.carriedProps(branch, target, how.port),
          ...markResetting(how.resume),
        }),
        run.progress.ending,
      ]);
      // its birth: the next reset to this origin rolls back in place
      await ctx.zfs.snapshot(ctx.layout.birthSnapshot(dataset));
    });
    faultPoint("branch.reset.after-clone");
    throwIfInterrupted();
    return { ...how, target };
  }

  /**
   * Destroys what goes with the old data (branches made from its snapshots), swaps the new
   * clone in (the old one kept aside, see src/ops/reset_swap.ts) and starts the branch's
   * server on it when it ran.
   */
  private async swap(run: ResetRun, plan: SwapPlan, made: Made): Promise<Removed> {
    const { ctx } = this;
    const { inventory, branch, losses } = plan;
    const branches = await destroyLosses(ctx, losses);
    const snapshots = snapshotNamesOf(inventory, [...losses.dependents, branch]);
    await swapIn(ctx, run.name);
    faultPoint("branch.reset.after-swap");
    throwIfInterrupted();
    if (run.recovery) writeRecoveryPlan(ctx, run.name, run.recovery);
    await run.phases.time("ready", async () => {
      // a point-in-time reset replays now, also for a stopped branch (which it leaves stopped)
      if (made.resume === "running" || run.recovery) {
        const port = made.port ?? branch.port ?? allocatePort(ctx, inventory, run.name);
        const container = await startRequested(ctx, run.name, port, {
          port: made.port,
          runtime: branch.runtime,
        });
        if (run.recovery) {
          const started = { container, port };
          try {
            run.reached = await waitPromoted(ctx, run.name, container);
            await restartPromoted(ctx, run.name, started, made.resume === "running");
          } catch (error) {
            // the clean-up puts the old data back: no server may stay on the new one
            await shielded(() => ctx.runtime.remove(started.container)).catch(() => {});
            throw error;
          }
        }
      }
    });
    throwIfInterrupted();
    return { branches, snapshots };
  }

  /**
   * Past the point of no return: destroys the old data, records how the branch runs on the
   * new one, drops an old origin nothing needs any more, and says what the reset did.
   */
  private async finish(
    run: ResetRun,
    plan: SwapPlan,
    made: Made,
    removed: Removed,
  ): Promise<BranchResetResult> {
    const { ctx } = this;
    const { branch } = plan;
    // the point of no return: from here clean-up finishes the reset
    run.progress.oldGone = true;
    await ctx.zfs.destroy(ctx.layout.resetDataset(run.name, "old"), { recursive: true });
    faultPoint("branch.reset.after-destroy-old");
    await ctx.zfs.inherit(branch.dataset, PROPS.resetOf);
    await record(ctx, branch.dataset, made.resume === "running" ? markRunning() : markStopped());
    const dropped = await this.dropOldOrigin(plan.inventory, branch, made.target, plan.lost);
    if (dropped) removed.snapshots.push(dropped);
    run.phases.total();
    log.info(`branch '${run.name}' reset to snapshot '${made.target.name}'`);
    return await this.outcome(run, made.target, removed);
  }

  private assertResettable(
    inventory: Inventory,
    branch: BranchRecord,
    { ownSnapshot = false } = {},
  ): void {
    if (branch.isDefault && !ownSnapshot) {
      throw new StateError(
        `branch '${branch.name}' is the default branch: it has no origin or parent to reset to`,
        {
          hint:
            `reset it --to one of its own snapshots (e.g. a pre-merge-… one), or reset a branch made from it`,
        },
      );
    }
    if (isInFlight(branch) && operationAlive(branch.operationPid)) throw inFlightError(branch);
    if (isInFlight(branch) && branch.state !== "resetting") {
      throw new StateError(
        `branch '${branch.name}' has an unfinished ${branch.state.replace(/ing$/, "e")}`,
        {
          hint: "run 'zvpg status health --repair' to finish or undo it first",
        },
      );
    }
    assertNoUnfinishedReset(inventory, branch);
    assertOwnEngine(this.ctx.runtime.flavor, branch);
    assertNotProtected(branch, "reset");
  }

  /**
   * A reset in place: to one of the branch's own snapshots (the default branch included:
   * this is how a merge is undone with its `pre-merge-…` snapshot), or to its origin
   * through its birth snapshot. The server stops inside its container (or the container
   * ends, when it cannot), the dataset is rolled back to `plan.rollTo`, and the server
   * starts again on its port. The branch's snapshots after that point (`plan.later`) go
   * with the changes: named ones and branches made from them only with `--force`, named
   * as delete names them; those before it, and the branches made from them, stay.
   */
  private async rollBack(run: ResetRun, plan: RollbackPlan): Promise<BranchResetResult> {
    const { branch } = plan;
    const rolled = await run.phases.time("clone", () => this.rollBackData(run, plan));
    faultPoint("branch.reset.after-rollback");
    await this.restartInPlace(run, branch, rolled);
    run.phases.total();
    log.info(`branch '${branch.name}' reset to snapshot '${plan.target.name}' in place`);
    // the same container serves on (a paused server), or none (a stopped branch): no
    // engine listing is needed to say so
    const kept = rolled.paused && branch.container;
    const known = kept ? [kept] : rolled.resume === "stopped" ? [] : undefined;
    return await this.outcome(run, plan.target, rolled.removed, known);
  }

  /**
   * Marks the reset while the server ends, destroys the snapshots after `plan.rollTo` and
   * what goes with them, and rolls the dataset back: the point of no return.
   */
  private async rollBackData(run: ResetRun, plan: RollbackPlan): Promise<RolledBack> {
    const { ctx } = this;
    const { branch, later, losses } = plan;
    // the server ends while the reset is marked (clean-up replaces a container left
    // serving nothing)
    const { resume, port, ending } = await this.markWhileEnding(
      branch,
      run.progress,
      (resume) => this.endServer(branch, resume),
    );
    const branches = await destroyLosses(ctx, losses);
    const snapshots = [...losses.removedSnapshots, ...later.map((s) => s.name)];
    for (const s of [...later].reverse()) await ctx.zfs.destroy(s.zfsName);
    const paused = await ending;
    faultPoint("branch.reset.before-rollback");
    throwIfInterrupted();
    // never under a server: one may have come back meanwhile (an engine restarted)
    assertNoServer(branch.name, ctx.layout.pgdata(branch.name));
    await rollBackOnce(ctx, plan.rollTo);
    // the point of no return: the changes are gone, clean-up finishes (restarts what is there)
    run.progress.oldGone = true;
    throwIfInterrupted();
    return { resume, port, paused, removed: { branches, snapshots } };
  }

  /**
   * Runs the branch again as it ran, on its rolled-back data (a paused server resumes in
   * its container; else a container starts, when it ran), and records it so.
   */
  private async restartInPlace(
    run: ResetRun,
    branch: BranchRecord,
    { resume, port, paused }: RolledBack,
  ): Promise<void> {
    const { ctx } = this;
    const done = () =>
      record(ctx, branch.dataset, {
        ...(resume === "running" ? markRunning() : markStopped()),
        ...(branch.ttlSeconds ? { [PROPS.expires]: restartedExpiry(ctx, branch.ttlSeconds) } : {}),
      });
    if (resume === "running" && paused) {
      await run.phases.time("ready", () => {
        resumeServer(ctx, branch.name, paused.server);
        // the data is final and its server started in its container: the record that says
        // so is made while the server starts (a failure to answer still goes to clean-up)
        return settleAll([waitBranchReady(ctx, branch.name, paused.container, port!), done()]);
      });
      return;
    }
    await run.phases.time("ready", async () => {
      if (resume === "running") {
        await startRequested(ctx, branch.name, port!, { port, runtime: branch.runtime });
      }
    });
    await done();
  }

  /**
   * Starts ending the branch's server with `end` (given how it is to run again) and, beside
   * it, records the reset's intent: from here a crash leaves a branch repair can undo or
   * finish. How the branch runs now is kept for clean-up first, even should the mark fail;
   * the end is awaited by the caller and by clean-up.
   */
  private async markWhileEnding<T>(
    branch: BranchRecord,
    progress: Progress,
    end: ((resume: Resume) => Promise<T>) | undefined,
  ): Promise<HowItRuns & { ending?: Promise<T> }> {
    const { resume, port } = howItRuns(branch);
    progress.before = { resume, port };
    const ending = end?.(resume);
    if (ending) {
      progress.ending = ending.then(() => {});
      progress.ending.catch(() => {});
    }
    await record(this.ctx, branch.dataset, {
      ...markResetting(resume),
      ...livePort(branch, port),
    });
    progress.marked = true;
    return { resume, port, ending };
  }

  /**
   * Ends the branch's server before its data is rolled back: stopped inside its running
   * container when the branch is to run again (no engine call; the container, port and
   * mounts stay), else, or when that fails, its container removed. Resolves to the
   * paused server, if that is how it ended.
   */
  private async endServer(branch: BranchRecord, resume: Resume): Promise<Paused | undefined> {
    const container = branch.container;
    if (!container) return undefined;
    if (resume === "running" && container.state === "running") {
      const server = await pauseServer(this.ctx, branch.name);
      if (server) return { server, container: container.name };
    }
    await this.ctx.runtime.remove(container.name);
    return undefined;
  }

  /** What a reset did, with the branch as it is now (read once, after the reset). */
  private async outcome(
    run: ResetRun,
    target: SnapshotRecord,
    removed: Removed,
    known?: ContainerInfo[],
  ): Promise<BranchResetResult> {
    return {
      branch: await loadBranch(this.ctx, "branch reset", run.name, { known }),
      snapshot: target.name,
      removedBranches: removed.branches,
      removedSnapshots: removed.snapshots,
      timings: run.phases.done(),
      ...(run.reached ? { reached: run.reached } : {}),
    };
  }

  /**
   * The snapshot the branch is reset to: `--to`, or its origin. Never one the reset
   * destroys (`lost` branches' snapshots).
   */
  private chosenTarget(
    inventory: Inventory,
    branch: BranchRecord,
    options: ResetOptions,
    lost: Set<string>,
  ): SnapshotRecord {
    if (options.to !== undefined) {
      const snapshot = findSnapshot(inventory, options.to);
      if (lost.has(snapshot.branch)) {
        throw new UsageError(
          `snapshot '${options.to}' belongs to branch '${snapshot.branch}', which this reset throws away`,
          {
            hint:
              `to go back to it, make a new branch: 'zvpg branch create <name> --from ${options.to}'`,
          },
        );
      }
      return snapshot;
    }
    const origin = originOf(inventory, branch);
    if (!origin) {
      throw new StateError(`branch '${branch.name}' has no origin snapshot to reset to`, {
        hint: "reset it --to a snapshot, or --parent",
      });
    }
    return origin;
  }

  /** A new automatic snapshot of the branch's parent's current state (`--parent`). */
  private async parentSnapshot(
    inventory: Inventory,
    branch: BranchRecord,
    progress: Progress,
  ): Promise<SnapshotRecord> {
    if (branch.parent === null) throw new StateError(`branch '${branch.name}' has no parent`);
    const parent = findBranch(inventory, branch.parent);
    if (isInFlight(parent)) throw inFlightError(parent);
    return await takeAutoSnapshot(
      this.ctx,
      await loadNameClaims(this.ctx, inventory),
      parent,
      {
        forBranch: branch.name,
        purpose: `reset of branch '${branch.name}'`,
        intent: (zfsName) => progress.autoSnapshot = zfsName,
      },
    );
  }

  /** The branch's own properties the new clone keeps (a TTL restarts). */
  private carriedProps(
    branch: BranchRecord,
    target: SnapshotRecord,
    port: number | null,
  ): Record<string, string> {
    const props: Record<string, string> = {
      [PROPS.branch]: branch.name,
      [PROPS.resetOf]: branch.name,
      [PROPS.parent]: target.branch,
      [PROPS.created]: branch.created.toISOString(),
    };
    if (port !== null) props[PROPS.port] = String(port);
    if (branch.runtime !== null) props[PROPS.runtime] = branch.runtime;
    // the new data is the target's: masked when it is (docs/masking.md)
    if (target.masked) props[PROPS.masked] = target.masked;
    if (branch.ttlSeconds) {
      props[PROPS.ttl] = String(branch.ttlSeconds);
      props[PROPS.expires] = restartedExpiry(this.ctx, branch.ttlSeconds);
    } else if (branch.expiresAt) {
      props[PROPS.expires] = branch.expiresAt.toISOString();
    }
    return props;
  }

  /**
   * Destroys the branch's old origin when zvpg took it for itself and the reset moved the
   * branch off it with nothing else depending on it. Returns its name.
   */
  private async dropOldOrigin(
    inventory: Inventory,
    branch: BranchRecord,
    target: SnapshotRecord,
    lost: Set<string>,
  ): Promise<string | undefined> {
    const old = originOf(inventory, branch);
    if (!old?.auto || old.zfsName === target.zfsName) return undefined;
    if (old.dependents.some((d) => !lost.has(d))) return undefined;
    // the base of a push stays: gc takes it once a push moved the base on
    if (old.remotes?.length) return undefined;
    await this.ctx.zfs.destroy(old.zfsName).catch((e) => log.warn(String(e.message)));
    return old.name;
  }

  /** Undoes the reset (or finishes it past the point of no return) after a failure. */
  private async cleanUp({ name, progress }: ResetRun): Promise<void> {
    const { ctx } = this;
    await progress.ending?.catch(() => {});
    await withLock(ctx.layout, async () => {
      if (progress.oldGone) {
        log.warn(`branch reset failed after its old data was thrown away: finishing '${name}'`);
        await finishReset(ctx, name);
        return;
      }
      log.warn(`branch reset failed: putting '${name}' back as it was`);
      await undoReset(ctx, name, progress.before);
      const auto = progress.autoSnapshot;
      if (auto && await ctx.zfs.exists(auto).catch(() => false)) {
        await ctx.zfs.destroy(auto).catch((e) => log.error(String(e.message)));
      }
    }).catch((e) =>
      log.error(
        `could not clean up the reset of '${name}': ${e.message}; run 'zvpg status health --repair'`,
      )
    );
  }
}

/**
 * `zfs rollback` to `snapshot`, done when it returns. A rollback is atomic, but a Ctrl-C
 * stops the `zfs` program (the terminal signals it too) without saying whether the
 * rollback happened: an interrupted one is run again, shielded (rolling back to the same
 * snapshot twice changes nothing), and the caller's interrupt check then finishes the
 * reset. Clean-up never undoes a reset whose data may be gone.
 */
async function rollBackOnce(ctx: Context, snapshot: string): Promise<void> {
  // the last check before the point of no return, once received signals are delivered
  await throwIfInterruptedNow();
  try {
    await ctx.zfs.rollback(snapshot);
  } catch (error) {
    if (!(error instanceof InterruptedError)) throw error;
    // zfs-fuse goes on with a rollback whose program was stopped, and refuses another one
    // meanwhile ("dataset already exists"): tried again until it is through
    const deadline = Date.now() + ROLLBACK_RETRY_MS;
    for (;;) {
      try {
        return await shielded(() => ctx.zfs.rollback(snapshot));
      } catch (again) {
        if (Date.now() > deadline) throw again;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

/** How long an interrupted rollback is tried again (see {@link rollBackOnce}). */
const ROLLBACK_RETRY_MS = 5_000;

/** The snapshot the branch was cloned from, if it is one of zvpg's. */
function originOf(inventory: Inventory, branch: BranchRecord): SnapshotRecord | undefined {
  return inventory.snapshots.find((s) => s.dependents.includes(branch.name));
}

/** One reset under way: what was asked, how far it got (for its clean-up), its timings. */
interface ResetRun {
  /** A point-in-time reset's recovery (`--at`). */
  recovery?: RecoveryPlan;
  /** The moment a point-in-time reset reached. */
  reached?: ReachedPoint;
  readonly name: string;
  options: ResetOptions;
  readonly progress: Progress;
  readonly phases: Phases;
}

/** How a reset goes, decided under the lock before anything changes. */
type ResetPlan = RollbackPlan | SwapPlan;

/** A reset in place (see `ResetService.rollBack`). */
interface RollbackPlan {
  kind: "rollback";
  branch: BranchRecord;
  /** The ZFS snapshot the dataset is rolled back to. */
  rollTo: string;
  /** The snapshot the branch is then at, as the user knows it. */
  target: SnapshotRecord;
  /** The branch's own snapshots after `rollTo`: they go with the changes. */
  later: SnapshotRecord[];
  /** What goes with `later` (allowed: refused without `--force` when named or depended on). */
  losses: LossPlan;
}

/** A clone swap: the branch's data replaced by a new clone of the target. */
interface SwapPlan {
  kind: "swap";
  inventory: Inventory;
  branch: BranchRecord;
  /** What goes with the branch's data (allowed, as for a rollback). */
  losses: LossPlan;
  /** The branches the reset throws away: this one and its dependents. */
  lost: Set<string>;
  /** The snapshot to reset to; none for `--parent`, whose snapshot is taken once marked. */
  chosen?: SnapshotRecord;
}

/** Whether the branch is to run after the reset. */
type Resume = "running" | "stopped";

/** How the branch runs, which a reset returns it to. */
interface HowItRuns {
  resume: Resume;
  port: number | null;
}

/** The new data of a clone swap, and how the branch is to run on it. */
interface Made extends HowItRuns {
  target: SnapshotRecord;
}

/** What a reset destroyed beyond the branch's own data. */
interface Removed {
  /** Branches made from its snapshots. */
  branches: string[];
  /** Its snapshots (and theirs); an unused old origin too. */
  snapshots: string[];
}

/** A server stopped inside its container, to start again there. */
interface Paused {
  server: PausedServer;
  container: string;
}

/** Where an in-place reset left the branch: its data rolled back, its server ended. */
interface RolledBack extends HowItRuns {
  paused: Paused | undefined;
  removed: Removed;
}

/**
 * A reset in place to `at.rollTo`, with what goes with the snapshots it throws away
 * (refused without `--force`, saying `at.hint`).
 */
function planInPlace(
  inventory: Inventory,
  branch: BranchRecord,
  options: ResetOptions,
  at: { rollTo: string; target: SnapshotRecord; later: SnapshotRecord[]; hint: string },
): RollbackPlan {
  const losses = planLosses(inventory, {
    snapshots: at.later,
    dependentsGo: "deleted (it depends on a snapshot the reset throws away)",
    releaseRemoteBases: options.force,
    refuse: options.force ? undefined : { branch: branch.name, verb: "reset", hint: at.hint },
  });
  const { rollTo, target, later } = at;
  return { kind: "rollback", branch, rollTo, target, later, losses };
}

/**
 * How the branch runs now, which a reset returns it to: a running one on the port it
 * serves (the one its URI names, also when a start killed before recording it left another
 * port recorded), a stopped one with the port it last ran on.
 */
function howItRuns(branch: BranchRecord): HowItRuns {
  const resume = branch.status === "running" ? "running" : "stopped";
  const port = resume === "running" ? servedPort(branch) : branch.lastPort;
  if (resume === "running" && port === null) {
    throw new StateError(`branch '${branch.name}' runs on no recorded port`);
  }
  return { resume, port };
}

/**
 * The port to record (and claim) with the reset's mark when the branch serves on another
 * one than it records, or runs while recorded otherwise (a start killed before it recorded
 * its port, a stop killed after its mark released the claim): an undo, by this process or
 * by repair, restarts it there, and the claims index holds it. None else.
 */
function livePort(branch: BranchRecord, port: number | null): Record<string, string> {
  if (port === null) return {};
  const recorded = port === branch.lastPort &&
    (branch.status !== "running" || branch.state === "running");
  return recorded ? {} : { [PROPS.port]: String(port) };
}

/** The expiry of a branch whose TTL restarts now (a reset restarts it). */
function restartedExpiry(ctx: Context, ttlSeconds: number): string {
  return expiryFromTtl(ctx.now(), ttlSeconds).expiresAt.toISOString();
}
