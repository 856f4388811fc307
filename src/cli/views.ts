/**
 * Every `-f json` schema (documented in the README: fields may be added, never renamed or
 * removed) and its text form for people, one {@link View} per kind of result.
 *
 * @module
 */
import type { Check } from "../domain/check.ts";
import { allPassed } from "../domain/check.ts";
import type { Context } from "../runtime/context.ts";
import type { InitStep } from "../workflows/init_service.ts";
import type { BranchRecord, SnapshotRecord } from "../domain/inventory.ts";
import type { BranchDeleteResult, PhaseTimings } from "../workflows/branch_service.ts";
import type { SnapshotDeleteResult } from "../workflows/snapshot_service.ts";
import type { RefreshResult } from "../workflows/refresh_service.ts";
import type { BranchStatusRow, RepairAction, SystemStatus } from "../workflows/status_service.ts";
import { fields, formatBytes, formatTime, table } from "./output.ts";
import type { View } from "./render.ts";

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
  removedBranches: string[];
  removedSnapshots: string[];
  removedDatasets: string[];
}

/** `snapshot delete`, `commit remove`: what was removed. */
export function snapshotDeleteView(noun: string): View<SnapshotDeleteResult> {
  return {
    json: (r): SnapshotDeleteJson => ({
      snapshot: r.snapshot,
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
  uri: string | null;
  dataset: string;
  mountpoint: string;
}

/** A libpq URI for a running branch; the password comes from the pgpass file. */
export function connectionUri(ctx: Context, port: number): string {
  const host = ctx.layout.connectHost.includes(":")
    ? `[${ctx.layout.connectHost}]`
    : ctx.layout.connectHost;
  return `postgresql://${ctx.config.postgresUser}@${host}:${port}/${ctx.config.postgresDb}?passfile=${
    encodeURIComponent(ctx.layout.passFile)
  }`;
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
    uri: running ? connectionUri(ctx, b.port!) : null,
    dataset: b.dataset,
    mountpoint: b.mountpoint,
  };
}

/** `branch list`: a table, the default branch marked `*`. */
export function branchListView(ctx: Context): View<BranchRecord[]> {
  return {
    json: (branches) => branches.map((b) => branchJson(ctx, b)),
    text: (branches) =>
      table(
        ["NAME", "STATUS", "PORT", "PARENT", "ORIGIN", "USED", "CREATED"],
        branches.map((b) => [
          b.isDefault ? `${b.name} *` : b.name,
          b.status,
          branchJson(ctx, b).port ?? "-",
          b.parent ?? "-",
          b.origin ?? "-",
          formatBytes(b.used),
          formatTime(b.created),
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
    ["Dataset", b.dataset],
    ["Mountpoint", b.mountpoint],
  ]);
}

/** `branch info`. */
export function branchInfoView(ctx: Context): View<BranchRecord> {
  return { json: (b) => branchJson(ctx, b), text: (b) => branchFields(ctx, b) };
}

/** A created branch and, with `--timings`, its phase timings. */
export interface BranchCreated {
  branch: BranchRecord;
  timings?: PhaseTimings;
}

function roundTimings(timings: PhaseTimings): PhaseTimings {
  return Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)]));
}

/** `branch create`: the branch (plus `timings` in ms with `--timings`). */
export function branchCreatedView(ctx: Context): View<BranchCreated> {
  return {
    json: ({ branch, timings }) => {
      const json = branchJson(ctx, branch);
      return timings ? { ...json, timings: roundTimings(timings) } : json;
    },
    text: ({ branch, timings }) =>
      [
        `Created branch '${branch.name}' from snapshot '${branch.origin}'`,
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
    [...(repairs ?? []).map(repairLine), ...checkLines(checks)].join("\n"),
  exitCode: ({ checks }) => allPassed(checks) ? 0 : 1,
};

// ---------------------------------------------------------------------------------------
// status

/** `status system -f json`. */
export type SystemJson = SystemStatus;

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
    text: (rows) =>
      table(
        ["NAME", "STATUS", "PORT", "READY", "PARENT", "ORIGIN", "USED", "REFERENCED", "CREATED"],
        rows.map(({ branch: b, ready }) => [
          b.name,
          b.status,
          branchJson(ctx, b).port ?? "-",
          ready === null ? "-" : ready ? "yes" : "no",
          b.parent ?? "-",
          b.origin ?? "-",
          formatBytes(b.used),
          formatBytes(b.referenced),
          formatTime(b.created),
        ]),
      ),
  };
}

/** `refresh -f json`. */
export interface RefreshJson {
  branch: string;
  port: number;
  source: string;
  mode: string;
  snapshot: string;
  duration_ms: number;
}

/** `refresh`: main switched to a new copy of its source. */
export const refreshView: View<RefreshResult> = {
  json: (r): RefreshJson => ({
    branch: r.branch,
    port: r.port,
    source: r.source,
    mode: r.mode,
    snapshot: r.snapshot,
    duration_ms: r.durationMs,
  }),
  text: (r) =>
    `Refreshed '${r.branch}' from ${r.source} (${r.mode}) on port ${r.port}; snapshot '${r.snapshot}'.`,
};
