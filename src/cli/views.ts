/**
 * Every `-f json` schema (documented in the README: fields may be added, never renamed or
 * removed) and its text form for people, one {@link View} per kind of result.
 *
 * @module
 */
import type { Check } from "../domain/check.ts";
import { allPassed } from "../domain/check.ts";
import type { Context } from "../context.ts";
import type { CloneResult, InitStep } from "../workflows/init_service.ts";
import type { BranchRecord, SnapshotRecord } from "../domain/inventory.ts";
import type { PhaseTimings } from "../runtime/phases.ts";
import type { BranchDeleteResult } from "../ops/delete_branch.ts";
import type { SnapshotDeleteResult } from "../workflows/snapshot_service.ts";
import type { BranchResetResult } from "../workflows/reset_service.ts";
import type { GcResult } from "../workflows/lifecycle_service.ts";
import type { RefreshResult } from "../workflows/refresh_service.ts";
import type { BranchStatusRow, RepairAction, SystemStatus } from "../workflows/status_service.ts";
import type { BranchConnection } from "../workflows/connect_service.ts";
import {
  connectionEnv,
  connectionUri as libpqUri,
  type EnvDialect,
  envLines,
} from "../domain/connection.ts";
import type { HistoryNode } from "../domain/history.ts";
import type { History } from "../workflows/history_service.ts";
import type { Remote } from "../domain/remote.ts";
import type { PullResult } from "../workflows/pull_service.ts";
import type { RemoteRemoveResult } from "../workflows/remote_service.ts";
import type { PushResult } from "../workflows/push_service.ts";
import type { FetchResult } from "../workflows/fetch_service.ts";
import { graphLines } from "./log_graph.ts";
import { fields, formatBytes, formatTime, table } from "./output.ts";
import type { View } from "./render.ts";
import type { ArchiveInfo, ReachedPoint } from "../ops/pitr_plan.ts";
import {
  type ArchiveWindow,
  formatLsn,
  type PitrTarget,
  windowText,
} from "../domain/wal_archive.ts";
import { definitionDiff, type ObjectChange } from "../domain/schema_merge.ts";
import {
  type DiffResult,
  type MergeResult,
  migrationFile,
  type TableDataChange,
} from "../workflows/diff_merge_service.ts";

// ---------------------------------------------------------------------------------------
// snapshots

/** `snapshot list|info -f json` element. */
export interface SnapshotJson {
  name: string;
  branch: string;
  created: string;
  message: string;
  used: number;
  referenced: number;
  dependents: string[];
  zfsName: string;
  /** Taken by zvpg for a new branch; deleted with the last branch made from it. */
  auto: boolean;
  /** The remote a pulled snapshot came from (named `<remote>/<name>`); null for this pool's. */
  remote: string | null;
  /** `sha256:<hex>` of the masking rules its data was masked with; null: not masked. */
  masked: string | null;
}

/** The JSON form of a snapshot. */
export function snapshotJson(s: SnapshotRecord): SnapshotJson {
  return {
    name: s.name,
    branch: s.branch,
    created: s.created.toISOString(),
    message: s.message,
    used: s.used,
    referenced: s.referenced,
    dependents: [...s.dependents].sort(),
    zfsName: s.zfsName,
    auto: s.auto,
    remote: s.remote ?? null,
    masked: s.masked ?? null,
  };
}

/** `snapshot list`, `status snapshots`: a table, or "no snapshots" on stderr. */
export const snapshotListView: View<SnapshotRecord[]> = {
  json: (snapshots) => snapshots.map(snapshotJson),
  text: (snapshots) =>
    snapshots.length === 0 ? "" : table(
      ["NAME", "BRANCH", "CREATED", "USED", "REFERENCED", "DEPENDENTS", "MESSAGE"],
      snapshots.map((s) => [
        s.name,
        s.branch,
        formatTime(s.created),
        formatBytes(s.used),
        formatBytes(s.referenced),
        s.dependents.length === 0 ? "-" : [...s.dependents].sort().join(","),
        s.message.replace(/\s+/g, " ").slice(0, 60),
      ]),
    ),
  note: (snapshots) => snapshots.length === 0 ? "no snapshots" : undefined,
};

/** `snapshot info`: `Key: value` lines. */
export const snapshotInfoView: View<SnapshotRecord> = {
  json: snapshotJson,
  text: (s) =>
    fields([
      ["Snapshot", s.name],
      ["Branch", s.branch],
      ["Created", s.created.toISOString()],
      ["Message", s.message],
      ["Used", `${formatBytes(s.used)} (${s.used} bytes)`],
      ["Referenced", `${formatBytes(s.referenced)} (${s.referenced} bytes)`],
      ["Dependents", s.dependents.length === 0 ? "-" : [...s.dependents].sort().join(", ")],
      ["ZFS Name", s.zfsName],
    ]),
};

/** `snapshot create`, `commit create`, `branch snapshot`: one line naming it. */
export function snapshotCreatedView(noun: string): View<SnapshotRecord> {
  return {
    json: snapshotJson,
    text: (s) => `Created ${noun} '${s.name}' of branch '${s.branch}'`,
  };
}

/** `snapshot delete -f json`. */
export interface SnapshotDeleteJson {
  snapshot: string;
  /** The remote a pulled snapshot came from; null for this pool's. */
  remote: string | null;
  removedBranches: string[];
  removedSnapshots: string[];
  removedDatasets: string[];
}

/** `snapshot delete`, `commit remove`: what was removed. */
export function snapshotDeleteView(noun: string): View<SnapshotDeleteResult> {
  return {
    json: (r): SnapshotDeleteJson => ({
      snapshot: r.snapshot,
      remote: r.remote,
      removedBranches: r.removedBranches,
      removedSnapshots: r.removedSnapshots,
      removedDatasets: r.removedDatasets,
    }),
    text: (r) => [...destroyedLines(r), `Deleted ${noun} '${r.snapshot}'`].join("\n"),
  };
}

/** What a delete destroyed besides its target, one line each (datasets first). */
function destroyedLines(
  r: { removedDatasets: string[]; removedBranches: string[]; removedSnapshots: string[] },
): string[] {
  return [
    ...r.removedDatasets.map((d) => `Destroyed dataset '${d}'`),
    ...r.removedBranches.map((b) => `Deleted branch '${b}'`),
    ...r.removedSnapshots.map((s) => `Deleted snapshot '${s}'`),
  ];
}

// ---------------------------------------------------------------------------------------
// branches

/** `branch list|info -f json` element. */
export interface BranchJson {
  name: string;
  default: boolean;
  parent: string | null;
  origin: string | null;
  status: string;
  /** The port it serves on now; null unless running. */
  port: number | null;
  /** The port it was last started on (a stopped branch keeps it, but does not serve it). */
  lastPort: number | null;
  /** The container engine that runs or last ran it. */
  runtime: string | null;
  container: string | null;
  created: string;
  used: number;
  referenced: number;
  /**
   * Bytes written since its latest snapshot, or its origin when it has none (OpenZFS
   * `written`); null on zfs-fuse, which does not report it.
   */
  written: number | null;
  uri: string | null;
  dataset: string;
  mountpoint: string;
  /** When `zvpg gc` may delete it (RFC 3339), or null. */
  expiresAt: string | null;
  /** Whether it is protected (refuses delete, reset, expiry and gc; its snapshots are held). */
  protected: boolean;
  /**
   * `sha256:<hex>` of the masking rules file main's data was masked with (docs/masking.md);
   * null: not masked.
   */
  masked: string | null;
}

/** A libpq URI for a running branch; the password comes from the pgpass file. */
export function connectionUri(ctx: Context, port: number): string {
  const { connectHost: host, passFile: passfile } = ctx.layout;
  const { postgresUser: user, postgresDb: database } = ctx.config;
  return libpqUri({ host, port, user, database }, { passfile });
}

/** The JSON form of a branch. */
export function branchJson(ctx: Context, b: BranchRecord): BranchJson {
  const running = b.status === "running" && b.port !== null;
  return {
    name: b.name,
    default: b.isDefault,
    parent: b.parent,
    origin: b.origin,
    status: b.status,
    port: running ? b.port : null,
    lastPort: b.lastPort,
    runtime: b.runtime,
    container: b.container?.name ?? null,
    created: b.created.toISOString(),
    used: b.used,
    referenced: b.referenced,
    written: b.written,
    uri: running ? connectionUri(ctx, b.port!) : null,
    dataset: b.dataset,
    mountpoint: b.mountpoint,
    expiresAt: b.expiresAt ? b.expiresAt.toISOString() : null,
    protected: b.protected === true,
    masked: b.masked ?? null,
  };
}

/** `branch list`: a table, the default branch marked `*`. */
export function branchListView(ctx: Context): View<BranchRecord[]> {
  return {
    json: (branches) => branches.map((b) => branchJson(ctx, b)),
    text: (branches) =>
      table(
        ["NAME", "STATUS", "PORT", "PARENT", "ORIGIN", "USED", "CREATED", "EXPIRES"],
        branches.map((b) => [
          (b.isDefault ? `${b.name} *` : b.name) + (b.protected ? " (protected)" : ""),
          b.status,
          branchJson(ctx, b).port ?? "-",
          b.parent ?? "-",
          b.origin ?? "-",
          formatBytes(b.used),
          formatTime(b.created),
          b.expiresAt ? formatTime(b.expiresAt) : "-",
        ]),
      ),
  };
}

/** One branch as `Key: value` lines (the port line reads `PostgreSQL Port: N`). */
function branchFields(ctx: Context, b: BranchRecord): string {
  const json = branchJson(ctx, b);
  return fields([
    ["Branch", b.name + (b.isDefault ? " (default)" : "")],
    ["Status", b.status],
    // only a live port: for a stopped branch the spec's `grep "PostgreSQL Port" | awk`
    // yields "-", never a port another branch may serve by now
    ["PostgreSQL Port", json.port],
    ["Last Port", json.port === null ? b.lastPort : null],
    ["Connection URI", json.uri],
    ["Container", json.container],
    ["Parent", b.parent],
    ["Origin Snapshot", b.origin],
    ["Created", json.created],
    ["Used", `${formatBytes(b.used)} (${b.used} bytes)`],
    ["Referenced", `${formatBytes(b.referenced)} (${b.referenced} bytes)`],
    // where ZFS reports it (OpenZFS): how much the branch changed lately
    ...(b.written === null ? [] : [
      [
        "Written",
        `${formatBytes(b.written)} (${b.written} bytes, since its latest snapshot or origin)`,
      ] as [string, string],
    ]),
    ["Dataset", b.dataset],
    ["Mountpoint", b.mountpoint],
    ["Expires", json.expiresAt],
    ["Protected", b.protected ? "yes" : "no"],
    ["Masked", b.masked ? `yes, by rules ${b.masked}` : "no"],
  ]);
}

/** `branch info`. */
export function branchInfoView(ctx: Context): View<BranchRecord> {
  return { json: (b) => branchJson(ctx, b), text: (b) => branchFields(ctx, b) };
}

/** A created branch and, with `--timings`, its phase timings. */
export interface BranchCreated {
  branch: BranchRecord;
  /** False when `--if-not-exists` found it existing. */
  created: boolean;
  timings?: PhaseTimings;
  /** A point-in-time branch (`--at`): its target, base and the moment it reached. */
  pointInTime?: { target: PitrTarget; base: string; reached: ReachedPoint };
}

/** The moment a point-in-time branch reached, in JSON. */
function reachedJson(r: ReachedPoint) {
  return { time: r.time?.toISOString() ?? null, lsn: r.lsn };
}

/** The moment a point-in-time branch reached, as text. */
function reachedText(r: ReachedPoint): string {
  return `${r.time?.toISOString() ?? "(no transaction)"} (LSN ${r.lsn})`;
}

/** `pointInTime` of `branch create --at -f json`. */
function pointInTimeJson(p: NonNullable<BranchCreated["pointInTime"]>) {
  return {
    target: p.target.kind === "time" ? p.target.time.toISOString() : formatLsn(p.target.lsn),
    base: p.base,
    reachedTime: p.reached.time?.toISOString() ?? null,
    reachedLsn: p.reached.lsn,
  };
}

/** The window of an archive in JSON: RFC 3339 times and LSNs, null when there is none. */
function windowJson(w: ArchiveWindow | null) {
  return {
    from: w?.from?.toISOString() ?? null,
    to: w?.to?.toISOString() ?? null,
    fromLsn: w?.fromLsn != null ? formatLsn(w.fromLsn) : null,
    toLsn: w?.toLsn != null ? formatLsn(w.toLsn) : null,
    bases: w?.bases.map((b) => b.name) ?? [],
    segments: w?.segments.length ?? 0,
    missingSegments: w?.missing ?? 0,
  };
}

/** `branch archive`: its state and window. */
export const branchArchiveView: View<ArchiveInfo> = {
  json: (a) => ({ branch: a.branch, archive: a.archive, window: windowJson(a.window) }),
  text: (a) =>
    [
      `Branch '${a.branch}': WAL archive ${a.archive}`,
      ...(a.window ? [`Window: ${windowText(a.window)}`] : []),
      ...(a.window?.missing ? [`Gap: ${a.window.missing} segment(s) missing`] : []),
    ].join("\n"),
};

function roundTimings(timings: PhaseTimings): PhaseTimings {
  return Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)]));
}

/**
 * `branch create`: the branch, `createdNow` (false when `--if-not-exists` found it; not
 * `created`, which is the branch's creation time), plus `timings` in ms with `--timings`.
 */
export function branchCreatedView(ctx: Context): View<BranchCreated> {
  return {
    json: ({ branch, created, timings, pointInTime }) => {
      const json = {
        ...branchJson(ctx, branch),
        createdNow: created,
        ...(pointInTime ? { pointInTime: pointInTimeJson(pointInTime) } : {}),
      };
      return timings ? { ...json, timings: roundTimings(timings) } : json;
    },
    text: ({ branch, created, timings, pointInTime }) =>
      [
        created
          ? `Created branch '${branch.name}' from snapshot '${branch.origin}'`
          : `Branch '${branch.name}' exists already`,
        ...(pointInTime
          ? [
            `Replayed to:  ${
              pointInTime.reached.time?.toISOString() ?? "(no transaction)"
            } (LSN ${pointInTime.reached.lsn})`,
          ]
          : []),
        branchFields(ctx, branch),
        ...(timings ? [`Timings: ${JSON.stringify(roundTimings(timings))}`] : []),
      ].join("\n"),
  };
}

/** `branch start`. */
export function branchStartedView(ctx: Context): View<BranchRecord> {
  return {
    json: (b) => branchJson(ctx, b),
    text: (b) => `Started branch '${b.name}' on port ${b.port}`,
  };
}

/** `branch stop -f json`. */
export interface BranchStopJson {
  branch: string;
  wasRunning: boolean;
}

/** `branch stop`. */
export const branchStopView: View<BranchStopJson> = {
  json: (r) => ({ branch: r.branch, wasRunning: r.wasRunning }),
  text: (r) =>
    r.wasRunning ? `Stopped branch '${r.branch}'` : `Branch '${r.branch}' was not running`,
};

/** `branch delete -f json`. */
export interface BranchDeleteJson {
  branch: string;
  removedBranches: string[];
  removedSnapshots: string[];
  removedDatasets: string[];
}

/** `branch delete`: what was destroyed, the branch last. */
export const branchDeleteView: View<BranchDeleteResult> = {
  json: (r): BranchDeleteJson => ({
    branch: r.branch,
    removedBranches: r.removedBranches,
    removedSnapshots: r.removedSnapshots,
    removedDatasets: r.removedDatasets,
  }),
  text: (r) => [...destroyedLines(r), `Deleted branch '${r.branch}'`].join("\n"),
};

/** `branch reset -f json`: the branch as it is now, and what the reset threw away. */
export type BranchResetJson = BranchJson & {
  /** The snapshot it was reset to. */
  resetTo: string;
  removedBranches: string[];
  removedSnapshots: string[];
  /** Phase timings in ms, with `--timings`. */
  timings?: PhaseTimings;
  /** With `--at`: the moment reached (last replayed commit time, LSN). */
  reached?: { time: string | null; lsn: string };
};

/** `branch reset`: one line, what else went, then the branch. */
export function branchResetView(ctx: Context, showTimings = false): View<BranchResetResult> {
  return {
    json: (r): BranchResetJson => ({
      ...branchJson(ctx, r.branch),
      resetTo: r.snapshot,
      removedBranches: r.removedBranches,
      removedSnapshots: r.removedSnapshots,
      ...(showTimings ? { timings: roundTimings(r.timings) } : {}),
      ...(r.reached ? { reached: reachedJson(r.reached) } : {}),
    }),
    text: (r) =>
      [
        ...r.removedBranches.map((b) => `Deleted branch '${b}'`),
        ...r.removedSnapshots.map((s) => `Deleted snapshot '${s}'`),
        `Reset branch '${r.branch.name}' to snapshot '${r.snapshot}'`,
        ...(r.reached ? [`Replayed to:  ${reachedText(r.reached)}`] : []),
        branchFields(ctx, r.branch),
        ...(showTimings ? [`Timings: ${JSON.stringify(roundTimings(r.timings))}`] : []),
      ].join("\n"),
  };
}

/** `branch expire|protect|unprotect`: the branch (JSON as `branch info`), one line of text. */
export function branchChangedView(
  ctx: Context,
  line: (b: BranchRecord) => string,
): View<BranchRecord> {
  return { json: (b) => branchJson(ctx, b), text: line };
}

/** `branch expire`: when it expires now. */
export function branchExpireView(ctx: Context): View<BranchRecord> {
  return branchChangedView(
    ctx,
    (b) =>
      b.expiresAt
        ? `Branch '${b.name}' expires at ${b.expiresAt.toISOString()}`
        : `Branch '${b.name}' never expires`,
  );
}

/** `gc -f json`. */
export interface GcJson {
  dryRun: boolean;
  removedBranches: string[];
  removedSnapshots: string[];
  /** `remotes`: the remotes whose next push goes on from what was kept (else empty). */
  skipped: { kind: "branch" | "snapshot"; name: string; reason: string; remotes: string[] }[];
  /** Archived WAL segments removed (or that would be). */
  removedWalSegments: number;
}

/** `gc`: what went (or would go, with --dry-run) and what stayed, with why. */
export const gcView: View<GcResult> = {
  json: (r): GcJson => ({
    dryRun: r.dryRun,
    removedBranches: r.removedBranches,
    removedSnapshots: r.removedSnapshots,
    skipped: r.skipped.map((s) => ({
      kind: s.kind,
      name: s.name,
      reason: s.reason,
      remotes: s.remotes ?? [],
    })),
    removedWalSegments: r.removedWalSegments,
  }),
  text: (r) => {
    const verb = r.dryRun ? "Would delete" : "Deleted";
    const lines = [
      ...r.removedBranches.map((b) => `${verb} branch '${b}'`),
      ...r.removedSnapshots.map((s) => `${verb} snapshot '${s}'`),
      ...r.skipped.map((s) => `Kept ${s.kind} '${s.name}': ${s.reason}`),
      ...(r.removedWalSegments > 0
        ? [`${verb} ${r.removedWalSegments} archived WAL segment(s)`]
        : []),
    ];
    return lines.length === 0 ? "Nothing to collect" : lines.join("\n");
  },
};

// ---------------------------------------------------------------------------------------
// init, checks, health

/** `init env -f json`. */
export interface InitEnvJson {
  changed: boolean;
  steps: InitStep[];
}

/** `init env`: how many changes were made. */
export const initEnvView: View<InitStep[]> = {
  json: (steps): InitEnvJson => ({
    changed: steps.some((s) => s.changed),
    steps: steps.map((s) => ({ step: s.step, changed: s.changed, detail: s.detail })),
  }),
  text: (steps) => {
    const changed = steps.filter((s) => s.changed).length;
    return changed === 0
      ? "Nothing to do: the environment is already initialised."
      : `Initialised: ${changed} change(s) made.`;
  },
};

/** `init check -f json`, `status health -f json` (the latter with `repairs` after --repair). */
export interface ChecksJson {
  ok: boolean;
  checks: Check[];
  repairs?: RepairAction[];
}

function checkLines(checks: Check[]): string[] {
  const width = Math.max(...checks.map((c) => c.name.length)) + 1;
  return checks.map((c) => {
    const hint = c.hint ? `  (${c.hint})` : "";
    return `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)} ${c.detail}${hint}`;
  });
}

/**
 * One line per repair: what was attempted, why, and whether it worked. A failed one says
 * "FAILED … failed: <error>", never a past-tense success word.
 */
export function repairLine(r: RepairAction): string {
  const why = r.reason ? ` (${r.reason})` : "";
  return r.ok
    ? `REPAIRED  ${r.target}: ${r.action}${why}`
    : `FAILED    ${r.target}: ${r.action}${why} failed: ${r.detail ?? "unknown error"}`;
}

/** Checks, and the repairs `status health --repair` attempted before them. */
export interface HealthReport {
  checks: Check[];
  repairs?: RepairAction[];
}

/** `init check`, `status health`: one `STATUS  name  detail  (hint)` line each; exit 1 on a fail. */
export const checksView: View<HealthReport> = {
  json: ({ checks, repairs }): ChecksJson => ({
    ok: allPassed(checks),
    checks,
    ...(repairs ? { repairs } : {}),
  }),
  text: ({ checks, repairs }) =>
    [
      ...(repairs === undefined ? [] : repairs.length === 0 ? ["nothing to repair"] : []),
      ...(repairs ?? []).map(repairLine),
      ...checkLines(checks),
    ].join("\n"),
  exitCode: ({ checks }) => allPassed(checks) ? 0 : 1,
};

// ---------------------------------------------------------------------------------------
// status

/** `status system -f json`. */
export type SystemJson = Omit<SystemStatus, "archives"> & {
  archives: ({ branch: string; archive: string } & ReturnType<typeof windowJson>)[];
};

/** `status system`: `Key: value` lines. */
export const systemView: View<SystemStatus> = {
  json: (s): SystemJson => ({
    version: s.version,
    configFile: s.configFile,
    pool: s.pool,
    space: s.space,
    branches: s.branches,
    snapshots: s.snapshots,
    runtime: s.runtime,
    image: s.image,
    masked: s.masked,
    archives: s.archives.map((a) => ({
      branch: a.branch,
      archive: a.archive,
      ...windowJson(a.window),
    })),
  }),
  text: (s) => {
    const pool = s.pool;
    return fields([
      ["zvpg", `${s.version} (config ${s.configFile})`],
      ["Pool", pool ? `${pool.name} ${pool.health}` : "not imported"],
      [
        "Pool Size",
        pool
          ? `${formatBytes(pool.size)} (allocated ${formatBytes(pool.allocated)}, free ${
            formatBytes(pool.free)
          })`
          : "-",
      ],
      ["Space Main", formatBytes(s.space.main)],
      ["Main Masked", s.masked ? `yes, by rules ${s.masked}` : "no"],
      ["Space Branches", formatBytes(s.space.branches)],
      ["Space Snapshots", formatBytes(s.space.snapshots)],
      [
        "Branches",
        `${s.branches.total} (${s.branches.running} running, ${s.branches.stopped} stopped, ${s.branches.other} other)`,
      ],
      ["Snapshots", s.snapshots],
      [
        "Runtime",
        s.runtime.reachable
          ? `${s.runtime.name} ${s.runtime.version}`
          : `${s.runtime.name} (not reachable)`,
      ],
      [
        "Image",
        `${s.image.name} (${
          s.image.present === null ? "unknown" : s.image.present ? "present" : "missing"
        })`,
      ],
      ...s.archives.map((a): [string, string] => [
        `WAL Archive ${a.branch}`,
        `${a.archive}${a.window ? `, window ${windowText(a.window)}` : ""}`,
      ]),
    ]);
  },
};

/** `status branches -f json` element: a branch and whether PostgreSQL accepts connections. */
export type BranchStatusJson = BranchJson & { ready: boolean | null };

/** `status branches`: a table with READY. */
export function statusBranchesView(ctx: Context): View<BranchStatusRow[]> {
  return {
    json: (rows): BranchStatusJson[] =>
      rows.map((r) => ({ ...branchJson(ctx, r.branch), ready: r.ready })),
    text: (rows) => {
      // WRITTEN where ZFS reports it (OpenZFS), no empty column on zfs-fuse
      const written = rows.some((r) => r.branch.written !== null);
      return table(
        [
          ...["NAME", "STATUS", "PORT", "READY", "PARENT", "ORIGIN", "USED", "REFERENCED"],
          ...(written ? ["WRITTEN"] : []),
          "CREATED",
        ],
        rows.map(({ branch: b, ready }) => [
          b.name,
          b.status,
          branchJson(ctx, b).port ?? "-",
          ready === null ? "-" : ready ? "yes" : "no",
          b.parent ?? "-",
          b.origin ?? "-",
          formatBytes(b.used),
          formatBytes(b.referenced),
          ...(written ? [b.written === null ? "-" : formatBytes(b.written)] : []),
          formatTime(b.created),
        ]),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------
// diff and merge

/** An object change in `branch diff|merge -f json`. */
export interface ObjectChangeJson {
  kind: string;
  name: string;
  change: "added" | "removed" | "modified";
  /** Its defining SQL on the base side (null when added). */
  before: string | null;
  /** Its defining SQL on the compare side (null when removed). */
  after: string | null;
}

function objectChangeJson(c: ObjectChange): ObjectChangeJson {
  return {
    kind: c.kind,
    name: c.name,
    change: c.change,
    before: c.before ?? null,
    after: c.after ?? null,
  };
}

/** `branch diff -f json`. */
export interface BranchDiffJson {
  base: { branch: string; snapshot: string | null };
  compare: { branch: string };
  database: string;
  engine: string;
  hasChanges: boolean;
  objects: ObjectChangeJson[];
  statements: string[];
  data: TableDataChange[] | null;
  /**
   * The objects `pg_dump --schema-only` sees changed (its names: `TABLE public.users`),
   * whatever the engine models; `hasChanges` is true when this is not empty.
   */
  dumpChanges: string[];
}

function objectDiffLines(c: ObjectChange): string[] {
  return [
    `--- a/${c.kind} ${c.name}${c.change === "added" ? " (absent)" : ""}`,
    `+++ b/${c.kind} ${c.name}${c.change === "removed" ? " (absent)" : ""}`,
    ...definitionDiff(c.before, c.after),
  ];
}

function dataLines(data: TableDataChange[]): string[] {
  const changed = data.filter((t) => t.changed);
  if (changed.length === 0) return ["No table's rows changed."];
  const n = (v: number | null) => (v === null ? "-" : String(v));
  return [
    `Tables whose rows changed (${changed[0].method === "exact" ? "counted" : "estimated"}):`,
    table(
      ["TABLE", "ROWS BEFORE", "ROWS AFTER", "INSERTED", "UPDATED", "DELETED"],
      changed.map((t) => [
        t.table,
        n(t.rowsBase),
        n(t.rowsCompare),
        n(t.inserted),
        n(t.updated),
        n(t.deleted),
      ]),
    ),
  ];
}

/** `branch diff`: a unified diff per object; exit 1 on differences with `--exit-code`. */
export const branchDiffView: View<{ diff: DiffResult; exitCode?: boolean }> = {
  json: ({ diff: d }): BranchDiffJson => ({
    base: d.base,
    compare: d.compare,
    database: d.database,
    engine: d.engine,
    hasChanges: d.hasChanges,
    objects: d.objects.map(objectChangeJson),
    statements: d.statements,
    data: d.data,
    dumpChanges: d.dumpChanges,
  }),
  text: ({ diff: d }) => {
    const from = d.base.snapshot === null
      ? `branch '${d.base.branch}'`
      : `snapshot '${d.base.snapshot}' (origin of '${d.compare.branch}')`;
    const lines = [`Schema of database '${d.database}': ${from} → branch '${d.compare.branch}'`];
    if (d.objects.length === 0 && d.statements.length === 0 && d.dumpChanges.length === 0) {
      lines.push("No schema differences.");
    }
    for (const c of d.objects) lines.push("", ...objectDiffLines(c));
    if (d.objects.length === 0 && d.dumpChanges.length > 0) {
      lines.push(
        "",
        `pg_dump sees changes the engine does not model (a merge refuses them): ${
          d.dumpChanges.join(", ")
        }`,
      );
    }
    if (d.data) lines.push("", ...dataLines(d.data));
    return lines.join("\n");
  },
  exitCode: ({ diff, exitCode }) => (exitCode && diff.hasChanges ? 1 : 0),
};

/** `branch merge -f json`. */
export interface BranchMergeJson {
  branch: string;
  into: string;
  base: string;
  database: string;
  engine: string;
  objects: ObjectChangeJson[];
  statements: string[];
  dataLoss: { statement: string; reason: string }[];
  dryRun: boolean;
  applied: boolean;
  preMergeSnapshot: string | null;
  output: string | null;
  /**
   * The proof, by pg_dump, that the script gives the three-way merge: `proven` is false only
   * when `--allow-difference` accepted the `differences` it lists.
   */
  proof: {
    proven: boolean;
    objectsChecked: number;
    differences: { object: string; expected: string; problem: string; detail: string }[];
  };
}

/** `branch merge`: the SQL with --dry-run, else what was merged and how to undo it. */
export const branchMergeView: View<MergeResult> = {
  json: (r): BranchMergeJson => ({
    branch: r.branch,
    into: r.into,
    base: r.base,
    database: r.database,
    engine: r.engine,
    objects: r.objects.map(objectChangeJson),
    statements: r.statements,
    dataLoss: r.dataLoss,
    dryRun: r.dryRun,
    applied: r.applied,
    preMergeSnapshot: r.preMergeSnapshot,
    output: r.output,
    proof: {
      proven: r.proof.differences.length === 0,
      objectsChecked: r.proof.objectsChecked,
      differences: r.proof.differences,
    },
  }),
  text: (r) => {
    if (r.statements.length === 0) {
      return `Nothing to merge: '${r.into}' already has the schema changes of '${r.branch}'.`;
    }
    if (r.dryRun) return migrationFile(r).trimEnd();
    const lines = [
      `Merged ${r.objects.length} schema change(s) of '${r.branch}' into '${r.into}' (${r.statements.length} statement(s)).`,
      proofLine(r),
      `Undo: 'zvpg branch reset ${r.into} --to ${r.preMergeSnapshot}' puts '${r.into}' back as it was.`,
    ];
    if (r.output) lines.push(`Migration written to ${r.output}.`);
    return lines.join("\n");
  },
  note: (r) => r.statements.length > 0 ? "Rows are not merged: only the schema." : undefined,
};

/** What the proof of a merge found, in one line. */
export function proofLine(r: MergeResult): string {
  const n = r.proof.differences.length;
  return n === 0
    ? `Proven: pg_dump of '${r.into}' with the script matches the three-way merge (${r.proof.objectsChecked} objects compared).`
    : `Not proven: ${n} object(s) unlike the three-way merge, accepted with --allow-difference.`;
}

// ---------------------------------------------------------------------------------------
// connection helpers

/** `branch url -f json`. */
export interface BranchUrlJson {
  branch: string;
  /** What `branch url` prints: naming the passfile, or with the password when shown. */
  uri: string;
  host: string;
  port: number;
  user: string;
  database: string;
  /** The branch's 0600 pgpass file. */
  passfile: string;
  /** Only with `--show-password`. */
  password?: string;
}

/** The URI `branch url` prints: with the password when shown, else naming the passfile. */
export function branchUri(c: BranchConnection): string {
  return c.password === undefined
    ? libpqUri(c.connection, { passfile: c.connection.passfile })
    : libpqUri(c.connection, { password: c.password });
}

/** `branch url`: the URI alone. */
export const branchUrlView: View<BranchConnection> = {
  json: (c): BranchUrlJson => ({
    branch: c.connection.branch,
    uri: branchUri(c),
    host: c.connection.host,
    port: c.connection.port,
    user: c.connection.user,
    database: c.connection.database,
    passfile: c.connection.passfile,
    ...(c.password === undefined ? {} : { password: c.password }),
  }),
  text: branchUri,
};

/** `branch env -f json`: the variables, all strings. */
export type BranchEnvJson = Record<string, string>;

/** `branch env`: `export K=V` lines for `eval`, or `K=V` lines for `$GITHUB_ENV`. */
export function branchEnvView(dialect: EnvDialect): View<BranchConnection> {
  return {
    json: (c): BranchEnvJson => connectionEnv(c.connection, { password: c.password }),
    text: (c) => envLines(connectionEnv(c.connection, { password: c.password }), dialect),
  };
}

// ---------------------------------------------------------------------------------------
// log

/** `log -f json` node: a snapshot or a branch head, linked to the node it came from. */
export interface LogNodeJson {
  /** Unique: a snapshot's full ZFS name, a branch's dataset. */
  id: string;
  kind: "snapshot" | "branch";
  name: string;
  branch: string;
  /** A snapshot's time, a branch's creation (RFC 3339). */
  time: string;
  /** The id of the node it came from (a branch's fork point for its first node); null for a root. */
  parent: string | null;
  /** Snapshots: the message. */
  message?: string;
  /** Snapshots: taken by zvpg for a new branch. */
  auto?: boolean;
  /** Branches: the recorded state (creating, running, stopped, deleting). */
  state?: string;
  /** Branches: whether it is the default branch. */
  default?: boolean;
  /** Branches: the snapshot it was cloned from (null for the default branch). */
  origin?: string | null;
  /**
   * The remote a pulled snapshot came from (its name is `<remote>/<name>`, its branch
   * `<remote>/<branch>`); null for this pool's snapshots and branches.
   */
  remote: string | null;
}

/** `log -f json`. */
export interface LogJson {
  /** The branch asked for, or null for the whole pool. */
  branch: string | null;
  /** Children first: every node before the one it came from. */
  nodes: LogNodeJson[];
  /** Per branch shown with a WAL archive: its state and point-in-time window. */
  archives: ({ branch: string; archive: string } & ReturnType<typeof windowJson>)[];
}

function logNodeJson(n: HistoryNode): LogNodeJson {
  const base = {
    id: n.id,
    kind: n.kind,
    name: n.name,
    branch: n.branch,
    time: n.time.toISOString(),
    parent: n.parent,
    remote: n.kind === "snapshot" ? n.snapshot.remote ?? null : null,
  };
  return n.kind === "snapshot" ? { ...base, message: n.snapshot.message, auto: n.snapshot.auto } : {
    ...base,
    state: n.record.state,
    default: n.record.isDefault,
    origin: n.origin?.name ?? null,
  };
}

/** One node's text after its graph: a branch head in brackets, a snapshot with its message. */
function logNodeText(n: HistoryNode): string {
  if (n.kind === "snapshot") {
    const message = n.snapshot.message.replace(/\s+/g, " ").slice(0, 72);
    return [n.name, formatTime(n.time), n.snapshot.auto ? "(auto)" : "", message]
      .filter((p) => p !== "").join("  ");
  }
  const from = n.origin ? `, forked from ${n.origin.branch}@${n.origin.zfsName.split("@")[1]}` : "";
  const mark = n.record.isDefault ? " *" : "";
  return `[${n.name}${mark}] ${n.record.state}, created ${formatTime(n.time)}${from}`;
}

/** `log`: the graph, like `git log --graph --oneline`. */
export const logView: View<History> = {
  json: (h): LogJson => ({
    branch: h.branch,
    nodes: h.nodes.map(logNodeJson),
    archives: h.archives.map((a) => ({
      branch: a.branch,
      archive: a.archive,
      ...windowJson(a.window),
    })),
  }),
  text: (h) =>
    [
      ...graphLines(h.nodes).map((l) => {
        if (l.node === null) return l.graph;
        return `${l.graph} ${logNodeText(h.nodes[l.node])}`;
      }),
      ...h.archives.map((a) =>
        `WAL archive of '${a.branch}' (${a.archive}): ${
          a.window ? windowText(a.window) : "no window"
        }`
      ),
    ].join("\n"),
  note: (h) => h.nodes.length === 0 ? "no history" : undefined,
};

/** `refresh -f json`. */
export interface RefreshJson {
  branch: string;
  port: number;
  source: string;
  mode: string;
  snapshot: string;
  durationMs: number;
  /** `sha256:<hex>` of the masking rules the new copy was masked with; null: not masked. */
  masked: string | null;
}

/** `refresh`: main switched to a new copy of its source. */
export const refreshView: View<RefreshResult> = {
  json: (r): RefreshJson => ({
    branch: r.branch,
    port: r.port,
    source: r.source,
    mode: r.mode,
    snapshot: r.snapshot,
    durationMs: r.durationMs,
    masked: r.masked,
  }),
  text: (r) =>
    `Refreshed '${r.branch}' from ${r.source} (${r.mode}${
      r.masked ? `, masked by ${r.masked}` : ""
    }) on port ${r.port}; snapshot '${r.snapshot}'.`,
};

// ---------------------------------------------------------------------------------------
// remotes

/** `remote add|list|remove -f json`: one remote. */
export interface RemoteJson {
  name: string;
  /** The URL as given. */
  url: string;
  kind: "ssh" | "file";
  /** ssh only; null: ssh's default user. */
  user: string | null;
  /** ssh only. */
  host: string | null;
  /** ssh only; null: ssh's default port. */
  port: number | null;
  /** The directory (file) or the path after the host (ssh, null when none). */
  path: string | null;
  /** Push refuses every snapshot that is not masked (`remote add --masked-only`). */
  maskedOnly: boolean;
}

/** The JSON form of a remote. */
export function remoteJson(r: Remote): RemoteJson {
  const { url } = r;
  const ssh = url.kind === "ssh" ? url : undefined;
  return {
    name: r.name,
    url: url.href,
    kind: url.kind,
    user: ssh?.user ?? null,
    host: ssh?.host ?? null,
    port: ssh?.port ?? null,
    path: url.path,
    maskedOnly: r.maskedOnly === true,
  };
}

/** `remote add`: the remote added. */
export const remoteAddedView: View<Remote> = {
  json: remoteJson,
  text: (r) =>
    `Added remote '${r.name}': ${r.url.href}${r.maskedOnly ? " (masked snapshots only)" : ""}`,
};

/** `remote remove -f json`: the remote removed, and what was pulled from it. */
export interface RemoteRemovedJson extends RemoteJson {
  /** The snapshots pulled from it (`<remote>/<name>`), destroyed with it. */
  removedSnapshots: string[];
  /** Its remote-tracking datasets, destroyed with it. */
  removedDatasets: string[];
}

/** `remote remove`: the remote removed, after the snapshots pulled from it. */
export const remoteRemovedView: View<RemoteRemoveResult> = {
  json: (r): RemoteRemovedJson => ({
    ...remoteJson(r.remote),
    removedSnapshots: r.removedSnapshots,
    removedDatasets: r.removedDatasets,
  }),
  text: (r) =>
    [
      ...r.removedSnapshots.map((s) => `Deleted snapshot '${s}'`),
      `Removed remote '${r.remote.name}' (${r.remote.url.href})`,
    ].join("\n"),
};

/** `remote list`: a table, or "no remotes" on stderr. */
export const remoteListView: View<Remote[]> = {
  json: (remotes) => remotes.map(remoteJson),
  text: (remotes) =>
    remotes.length === 0
      ? ""
      : table(["NAME", "KIND", "URL"], remotes.map((r) => [r.name, r.url.kind, r.url.href])),
  note: (remotes) => remotes.length === 0 ? "no remotes" : undefined,
};

/** `push -f json`. */
export interface PushJson {
  remote: string;
  snapshot: string;
  branch: string;
  guid: string;
  pushed: boolean;
  base: string | null;
  bytes: number;
  remoteName: string;
  resumed: boolean;
  taken: boolean;
  keptAs: string | null;
  durationMs: number;
}

/** `push`: what was sent, or that the remote had it. */
export const pushView: View<PushResult> = {
  json: (r): PushJson => ({
    remote: r.remote,
    snapshot: r.snapshot,
    branch: r.branch,
    guid: r.guid,
    pushed: r.pushed,
    base: r.base,
    bytes: r.bytes,
    remoteName: r.remoteName,
    resumed: r.resumed,
    taken: r.taken,
    keptAs: r.keptAs,
    durationMs: r.durationMs,
  }),
  text: (r) =>
    (r.taken ? `Took snapshot '${r.snapshot}' of branch '${r.branch}'\n` : "") +
    (r.keptAs === null ? "" : `Kept what was in the way on '${r.remote}' as ${r.keptAs}\n`) +
    (!r.pushed
      ? `Remote '${r.remote}' holds snapshot '${r.snapshot}' already${
        r.remoteName === r.snapshot ? "" : ` (as ${r.remoteName})`
      }`
      : `Pushed snapshot '${r.snapshot}' to '${r.remote}'${
        r.remoteName === r.snapshot ? "" : ` (there: ${r.remoteName})`
      } ${
        r.resumed
          ? "resuming its partial receive"
          : r.base === null
          ? "whole"
          : `as an increment from '${r.base}'`
      } (${formatBytes(r.bytes)})`),
};

/** `pull -f json`. */
export interface PullJson {
  remote: string;
  snapshot: string;
  branch: string;
  guid: string;
  pulled: boolean;
  streams: number;
  bytes: number;
  base: string | null;
  resumed: boolean;
  zfsName: string;
  keptAs: string | null;
  durationMs: number;
}

/** `pull`: what was received, or that this host had it. */
export const pullView: View<PullResult> = {
  json: (r): PullJson => ({
    remote: r.remote,
    snapshot: r.snapshot,
    branch: r.branch,
    guid: r.guid,
    pulled: r.pulled,
    streams: r.streams,
    bytes: r.bytes,
    base: r.base,
    resumed: r.resumed,
    zfsName: r.zfsName,
    keptAs: r.keptAs,
    durationMs: r.durationMs,
  }),
  text: (r) =>
    (r.keptAs === null ? "" : `Kept what was in the way as ${r.keptAs}\n`) +
    (!r.pulled
      ? `Snapshot '${r.snapshot}' of '${r.remote}' is here already (${r.zfsName})`
      : `Pulled snapshot '${r.snapshot}' from '${r.remote}' into ${r.zfsName} (${r.streams} ${
        r.streams === 1 ? "stream" : "streams"
      }, ${formatBytes(r.bytes)})`),
};

/** `fetch -f json`. */
export interface FetchJson {
  remote: string;
  url: string;
  kind: "ssh" | "file";
  server: {
    version: string;
    zfs: {
      flavor: string;
      resume: boolean;
      sizeEstimate: boolean;
      bookmarks: boolean;
      compressed: boolean;
    };
  } | null;
  refs: {
    name: string;
    guid: string;
    branch: string;
    created: string;
    message: string;
    here: string | null;
  }[];
  missing: number;
}

/** `fetch`: what a remote holds, and which of it is here. */
export const fetchView: View<FetchResult> = {
  json: (r): FetchJson => ({
    remote: r.remote,
    url: r.url,
    kind: r.kind,
    server: r.server === null ? null : {
      version: r.server.version,
      zfs: {
        flavor: r.server.zfs.flavor,
        resume: r.server.zfs.resume,
        sizeEstimate: r.server.zfs.sizeEstimate,
        bookmarks: r.server.zfs.bookmarks,
        compressed: r.server.zfs.compressed,
      },
    },
    refs: r.refs.map((ref) => ({
      name: ref.name,
      guid: ref.guid,
      branch: ref.branch,
      created: ref.created,
      message: ref.message,
      here: ref.here,
    })),
    missing: r.refs.filter((ref) => ref.here === null).length,
  }),
  text: (r) =>
    r.refs.length === 0 ? "" : table(
      ["NAME", "BRANCH", "CREATED", "HERE", "MESSAGE"],
      r.refs.map((ref) => [
        ref.name,
        ref.branch,
        shownTime(ref.created),
        ref.here === null ? "no" : "yes",
        ref.message,
      ]),
    ),
  note: (r) => {
    const server = r.server === null ? "" : ` (zvpg ${r.server.version} on ${r.server.zfs.flavor})`;
    const missing = r.refs.filter((ref) => ref.here === null).length;
    if (r.refs.length === 0) return `remote '${r.remote}'${server} holds no snapshots`;
    return missing === 0
      ? `remote '${r.remote}'${server}: every snapshot is here`
      : `remote '${r.remote}'${server}: ${missing} of ${r.refs.length} snapshot(s) not here — 'zvpg pull ${r.remote} <snapshot>'`;
  },
};

/** An RFC 3339 time another host sent, as zvpg shows times (as sent when it is none). */
function shownTime(text: string): string {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : formatTime(date);
}

/** `clone -f json`. */
export interface CloneJson {
  remote: string;
  url: string;
  snapshot: string;
  branch: string;
  guid: string;
  snapshots: string[];
  bytes: number;
  durationMs: number;
  port: number;
  uri: string;
  steps: { step: string; changed: boolean; detail: string }[];
}

/** `clone`: its result, with main's connection URI (the password comes from the pgpass file). */
export const cloneView: View<CloneResult & { uri: string }> = {
  json: (r): CloneJson => ({
    remote: r.remote,
    url: r.url,
    snapshot: r.snapshot,
    branch: r.branch,
    guid: r.guid,
    snapshots: r.snapshots,
    bytes: r.bytes,
    durationMs: r.durationMs,
    port: r.port,
    uri: r.uri,
    steps: r.steps.map((s) => ({ step: s.step, changed: s.changed, detail: s.detail })),
  }),
  text: (r) =>
    [
      `Cloned snapshot '${r.snapshot}' of '${r.remote}' (${r.url}) as main (${
        formatBytes(r.bytes)
      }): running on port ${r.port}`,
      `Connection URI: ${r.uri}`,
    ].join("\n"),
};
