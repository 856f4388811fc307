/**
 * Creating a branch: a ZFS clone of a snapshot (of `--from`, or a new one of the parent's
 * current state), served by its own PostgreSQL container. `branch create` and the
 * temporary branches of diff and merge make theirs with it. On failure or Ctrl-C it
 * removes what it made, going by the intent it recorded before each step.
 *
 * @module
 */
import { ensureTreeMounted } from "./mounts.ts";
import { assertNotBusy, inFlightAlive } from "./operation_alive.ts";
import { BranchExistsError, BranchNotFoundError, UsageError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName, validateSnapshotName } from "../domain/names.ts";
import { parsePulledName } from "../domain/remote_refs.ts";
import { setPoolPassword } from "./credentials.ts";
import { findPulledSnapshot } from "./store/load_pulled.ts";
import { branchContainers, removeRuntimeDir, waitBranchReady } from "./branch_container.ts";
import { destroyArchive, setArchive, writeRecoveryPlan } from "./wal_archive.ts";
import { type ReachedPoint, restartPromoted, waitPromoted } from "./pitr_plan.ts";
import type { RecoveryPlan } from "../domain/wal_archive.ts";
import { destroyBranch } from "./branch_removal.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { rolledBack, shielded, throwIfInterrupted } from "../runtime/interrupt.ts";
import { claimPort } from "./store/claims_index.ts";
import { type CreateScope, loadBranch, loadForCreate } from "./store/load_branch.ts";
import { record } from "./store/record.ts";
import type { BranchRecord, SnapshotRecord } from "../domain/inventory.ts";
import { PROPS } from "../domain/layout.ts";
import { branchProps, expiryProps } from "../domain/metadata_props.ts";
import type { Expiry } from "../domain/duration.ts";
import { markCreating, markRunning } from "../domain/lifecycle.ts";
import { withLock } from "../runtime/lock.ts";
import { allocatePort, checkRequestedPort, type PortView } from "./ports.ts";
import { takeAutoSnapshot } from "./take_snapshot.ts";
import { startOnPort, type StartOnPortOptions } from "./start_on_port.ts";
import { Phases } from "../runtime/phases.ts";

/** Options of `branch create`. */
export interface CreateBranchOptions {
  from?: string;
  parent?: string;
  port?: number;
  /** Extra ZFS properties set on the clone when it is made (e.g. {@link TEMPORARY_PROP}). */
  props?: Record<string, string>;
  /** When it expires (`--ttl`, `--expires-at`): `zvpg gc` deletes it after that. */
  expiry?: Expiry;
  /** Archive the new branch's WAL (`--archive`). */
  archive?: boolean;
  /**
   * A point-in-time branch (`--at`): the recovery its first start makes from its parent's
   * archive; `reached` is set to the moment it reached once it has promoted.
   */
  recovery?: { plan: RecoveryPlan; reached?: ReachedPoint };
}

/**
 * Creates a branch from a snapshot and starts its PostgreSQL. On Ctrl-C it stops the
 * step under way and removes what it made (see src/runtime/interrupt.ts). Its phases
 * (snapshot, clone, container, ready, total) go to `phases`.
 */
export async function createBranch(
  ctx: Context,
  name: string,
  options: CreateBranchOptions = {},
  phases: Phases = new Phases(),
): Promise<BranchRecord> {
  validateBranchName(name, ctx.config.branchNamingPattern);
  // `<remote>/<snapshot>` names a pulled snapshot; any other name a snapshot of this pool
  const pulled = options.from === undefined ? undefined : parsePulledName(options.from);
  if (options.from !== undefined && !pulled) validateSnapshotName(options.from);
  if (options.parent !== undefined) {
    validateBranchName(options.parent, ctx.config.branchNamingPattern);
  }
  const made: Made = {};
  try {
    // total: up to the record that says the branch runs, before it is read back
    const started = await phases.time("total", async () => {
      const started = await withLock(
        ctx.layout,
        () => cloneAndStart(ctx, name, options, phases, made),
      );
      await phases.time("ready", async () => {
        await waitBranchReady(ctx, name, started.container, started.port);
        if (options.recovery) {
          options.recovery.reached = await waitPromoted(ctx, name, started.container);
          await restartPromoted(ctx, name, started);
        }
        // a pulled data directory has the sender's password for zvpg's user: this pool's goes on
        if (pulled) {
          await setPoolPassword(ctx, name, started.container, `snapshot '${options.from}'`);
        }
      });
      faultPoint("branch.create.before-mark-running");
      throwIfInterrupted();
      await record(ctx, made.dataset!, markRunning());
      return started;
    });
    log.info(`branch '${name}' is ready on port ${started.port}`);
    // inside: a create interrupted before it returns leaves nothing, whatever the step
    return await loadBranch(ctx, "branch info", name);
  } catch (error) {
    await shielded(() => rollbackCreate(ctx, name, made));
    throw rolledBack(error);
  }
}

/**
 * Under the lock: clones the branch's origin and runs its container (its server may not
 * answer yet). What it sets out to make goes to `made` first.
 */
async function cloneAndStart(
  ctx: Context,
  name: string,
  options: CreateBranchOptions,
  phases: Phases,
  made: Made,
): Promise<{ container: string; port: number }> {
  const scope = await freeScope(ctx, name, options);
  const origin = await phases.time(
    "snapshot",
    () => resolveOrigin(ctx, scope, name, options, made),
  );
  const { ports } = scope;
  const port = options.port ?? allocatePort(ctx, ports, name);
  if (options.port !== undefined) checkRequestedPort(ctx, ports, options.port, name);
  const dataset = ctx.layout.branchDataset(name);
  await phases.time("clone", async () => {
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
      // made from masked data, it is masked data (docs/masking.md), and so are its snapshots
      ...(origin.masked ? { [PROPS.masked]: origin.masked } : {}),
    });
    made.dataset = dataset;
    // its data as its origin had it, before any server wrote: a reset rolls back to it
    await ctx.zfs.snapshot(ctx.layout.birthSnapshot(dataset));
    if (options.recovery) writeRecoveryPlan(ctx, name, options.recovery.plan);
    if (options.archive) await setArchive(ctx, name, true);
  });
  faultPoint("branch.create.after-clone");
  throwIfInterrupted();
  log.info(`branch '${name}' cloned from snapshot '${origin.name}'`);
  return await startWithRetries(ctx, phases, ports, name, port, options.port !== undefined, {
    port,
    runtime: ctx.runtime.flavor,
  });
}

/**
 * What a create reads ({@link createScope}) once the name is free: the leftover of an
 * interrupted create is rolled back first; a branch of that name is refused.
 */
async function freeScope(
  ctx: Context,
  name: string,
  options: CreateBranchOptions,
): Promise<CreateScope> {
  let scope = await createScope(ctx, name, options);
  const leftover = scope.branch;
  if (leftover?.state === "creating" && !inFlightAlive(leftover)) {
    log.warn(`rolling back an interrupted create of branch '${name}'`);
    await destroyBranch(ctx, leftover);
    scope = await createScope(ctx, name, options);
  }
  if (scope.branch) {
    throw new BranchExistsError(`branch '${name}' already exists`, {
      hint: "pick another name, delete it first with 'zvpg branch delete', or use --if-not-exists",
    });
  }
  return scope;
}

/**
 * The snapshot a new branch is cloned from: `--from`, or else a new snapshot of the
 * parent's current state (after a CHECKPOINT when it runs), as `git branch` starts from
 * HEAD. zvpg marks that snapshot as its own; it goes with the last branch made from it.
 */
async function resolveOrigin(
  ctx: Context,
  scope: CreateScope,
  name: string,
  options: CreateBranchOptions,
  made: Made,
): Promise<SnapshotRecord> {
  if (options.from !== undefined) {
    const pulled = parsePulledName(options.from);
    const snapshot = pulled
      ? await findPulledSnapshot(ctx, pulled.remote, pulled.snapshot)
      : await scope.names.find(options.from);
    if (options.parent !== undefined && snapshot.branch !== options.parent) {
      throw new UsageError(
        `snapshot '${options.from}' belongs to branch '${snapshot.branch}', not '${options.parent}'`,
        { hint: "drop --parent, or pick a snapshot of that branch" },
      );
    }
    return snapshot;
  }
  const parent = scope.parent;
  if (!parent) throw new BranchNotFoundError(options.parent ?? ctx.config.branchDefault);
  assertNotBusy(parent);
  return await takeAutoSnapshot(ctx, scope.names, parent, {
    forBranch: name,
    purpose: `new branch '${name}'`,
    // recorded before it is taken: a `zfs snapshot` stopped by a signal may have made it
    intent: (zfsName) => made.autoSnapshot = zfsName,
  });
}

/** What a create reads: the parent is read when asked for or snapshotted (no `--from`). */
function createScope(
  ctx: Context,
  name: string,
  options: CreateBranchOptions,
): Promise<CreateScope> {
  const parent = options.parent ??
    (options.from === undefined ? ctx.config.branchDefault : undefined);
  return loadForCreate(ctx, name, parent);
}

/**
 * Runs a branch's container, moving to another port when the chosen one is taken at bind
 * time (its time is the `container` phase).
 */
export function startWithRetries(
  ctx: Context,
  phases: Phases,
  ports: PortView,
  name: string,
  firstPort: number,
  portRequested: boolean,
  recorded?: StartOnPortOptions["recorded"],
): Promise<{ container: string; port: number }> {
  return phases.time("container", () =>
    startOnPort(ctx, ports, name, firstPort, {
      requested: portRequested,
      recorded,
    }));
}

/**
 * Removes whatever a failed create made: container, dataset, auto snapshot. It goes by
 * the recorded intent, not by which steps returned: a step stopped by a signal may or
 * may not have made its part, so what may exist is looked up.
 */
async function rollbackCreate(ctx: Context, name: string, made: Made) {
  if (!made.cloning && !made.autoSnapshot) return;
  log.warn(`branch create failed: removing what it made for '${name}'`);
  await withLock(ctx.layout, async () => {
    await removeBranchContainers(ctx, name);
    const dataset = made.dataset ?? (made.cloning && await clonedByUs(ctx, made.cloning));
    if (dataset) {
      await ctx.zfs.destroy(dataset, { recursive: true }).catch((e) =>
        log.error(String(e.message))
      );
    }
    if (made.autoSnapshot && await ctx.zfs.exists(made.autoSnapshot).catch(() => false)) {
      await ctx.zfs.destroy(made.autoSnapshot).catch((e) => log.error(String(e.message)));
    }
    await removeRuntimeDir(ctx, name).catch((e) => log.error(String(e.message)));
    await destroyArchive(ctx, name).catch((e) => log.error(String(e.message)));
  });
}

/** Removes every container of a branch (the caller holds the lock). */
export async function removeBranchContainers(ctx: Context, name: string): Promise<void> {
  const containers = await branchContainers(ctx, name).catch(() => []);
  for (const c of containers) await ctx.runtime.remove(c.name).catch(() => {});
}

/** `dataset` when it exists and is marked as being created by this process. */
async function clonedByUs(ctx: Context, dataset: string): Promise<string | undefined> {
  const entries = await ctx.zfs.getTree([dataset], [PROPS.state, PROPS.pid]).catch(
    () => [],
  );
  const entry = entries.find((e) => e.name === dataset);
  const ours = entry?.props[PROPS.state] === "creating" &&
    entry.props[PROPS.pid] === String(Deno.pid);
  return ours ? dataset : undefined;
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
