/**
 * Branches: each a ZFS clone of a snapshot, served by its own PostgreSQL container.
 *
 * @module
 */
import { ensureTreeMounted } from "../ops/mounts.ts";
import { assertNotBusy, inFlightAlive } from "../ops/operation_alive.ts";
import { rmSync } from "node:fs";
import { BranchExistsError, StateError, UsageError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName, validateSnapshotName } from "../domain/names.ts";
import { branchContainers, stopBranchContainer, waitBranchReady } from "../ops/branch_container.ts";
import { destroyBranch, destroyLosses, destroyUnusedAutoSnapshot } from "../ops/branch_removal.ts";
import { planLosses } from "../domain/losses.ts";
import type { Context } from "../runtime/context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { rolledBack, shielded, throwIfInterrupted } from "../runtime/interrupt.ts";
import {
  claimPort,
  loadInitializedInventory,
  record,
  releaseSnapshotNames,
} from "../ops/inventory_store.ts";
import { type BranchRecord, findBranch, type SnapshotRecord } from "../domain/inventory.ts";
import {
  type BranchScope,
  findSnapshotNamed,
  loadBranchScope,
  portView,
  scopeBranch,
  snapshotNames,
} from "../ops/inventory_store.ts";
import { PROPS } from "../domain/layout.ts";
import { branchProps, expiryProps } from "../domain/metadata_props.ts";
import type { Expiry } from "../domain/duration.ts";
import {
  assertNotProtected,
  assertNoUnfinishedReset,
  assertOwnEngine,
  inFlightError,
  isInFlight,
  markCreating,
  markRunning,
  markStopped,
} from "../domain/lifecycle.ts";
import { withLock } from "../runtime/lock.ts";
import { allocatePort, checkRequestedPort, type PortView } from "../ops/ports.ts";
import { snapshotBranch, takeAutoSnapshot } from "../ops/take_snapshot.ts";
import { startOnPort, type StartOnPortOptions } from "../ops/start_on_port.ts";

/** Options of `branch create`. */
export interface CreateBranchOptions {
  from?: string;
  parent?: string;
  port?: number;
  /** Extra ZFS properties set on the clone when it is made (e.g. {@link TEMPORARY_PROP}). */
  props?: Record<string, string>;
  /** When it expires (`--ttl`, `--expires-at`): `zvpg gc` deletes it after that. */
  expiry?: Expiry;
}

/** Time spent in each phase of a create or start, in milliseconds. */
export type PhaseTimings = Record<string, number>;

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

/** Branch workflows. */
export class BranchService {
  /** Phase timings of the last create/start. */
  readonly timings: PhaseTimings = {};

  constructor(private readonly ctx: Context) {}

  /**
   * Creates a branch from a snapshot and starts its PostgreSQL. On Ctrl-C it stops the
   * step under way and removes what it made (see src/runtime/interrupt.ts).
   */
  async create(name: string, options: CreateBranchOptions = {}): Promise<BranchRecord> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    if (options.from !== undefined) validateSnapshotName(options.from);
    if (options.parent !== undefined) {
      validateBranchName(options.parent, ctx.config.branchNamingPattern);
    }
    const made: Made = {};
    let started: { container: string; port: number };
    const t0 = performance.now();
    try {
      started = await withLock(ctx.layout, async () => {
        let scope = await this.createScope(name, options);
        const leftover = scope.branches.find((b) => b.name === name);
        if (leftover?.state === "creating" && !inFlightAlive(leftover)) {
          log.warn(`rolling back an interrupted create of branch '${name}'`);
          await destroyBranch(ctx, leftover);
          scope = await this.createScope(name, options);
        }
        if (scope.branches.some((b) => b.name === name)) {
          throw new BranchExistsError(`branch '${name}' already exists`, {
            hint:
              "pick another name, delete it first with 'zvpg branch delete', or use --if-not-exists",
          });
        }
        const t1 = performance.now();
        const origin = await this.resolveOrigin(scope, name, options, made);
        this.timings.snapshot = performance.now() - t1;
        const ports = portView(scope);
        const port = options.port ?? allocatePort(ctx, ports, name);
        if (options.port !== undefined) checkRequestedPort(ctx, ports, options.port, name);
        const dataset = ctx.layout.branchDataset(name);
        const t2 = performance.now();
        // the clone mounts below the clones dataset: never into the directory under it
        await ensureTreeMounted(ctx);
        // Record the intent first: a clone stopped by a signal may or may not have made it;
        // the port is claimed before the clone records it
        made.cloning = dataset;
        await claimPort(ctx, dataset, port);
        await ctx.zfs.clone(origin.zfsName, dataset, {
          ...branchProps(ctx.layout, name, origin.branch, ctx.now()),
          ...(options.expiry ? expiryProps(options.expiry) : {}),
          ...options.props,
          ...markCreating(port),
          // the engine that will serve it: a start on this port records nothing more
          [PROPS.runtime]: ctx.runtime.flavor,
        });
        made.dataset = dataset;
        // its data as its origin had it, before any server wrote: a reset rolls back to it
        await ctx.zfs.snapshot(ctx.layout.birthSnapshot(dataset));
        this.timings.clone = performance.now() - t2;
        faultPoint("branch.create.after-clone");
        throwIfInterrupted();
        log.info(`branch '${name}' cloned from snapshot '${origin.name}'`);
        return await this.runWithRetries(ports, name, port, options.port !== undefined, {
          port,
          runtime: ctx.runtime.flavor,
        });
      });
      const t3 = performance.now();
      await waitBranchReady(ctx, name, started.container, started.port);
      this.timings.ready = performance.now() - t3;
      faultPoint("branch.create.before-mark-running");
      throwIfInterrupted();
      await record(ctx, made.dataset!, markRunning());
      this.timings.total = performance.now() - t0;
      log.info(`branch '${name}' is ready on port ${started.port}`);
      // inside: a create interrupted before it returns leaves nothing, whatever the step
      return await this.info(name);
    } catch (error) {
      await shielded(() => this.rollbackCreate(name, made));
      throw rolledBack(error);
    }
  }

  /**
   * Starts the PostgreSQL container of a stopped branch. On Ctrl-C it removes the
   * container it started; the branch stays stopped.
   */
  async start(name: string, options: { port?: number } = {}): Promise<BranchRecord> {
    const { ctx } = this;
    validateBranchName(name, ctx.config.branchNamingPattern);
    let running = false;
    let marked = false;
    let started: { container: string; port: number };
    try {
      started = await withLock(ctx.layout, async () => {
        const scope = await loadBranchScope(ctx, "branch start", [name], {
          containers: "pool",
          claims: true,
        });
        const branch = scopeBranch(scope, name);
        this.assertStartable(branch);
        if (branch.container) await ctx.runtime.remove(branch.container.name);
        const ports = portView(scope);
        if (options.port !== undefined) checkRequestedPort(ctx, ports, options.port, name);
        const port = options.port ??
          allocatePort(ctx, ports, name, { preferred: branch.lastPort });
        // from here on, any container of this branch is the one this start runs
        running = true;
        return await this.runWithRetries(ports, name, port, options.port !== undefined);
      });
      const t = performance.now();
      await waitBranchReady(ctx, name, started.container, started.port);
      this.timings.ready = performance.now() - t;
      marked = true;
      await record(ctx, ctx.layout.branchDataset(name), markRunning());
      log.info(`branch '${name}' is ready on port ${started.port}`);
      return await this.info(name);
    } catch (error) {
      if (!running) throw error;
      await shielded(() =>
        withLock(ctx.layout, async () => {
          await this.removeContainers(name);
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
      const scope = await loadBranchScope(ctx, "branch stop", [name], { containers: "branch" });
      const branch = scopeBranch(scope, name);
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
    const scope = await loadBranchScope(this.ctx, "branch info", [name], { containers: "branch" });
    return scopeBranch(scope, name);
  }

  /**
   * Deletes a branch: container, dataset and snapshots. Refused for the default branch, for
   * a branch another zvpg process is creating or deleting, and, without `force`, while it
   * holds snapshots someone named or other branches depend on its snapshots (naming them).
   * Its origin snapshot goes too when zvpg took it for this branch and nothing else uses it.
   */
  async delete(name: string, options: { force?: boolean } = {}): Promise<BranchDeleteResult> {
    const { ctx } = this;
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

  /** Snapshots a branch (`branch snapshot <branch> <snapshot>`). */
  snapshot(branch: string, snapshot: string, message?: string): Promise<SnapshotRecord> {
    validateBranchName(branch, this.ctx.config.branchNamingPattern);
    return snapshotBranch(this.ctx, snapshot, { branch, message });
  }

  /**
   * The snapshot a new branch is cloned from: `--from`, or else a new snapshot of the
   * parent's current state (after a CHECKPOINT when it runs), as `git branch` starts from
   * HEAD. zvpg marks that snapshot as its own; it goes with the last branch made from it.
   */
  private async resolveOrigin(
    scope: BranchScope,
    name: string,
    options: CreateBranchOptions,
    made: Made,
  ): Promise<SnapshotRecord> {
    if (options.from !== undefined) {
      const snapshot = await findSnapshotNamed(this.ctx, options.from, snapshotNames(scope));
      if (options.parent !== undefined && snapshot.branch !== options.parent) {
        throw new UsageError(
          `snapshot '${options.from}' belongs to branch '${snapshot.branch}', not '${options.parent}'`,
          { hint: "drop --parent, or pick a snapshot of that branch" },
        );
      }
      return snapshot;
    }
    const parent = scopeBranch(scope, options.parent ?? this.ctx.config.branchDefault);
    assertNotBusy(parent);
    return await takeAutoSnapshot(this.ctx, snapshotNames(scope), parent, {
      forBranch: name,
      purpose: `new branch '${name}'`,
      // recorded before it is taken: a `zfs snapshot` stopped by a signal may have made it
      intent: (zfsName) => made.autoSnapshot = zfsName,
    });
  }

  /**
   * What a create reads: the new branch (a leftover of an interrupted create), its parent
   * when it comes from the parent's current state, the claims index (ports and snapshot
   * names) and the pool's containers (ports; the parent's for its CHECKPOINT).
   */
  private createScope(name: string, options: CreateBranchOptions): Promise<BranchScope> {
    const parent = options.parent ??
      (options.from === undefined ? this.ctx.config.branchDefault : undefined);
    const names = parent === undefined ? [name] : [name, parent];
    return loadBranchScope(this.ctx, "branch create", names, { containers: "pool", claims: true });
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

  /** Runs the container, moving to another port when the chosen one is taken at bind time. */
  private async runWithRetries(
    ports: PortView,
    name: string,
    firstPort: number,
    portRequested: boolean,
    recorded?: StartOnPortOptions["recorded"],
  ): Promise<{ container: string; port: number }> {
    const t = performance.now();
    const started = await startOnPort(this.ctx, ports, name, firstPort, {
      requested: portRequested,
      recorded,
    });
    this.timings.container = performance.now() - t;
    return started;
  }

  /**
   * Removes whatever a failed create made: container, dataset, auto snapshot. It goes by
   * the recorded intent, not by which steps returned: a step stopped by a signal may or
   * may not have made its part, so what may exist is looked up.
   */
  private async rollbackCreate(name: string, made: Made) {
    const { ctx } = this;
    if (!made.cloning && !made.autoSnapshot) return;
    log.warn(`branch create failed: removing what it made for '${name}'`);
    await withLock(ctx.layout, async () => {
      await this.removeContainers(name);
      const dataset = made.dataset ?? (made.cloning && await this.clonedByUs(made.cloning));
      if (dataset) {
        await ctx.zfs.destroy(dataset, { recursive: true }).catch((e) =>
          log.error(String(e.message))
        );
      }
      if (made.autoSnapshot && await ctx.zfs.exists(made.autoSnapshot).catch(() => false)) {
        await ctx.zfs.destroy(made.autoSnapshot).catch((e) => log.error(String(e.message)));
      }
      rmSync(ctx.layout.runtimeDir(name), { recursive: true, force: true });
    });
  }

  /** Removes every container of a branch (the caller holds the lock). */
  private async removeContainers(name: string): Promise<void> {
    const containers = await branchContainers(this.ctx, name).catch(() => []);
    for (const c of containers) await this.ctx.runtime.remove(c.name).catch(() => {});
  }

  /** `dataset` when it exists and is marked as being created by this process. */
  private async clonedByUs(dataset: string): Promise<string | undefined> {
    const entries = await this.ctx.zfs.getTree([dataset], [PROPS.state, PROPS.pid]).catch(
      () => [],
    );
    const entry = entries.find((e) => e.name === dataset);
    const ours = entry?.props[PROPS.state] === "creating" &&
      entry.props[PROPS.pid] === String(Deno.pid);
    return ours ? dataset : undefined;
  }
}

/** What a create made, or set out to make (the intent is recorded before each step). */
interface Made {
  /** The dataset a `zfs clone` was started for. */
  cloning?: string;
  /** The dataset the clone made. */
  dataset?: string;
  /** The automatic snapshot a `zfs snapshot` was started for. */
  autoSnapshot?: string;
}
