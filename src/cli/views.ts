/**
 * The JSON schemas of command output (documented in the README) and their table forms.
 *
 * @module
 */
import type { Context } from "../services/context.ts";
import type { BranchRecord, SnapshotRecord } from "../services/inventory.ts";

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
