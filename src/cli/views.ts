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
}

/** `branch list|info -f json` element. */
export interface BranchJson {
  name: string;
  default: boolean;
  parent: string | null;
  origin: string | null;
  status: string;
  port: number | null;
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
    port: b.port,
    container: b.container?.name ?? null,
    created: b.created.toISOString(),
    used: b.used,
    referenced: b.referenced,
    uri: running ? connectionUri(ctx, b.port!) : null,
    dataset: b.dataset,
    mountpoint: b.mountpoint,
  };
}
