/**
 * `zvpg status`: one honest view of the whole system, and `status health --repair`.
 * Every listing is a constant number of external calls however many branches there are
 * (one zfs, one zpool, one runtime call); readiness probes run in parallel.
 *
 * @module
 */
import { operationAlive } from "../ops/operation_alive.ts";
import { inFlightAlive } from "../ops/operation_alive.ts";
import { type Dirent, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { PoolStatus } from "../adapters/zfs.ts";
import { ZvpgError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import type { Check } from "../domain/check.ts";
import { describeDrift, type Drift, findDrift, isWarning, takeOverDrift } from "../domain/drift.ts";
import { check, environmentChecks } from "../ops/environment_checks.ts";
import { loadClaims, rebuildIndex } from "../ops/store/claims_index.ts";
import { loadInventory } from "../ops/store/load_inventory.ts";
import { record } from "../ops/store/record.ts";
import { type ClaimIndex, indexDrift } from "../domain/claims.ts";
import { markStopped } from "../domain/lifecycle.ts";
import { planRepairs, type RepairStep } from "../domain/repair_plan.ts";
import { releaseRemotes } from "../ops/remote_holds.ts";
import { readTransferLeftovers, removeStreamFile } from "../ops/transfer_leftovers.ts";
import { finishReset, undoReset } from "../ops/reset_swap.ts";
import { VERSION } from "../version.ts";
import { execSql, stopBranchContainer } from "../ops/branch_container.ts";
import { destroyBranch } from "../ops/branch_removal.ts";
import type { Context } from "../context.ts";
import {
  type BranchRecord,
  type Inventory,
  servedPort,
  type SnapshotRecord,
} from "../domain/inventory.ts";
import type { Layout } from "../domain/layout.ts";
import type { TakeOver } from "../domain/datadir_adoption.ts";
import { withLock } from "../runtime/lock.ts";
import { claimedPort } from "../ops/ports.ts";
import { ensureMounted, type MountOutcome } from "../ops/mounts.ts";
import { startAndWait } from "../ops/start_on_port.ts";
import { findTakeOvers, undoTakeOver } from "../ops/datadir_adoption.ts";
import { existsSync } from "node:fs";
import { archiveCheck, type ArchiveInfo, archiveInfo } from "../ops/pitr_plan.ts";

/** `status system`. */
export interface SystemStatus {
  version: string;
  configFile: string;
  pool: PoolStatus | null;
  space: { main: number; branches: number; snapshots: number; total: number };
  branches: { total: number; running: number; stopped: number; other: number };
  snapshots: number;
  runtime: { name: string; reachable: boolean; version: string | null };
  image: { name: string; present: boolean | null };
  /** `sha256:<hex>` of the masking rules main's data was masked with; null: not masked. */
  masked: string | null;
  /** The WAL archive and point-in-time window of each branch that has one. */
  archives: ArchiveInfo[];
}

/** One row of `status branches`. */
export interface BranchStatusRow {
  branch: BranchRecord;
  /** Whether PostgreSQL accepts connections (null when not running). */
  ready: boolean | null;
}

/** One health check. */
export type HealthCheck = Check;

/** One thing `--repair` attempted, and whether it worked. */
export interface RepairAction {
  target: string;
  /** What was attempted, as a verb (`restart`, `remove`...): not a claim that it worked. */
  action: string;
  /** Whether the action succeeded. */
  ok: boolean;
  /** Why the action was needed (e.g. "its container was exited"). */
  reason?: string;
  /** When it failed: the error. */
  detail?: string;
}

/** The index of a pool whose index dataset is missing: nothing claimed, not complete. */
const EMPTY_INDEX: ClaimIndex = { complete: false, snapshots: new Map(), ports: new Map() };

/** System status, health and repair. */
export class StatusService {
  constructor(private readonly ctx: Context) {}

  /** The whole system in one object. */
  async system(): Promise<SystemStatus> {
    const { ctx } = this;
    const [pool, runtime] = await Promise.all([
      ctx.zfs.poolStatus(ctx.layout.pool).catch(() => undefined),
      ctx.runtime.version().then((v) => v, () => null),
    ]);
    const inventory = await loadInventory(ctx, { containers: runtime !== null }).catch(() =>
      undefined
    );
    const branches = inventory?.branches ?? [];
    const main = branches.filter((b) => b.isDefault);
    const others = branches.filter((b) => !b.isDefault);
    const sum = (list: BranchRecord[], f: (b: BranchRecord) => number) =>
      list.reduce((n, b) => n + f(b), 0);
    const space = {
      main: sum(main, (b) => b.usedByDataset),
      branches: sum(others, (b) => b.usedByDataset),
      snapshots: sum(branches, (b) => b.usedBySnapshots),
      total: 0,
    };
    space.total = space.main + space.branches + space.snapshots;
    const archives: ArchiveInfo[] = [];
    for (const branch of branches) {
      if (!existsSync(ctx.layout.walMount(branch.name))) continue;
      const info = await archiveInfo(ctx, branch, inventory?.snapshots ?? []).catch(() =>
        undefined
      );
      if (info) archives.push(info);
    }
    const running = branches.filter((b) => b.status === "running").length;
    const stopped = branches.filter((b) => b.status === "stopped").length;
    return {
      version: VERSION,
      configFile: ctx.config.configFile,
      pool: pool ?? null,
      space,
      branches: {
        total: branches.length,
        running,
        stopped,
        other: branches.length - running - stopped,
      },
      snapshots: inventory?.snapshots.length ?? 0,
      runtime: { name: ctx.config.containerRuntime, reachable: runtime !== null, version: runtime },
      image: {
        name: ctx.config.pgBaseImage,
        present: runtime === null ? null : await ctx.runtime.imageExists(ctx.config.pgBaseImage),
      },
      masked: main[0]?.masked ?? null,
      archives,
    };
  }

  /** Every branch with a readiness probe of the running ones (in parallel). */
  async branches(): Promise<BranchStatusRow[]> {
    const inventory = await loadInventory(this.ctx);
    return await Promise.all(inventory.branches.map(async (branch) => ({
      branch,
      ready: branch.status === "running" && branch.port !== null
        ? await this.isReady(branch.port)
        : null,
    })));
  }

  /** Every snapshot, oldest first. */
  async snapshots(): Promise<SnapshotRecord[]> {
    return (await loadInventory(this.ctx, { containers: false })).snapshots;
  }

  /** All health checks: the environment's, then the branches'. */
  async health(): Promise<HealthCheck[]> {
    const env = await environmentChecks(this.ctx);
    if (!env.datasetsOk || !env.runtimeOk) {
      // a take-over killed before (or while) it made zvpg's datasets is found all the same
      const takeOvers = env.pool
        ? takeOverDrift(await findTakeOvers(this.ctx), operationAlive)
        : [];
      return [
        ...env.checks,
        ...(takeOvers.length > 0 ? [driftCheck(takeOvers, this.ctx.runtime.flavor)] : []),
        check(
          "branches",
          "fail",
          "cannot inspect branches while ZFS or the runtime is unavailable",
          "fix the checks above",
        ),
      ];
    }
    const [inventory, index] = await Promise.all([loadInventory(this.ctx), loadClaims(this.ctx)]);
    const takeOvers = await findTakeOvers(this.ctx, inventory);
    return [...env.checks, ...await this.branchChecks(inventory, index, takeOvers)];
  }

  private async branchChecks(
    inventory: Inventory,
    index: ClaimIndex | undefined,
    takeOvers: TakeOver[],
  ): Promise<HealthCheck[]> {
    const { ctx } = this;
    const stale = staleMountsOf(ctx, inventory);
    const running = inventory.branches.filter((b) => b.status === "running");
    const problems = await queryProblems(ctx, running);
    const unusable = running.flatMap((b) => {
      const problem = problems.get(b.name);
      return problem === undefined ? [] : [`'${b.name}' (port ${b.port ?? "?"}): ${problem}`];
    });
    const conflicts = [...claimedPorts(inventory)].filter(([, names]) => names.length > 1);
    const drift = findDrift(inventory, {
      alive: operationAlive,
      strayDirs: strayRuntimeDirs(ctx.layout, inventory),
      index: indexDrift(inventory, index ?? EMPTY_INDEX),
      takeOvers,
      transfers: await readTransferLeftovers(ctx, inventory),
    });
    const foreign = inventory.foreignDatasets;
    const archive = await archiveCheck(ctx, inventory.branches, inventory.snapshots);
    return [
      check(
        "mounts",
        stale.length === 0 ? "pass" : "fail",
        stale.length === 0
          ? "every zvpg dataset mountpoint answers"
          : `stale mounts (the ZFS service restarted?): ${stale.map((m) => m.problem).join("; ")}`,
        "run 'zvpg status health --repair' (it unmounts, remounts and restarts the branches)",
      ),
      check(
        "connections",
        unusable.length === 0 ? "pass" : "fail",
        unusable.length === 0
          ? `${running.length} running branch(es) answer queries`
          : `not usable: ${unusable.join("; ")}`,
        `check '${ctx.config.containerRuntime} logs <container>'; 'zvpg status health --repair' restarts it`,
      ),
      check(
        "ports",
        conflicts.length === 0 ? "pass" : "fail",
        conflicts.length === 0
          ? "no port conflicts"
          : conflicts.map(([p, n]) => `port ${p} claimed by ${n.join(", ")}`).join("; "),
        "stop one of the branches and start it on another port",
      ),
      driftCheck(drift, ctx.runtime.flavor),
      check(
        "ownership",
        foreign.length === 0 ? "pass" : "warn",
        foreign.length === 0
          ? "every dataset in zvpg's tree is a branch"
          : `datasets zvpg did not make (left alone): ${foreign.join(", ")}`,
        "zvpg never changes them; 'zvpg branch delete' of a branch holding one needs --force",
      ),
      ...(archive ? [archive] : []),
    ];
  }

  /**
   * Fixes drift: gives back a user's dataset whose take-over was interrupted (and then does
   * nothing else: all else zvpg has in the pool is that import's), rolls back interrupted creates, completes interrupted deletes, removes
   * containers whose dataset is gone, mounts again datasets whose mount is stale (after
   * the ZFS service restarted: the servers on them are stopped first), restarts branches
   * recorded running whose container died, vanished or does not answer queries.
   * Datasets zvpg did not make are never touched (`status health` reports them).
   */
  async repair(): Promise<RepairAction[]> {
    const { ctx } = this;
    return await withLock(ctx.layout, async () => {
      const [inventory, index] = await Promise.all([loadInventory(ctx), loadClaims(ctx)]);
      const drift = findDrift(inventory, {
        alive: operationAlive,
        strayDirs: strayRuntimeDirs(ctx.layout, inventory),
        index: indexDrift(inventory, index ?? EMPTY_INDEX),
        takeOvers: await findTakeOvers(ctx, inventory),
        transfers: await readTransferLeftovers(ctx, inventory),
      });
      // a dataset an interrupted take-over left is given back, and nothing else is done:
      // all else zvpg has in the pool is its import's (see planRepairs)
      const givingBack = drift.some((d) => d.kind === "interrupted-take-over");
      const unusable = givingBack ? new Map() : await this.unusableBranches(inventory);
      const actions: RepairAction[] = [];
      const attempt = async (
        target: string,
        action: string,
        reason: string,
        work: () => Promise<void>,
      ) => {
        try {
          await work();
          actions.push({ target, action, ok: true, reason });
          log.info(`repaired ${target}: ${action} (${reason})`);
        } catch (error) {
          // the hint says where to look (e.g. the file a failed start's log is kept in)
          const detail = error instanceof ZvpgError && error.hint
            ? `${error.message} — ${error.hint}`
            : (error as Error).message;
          actions.push({ target, action, ok: false, reason, detail });
          log.error(`could not repair ${target}: ${action} failed: ${detail}`);
        }
      };
      const remounted = givingBack
        ? new Set<string>()
        : await this.remountStale(inventory, attempt);
      for (const step of planRepairs(inventory, drift, { unusable, remounted })) {
        await attempt(step.target, step.action, step.reason, () => this.execute(step));
      }
      return actions;
    });
  }

  /** Carries out one planned repair. */
  private async execute(step: RepairStep): Promise<void> {
    const { ctx } = this;
    switch (step.do) {
      case "remove-container":
        // no data left to protect: no graceful shutdown needed
        return await ctx.runtime.remove(step.container);
      case "mark-stopped":
        return await record(ctx, step.branch.dataset, markStopped());
      case "destroy":
        return await destroyBranch(ctx, step.branch);
      case "restart":
        if (step.stopFirst && step.branch.container) {
          await stopBranchContainer(ctx, step.branch.container.name);
        }
        return await this.restart(step.branch.name, servedPort(step.branch));
      case "remove-dir":
        rmSync(step.dir, { recursive: true, force: true });
        return;
      case "give-back":
        return await undoTakeOver(ctx, step.adopted);
      case "undo-reset":
        return await undoReset(ctx, step.name);
      case "finish-reset":
        return await finishReset(ctx, step.name);
      case "destroy-dataset":
        return await ctx.zfs.destroy(step.dataset);
      case "abort-receive":
        return await ctx.zfs.abortReceive(step.dataset);
      case "release-remote-hold":
        return await releaseRemotes(ctx, step.snapshot, [step.remote], step.recorded);
      case "remove-file":
        return removeStreamFile(step.file);
      case "rebuild-index": {
        // from the pool as the steps before left it
        const [inventory, index] = await Promise.all([
          loadInventory(ctx, { containers: false }),
          loadClaims(ctx),
        ]);
        await rebuildIndex(ctx, inventory, index ?? EMPTY_INDEX);
        return;
      }
    }
  }

  /**
   * Branches whose container runs but on which a query fails (e.g. stuck after a full
   * pool, its data directory's mount is stale, or its server was left stopped inside the
   * container), with the reason: the very branches the health check `connections` fails
   * on. Not a branch that another live process is starting (recorded stopped, its
   * container already up): a start killed after its container ran is recorded stopped
   * too, and is repaired like any other.
   */
  private unusableBranches(inventory: Inventory): Promise<Map<string, string>> {
    return queryProblems(
      this.ctx,
      inventory.branches.filter((b) =>
        b.status === "running" && (b.state === "running" || !operationAlive(b.operationPid))
      ),
    );
  }

  /**
   * Mounts zvpg's datasets again where their mount is stale or gone, first stopping the
   * containers that run on a stale one. Returns the branches whose container it stopped.
   */
  private async remountStale(
    inventory: Inventory,
    attempt: (
      target: string,
      action: string,
      reason: string,
      work: () => Promise<void>,
    ) => Promise<void>,
  ): Promise<Set<string>> {
    const { ctx } = this;
    const stopped = new Set<string>();
    const stale = new Map(staleMountsOf(ctx, inventory).map((m) => [m.dataset, m]));
    for (const { dataset, mountpoint } of zvpgMounts(ctx, inventory)) {
      const mount = stale.get(dataset);
      const onIt = inventory.branches.filter((b) =>
        b.dataset === dataset && b.container !== null && !inFlightAlive(b)
      );
      if (mount) {
        await attempt(
          `dataset ${dataset}`,
          `mount again at ${mountpoint}`,
          `its mount was stale: ${mount.detail}`,
          async () => {
            for (const b of onIt) {
              await stopBranchContainer(ctx, b.container!.name);
              stopped.add(b.name);
            }
            await ensureMounted(ctx, dataset, mountpoint);
          },
        );
        continue;
      }
      let outcome: MountOutcome | Error;
      try {
        outcome = await ensureMounted(ctx, dataset, mountpoint);
      } catch (error) {
        outcome = error as Error;
      }
      if (outcome !== "usable") {
        const result = outcome;
        await attempt(
          `dataset ${dataset}`,
          `mount at ${mountpoint}`,
          "it was not mounted",
          () => result instanceof Error ? Promise.reject(result) : Promise.resolve(),
        );
      }
    }
    return stopped;
  }

  /**
   * Starts a branch again from a fresh inventory, on `port` (the one it served on) if
   * free: its container, which named it, may be gone by now (stopped first, or for a
   * remount), and a start killed after its container ran recorded another one.
   */
  private async restart(name: string, port: number | null): Promise<void> {
    const fresh = await loadInventory(this.ctx);
    const branch = fresh.branches.find((x) => x.name === name)!;
    await startAndWait(this.ctx, fresh, { ...branch, lastPort: port ?? branch.lastPort });
  }

  private isReady(port: number): Promise<boolean> {
    const { ctx } = this;
    return ctx.pg.isReady(
      ctx.layout.connectHost,
      port,
      ctx.config.postgresUser,
      ctx.config.postgresDb,
    );
  }
}

/** The `drift` check of `status health`: failed by any drift but warnings. */
function driftCheck(drift: Drift[], engine: string): HealthCheck {
  const failures = drift.filter((d) => !isWarning(d));
  const shown = (failures.length > 0 ? failures : drift).map((d) => describeDrift(d, engine));
  return check(
    "drift",
    failures.length > 0 ? "fail" : drift.length > 0 ? "warn" : "pass",
    drift.length > 0 ? shown.join("; ") : "ZFS and the container engine agree",
    "run 'zvpg status health --repair'",
  );
}

/**
 * Directories in the sockets dataset that belong to no branch: left by a delete killed
 * after its dataset was destroyed, or by a crashed `init env` (its initdb secret). Every
 * command that makes one holds the lock until its branch dataset exists, so under the
 * lock these are all stale.
 */
export function strayRuntimeDirs(layout: Layout, inventory: Inventory): string[] {
  const names = [
    ...inventory.branches.map((b) => b.name),
    // mid-swap, a branch being reset is known only by its reset datasets
    ...(inventory.resetParts ?? []).map((p) => p.branch),
  ];
  const own = new Set(names.map((n) => layout.runtimeDir(n)));
  let entries: Dirent[];
  try {
    entries = readdirSync(layout.socketsMount, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isDirectory())
    .map((e) => join(layout.socketsMount, e.name))
    .filter((dir) => !own.has(dir))
    .sort();
}

/** A query that needs the data directory: every new session reads catalog files. */
export const USABLE_QUERY = "SELECT count(*) FROM pg_catalog.pg_class";

/** {@link queryProblem} of each of `branches`, in parallel: only the unusable ones. */
async function queryProblems(
  ctx: Context,
  branches: BranchRecord[],
): Promise<Map<string, string>> {
  const problems = await Promise.all(branches.map((b) => queryProblem(ctx, b)));
  return new Map(branches.flatMap((b, i) => {
    const problem = problems[i];
    return problem === undefined ? [] : [[b.name, problem] as [string, string]];
  }));
}

/**
 * Why a running branch is not usable, or undefined when a real query as zvpg's user
 * succeeds on it (psql in its container over the local socket).
 */
export async function queryProblem(
  ctx: Context,
  branch: BranchRecord,
): Promise<string | undefined> {
  if (!branch.container) return "it has no container";
  try {
    await execSql(ctx, branch.name, branch.container.name, USABLE_QUERY);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The branches claiming each port ({@link claimedPort}): more than one is a conflict. */
function claimedPorts(inventory: Inventory): Map<number, string[]> {
  const byPort = new Map<number, string[]>();
  for (const b of inventory.branches) {
    const port = claimedPort(b);
    if (port !== null) byPort.set(port, [...(byPort.get(port) ?? []), b.name]);
  }
  return byPort;
}

/** zvpg's datasets and where they mount: clones and sockets first, then every branch. */
function zvpgMounts(ctx: Context, inventory: Inventory): { dataset: string; mountpoint: string }[] {
  const { layout } = ctx;
  return [
    { dataset: layout.clonesDataset, mountpoint: layout.clonesMount },
    { dataset: layout.socketsDataset, mountpoint: layout.socketsMount },
    ...inventory.branches.filter((b) => !inFlightAlive(b)).map((b) => ({
      dataset: b.dataset,
      mountpoint: b.mountpoint.startsWith("/") ? b.mountpoint : layout.branchMount(b.name),
    })),
  ];
}

/** zvpg's datasets whose mountpoint does not answer `stat` (e.g. ENOTCONN). */
export function staleMountsOf(
  ctx: Context,
  inventory: Inventory,
): { dataset: string; mountpoint: string; detail: string; problem: string }[] {
  return zvpgMounts(ctx, inventory).flatMap(({ dataset, mountpoint }) => {
    const state = ctx.mounts.stat(mountpoint);
    if (state.state !== "stale") return [];
    const detail = state.detail ?? "unusable";
    return [{ dataset, mountpoint, detail, problem: `${mountpoint} (${dataset}): ${detail}` }];
  });
}
