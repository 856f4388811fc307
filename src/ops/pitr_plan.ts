/**
 * Planning and watching a point-in-time branch: the window of the parent's archive (after
 * a segment switch when it runs), the base snapshot of a target, and the wait until the
 * branch has replayed to it and promoted.
 *
 * @module
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { PitrWindowError, PostgresStartError, ZvpgError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { throwIfInterrupted } from "../runtime/interrupt.ts";
import { faultPoint } from "../runtime/fault.ts";
import type { BranchRecord, SnapshotRecord } from "../domain/inventory.ts";
import {
  type ArchiveWindow,
  archiveWindow,
  chooseBase,
  formatLsn,
  parseLsn,
  type PitrTarget,
  type RecoveryPlan,
} from "../domain/wal_archive.ts";
import {
  execSql,
  runBranchContainer,
  stopBranchContainer,
  waitBranchReady,
} from "./branch_container.ts";
import { ensureMounted } from "./mounts.ts";
import { check } from "./environment_checks.ts";
import type { Check } from "../domain/check.ts";
import {
  archiveDirOf,
  archiveStarts,
  archiveState,
  listArchive,
  removeRecoveryPlan,
} from "./wal_archive.ts";

/** Where a point-in-time branch of `parent` starts from, and the window it was chosen in. */
export interface PitrPlan {
  /** The base snapshot (of the parent) recovery replays from. */
  base: string;
  plan: RecoveryPlan;
  window: ArchiveWindow;
}

/**
 * The window of `parent`'s archive. When the parent runs, it first commits a marker
 * transaction and switches to a new segment, waiting until that is archived: the archive
 * then holds every commit up to that moment and one after it (a recovery to a time stops
 * only at a commit past it), and the window ends there.
 */
export async function parentWindow(
  ctx: Context,
  parent: BranchRecord,
  snapshots: SnapshotRecord[],
  options: { live?: boolean } = {},
): Promise<{ window: ArchiveWindow; archiveDir: string }> {
  const state = await archiveState(ctx, parent.name);
  if (state === undefined) {
    throw new PitrWindowError(`branch '${parent.name}' has no WAL archive`, {
      hint: `turn it on with 'zvpg branch archive ${parent.name} on' (from its next start)`,
    });
  }
  await ensureMounted(ctx, ctx.layout.walDataset(parent.name), ctx.layout.walMount(parent.name));
  const archiveDir = archiveDirOf(ctx, parent.name);
  let liveEnd: { time: Date; lsn: bigint } | undefined;
  if (options.live !== false && state === "on" && parent.container?.state === "running") {
    liveEnd = await switchAndWait(ctx, parent, archiveDir);
  }
  const bases = snapshots
    .filter((s) => s.branch === parent.name && !s.remote)
    .map((s) => ({ name: s.name, taken: s.created }));
  return {
    window: archiveWindow(listArchive(archiveDir), bases, liveEnd, archiveStarts(archiveDir)),
    archiveDir,
  };
}

/** How long a switched segment may take to reach the archive. */
const ARCHIVE_WAIT_MS = 30_000;

async function switchAndWait(
  ctx: Context,
  parent: BranchRecord,
  archiveDir: string,
): Promise<{ time: Date; lsn: bigint }> {
  const out = await execSql(
    ctx,
    parent.name,
    parent.container!.name,
    [
      "SELECT pg_current_wal_lsn(), extract(epoch FROM clock_timestamp());",
      "SELECT txid_current();",
      "SELECT pg_walfile_name(pg_switch_wal());",
    ].join("\n"),
  );
  const lines = out.trim().split("\n");
  const [lsnText, epoch] = lines[0].split("|");
  const segment = lines[2]?.trim() ?? "";
  const lsn = parseLsn(lsnText);
  if (lsn === undefined || !/^[0-9A-F]{24}$/.test(segment)) {
    throw new ZvpgError(`branch '${parent.name}' answered no WAL position: ${out.trim()}`);
  }
  const deadline = Date.now() + ARCHIVE_WAIT_MS;
  while (!existsSync(join(archiveDir, segment))) {
    throwIfInterrupted();
    if (Date.now() > deadline) {
      throw new PitrWindowError(
        `the WAL archive of branch '${parent.name}' is behind: segment ${segment} did not reach it within ${
          ARCHIVE_WAIT_MS / 1000
        }s`,
        { hint: "see 'zvpg status health' and the branch's PostgreSQL log" },
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { time: new Date(Math.floor(Number(epoch) * 1000)), lsn };
}

/**
 * The plan of a point-in-time branch of `parent` at `target`: the base snapshot and the
 * recovery. A target outside the window is refused, naming it; nothing is made.
 */
export async function planPointInTime(
  ctx: Context,
  parent: BranchRecord,
  snapshots: SnapshotRecord[],
  target: PitrTarget,
): Promise<PitrPlan> {
  const { window, archiveDir } = await parentWindow(ctx, parent, snapshots, { live: true });
  const chosen = chooseBase(window, target);
  if ("problem" in chosen) {
    throw new PitrWindowError(chosen.problem, {
      hint: `pick a target in the window of branch '${parent.name}'`,
    });
  }
  return {
    base: chosen.base.name,
    window,
    plan: {
      archiveDir,
      targetKind: target.kind,
      target: target.kind === "time" ? target.time.toISOString() : formatLsn(target.lsn),
    },
  };
}

/** The moment a point-in-time branch reached: its last replayed commit and WAL position. */
export interface ReachedPoint {
  /** The commit time of the last transaction replayed (null when none was). */
  time: Date | null;
  lsn: string;
}

/**
 * Waits until a point-in-time branch's server has reached its target and promoted
 * (polling), and returns the moment it reached. A server that exits (a target it cannot
 * reach) fails with its log's tail.
 */
export async function waitPromoted(
  ctx: Context,
  branch: string,
  container: string,
): Promise<ReachedPoint> {
  log.info(`branch '${branch}': replaying the archive to its target…`);
  faultPoint("branch.create.recovering");
  for (;;) {
    throwIfInterrupted();
    const seen = await ctx.runtime.inspectState(container);
    if (seen?.state !== "running") {
      const logs = await ctx.runtime.logs(container, 20).catch(() => "");
      const tail = logs.split("\n").filter((l) => l.trim() !== "").slice(-3).join(" | ");
      throw new PostgresStartError(
        `PostgreSQL of branch '${branch}' stopped before reaching its target: ${tail}`,
        { hint: "pick a target inside the window ('zvpg status' shows it)" },
      );
    }
    const out = await execSql(
      ctx,
      branch,
      container,
      "SELECT pg_is_in_recovery(), extract(epoch FROM pg_last_xact_replay_timestamp()), pg_last_wal_replay_lsn();",
    ).catch(() => "");
    const [inRecovery, epoch, lsn] = out.trim().split("|");
    if (inRecovery === "f") {
      return { time: epoch ? new Date(Math.round(Number(epoch) * 1000)) : null, lsn: lsn ?? "" };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A branch's archive as `branch archive` and `status` show it. */
export interface ArchiveInfo {
  branch: string;
  /** on, off, or none (the branch never archived). */
  archive: "on" | "off" | "none";
  window: ArchiveWindow | null;
}

/** A branch's archive state and window (read only: no segment switch). */
export async function archiveInfo(
  ctx: Context,
  branch: BranchRecord,
  snapshots: SnapshotRecord[],
): Promise<ArchiveInfo> {
  const state = await archiveState(ctx, branch.name);
  if (state === undefined) return { branch: branch.name, archive: "none", window: null };
  let window: ArchiveWindow | null = null;
  try {
    window = (await parentWindow(ctx, branch, snapshots, { live: false })).window;
  } catch (error) {
    log.debug(`no window for branch '${branch.name}': ${(error as Error).message}`);
  }
  return { branch: branch.name, archive: state, window };
}

/** Segments waiting to be archived from which an archive counts as behind. */
export const ARCHIVE_BEHIND_SEGMENTS = 3;

/**
 * The `archive` check of `status health` for the branches that archive: archiving that
 * fails (`pg_stat_archiver`), segments waiting (`archive_status/*.ready`), a gap in the
 * archive. Undefined when no branch archives (looked up only where an archive is mounted).
 */
export async function archiveCheck(
  ctx: Context,
  branches: BranchRecord[],
  snapshots: SnapshotRecord[],
): Promise<Check | undefined> {
  const archived = branches.filter((b) => existsSync(ctx.layout.walMount(b.name)));
  if (archived.length === 0) return undefined;
  const problems: string[] = [];
  const fine: string[] = [];
  let failing = false;
  for (const branch of archived) {
    const info = await archiveInfo(ctx, branch, snapshots);
    if (info.archive !== "on") continue;
    const own: string[] = [];
    if (branch.container?.state === "running") {
      const out = await execSql(
        ctx,
        branch.name,
        branch.container.name,
        "SELECT failed_count, coalesce(last_failed_wal, ''), " +
          "coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) " +
          "FROM pg_stat_archiver;",
      ).catch(() => undefined);
      const [count, wal, latest] = (out ?? "").trim().split("|");
      if (latest === "t") {
        failing = true;
        own.push(`archiving fails (${count} failure(s), last on ${wal})`);
      }
    }
    const waiting = readyCount(ctx.layout.pgdata(branch.name));
    if (waiting >= ARCHIVE_BEHIND_SEGMENTS) own.push(`${waiting} segment(s) wait to be archived`);
    if (info.window && info.window.missing > 0) {
      own.push(
        `${info.window.missing} segment(s) missing in the archive: the window starts after the gap`,
      );
    }
    if (own.length > 0) problems.push(`'${branch.name}': ${own.join(", ")}`);
    else fine.push(branch.name);
  }
  return check(
    "archive",
    problems.length === 0 ? "pass" : failing ? "fail" : "warn",
    problems.length === 0
      ? `WAL archive of ${fine.map((b) => `'${b}'`).join(", ") || "no branch"} up to date`
      : problems.join("; "),
    "see the branch's PostgreSQL log ('zvpg branch info' names the container) and the space of the pool",
  );
}

/** The segments of a data directory waiting to be archived. */
function readyCount(pgdata: string): number {
  try {
    return readdirSync(join(pgdata, "pg_wal", "archive_status"))
      .filter((f) => f.endsWith(".ready")).length;
  } catch {
    return 0;
  }
}

/**
 * Once a point-in-time branch has promoted: forgets its recovery and starts its container
 * again without it (neither the parent's archive mounted nor the recovery settings; no
 * later start enters recovery again, PostgreSQL removed `recovery.signal`), or, with
 * `keepRunning` false, leaves it stopped. `started.container` is updated.
 */
export async function restartPromoted(
  ctx: Context,
  name: string,
  started: { container: string; port: number },
  keepRunning = true,
): Promise<void> {
  removeRecoveryPlan(ctx, name);
  faultPoint("branch.create.before-pitr-restart");
  await stopBranchContainer(ctx, started.container);
  if (!keepRunning) return;
  started.container = await runBranchContainer(ctx, name, started.port);
  await waitBranchReady(ctx, name, started.container, started.port);
}
