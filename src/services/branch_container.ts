/**
 * Starting and stopping the PostgreSQL container of one branch: runtime directories,
 * config copies, the stale `postmaster.pid`, the `run` itself and the readiness wait.
 *
 * @module
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import type { ContainerSpec } from "../adapters/container_runtime.ts";
import { CommandFailedError, PostgresStartError, ZvpgError } from "../errors.ts";
import { log } from "../log.ts";
import type { Context } from "./context.ts";
import { faultPoint } from "./fault.ts";
import { interrupted, shielded, throwIfInterrupted } from "./interrupt.ts";
import { CONTAINER_CONF_DIR, CONTAINER_PGDATA, CONTAINER_SOCKET_DIR, LABELS } from "./layout.ts";

/** The PostgreSQL config files every container gets, and where they come from. */
function configFiles(ctx: Context): [string, string][] {
  const c = ctx.config;
  return [
    ["postgresql.conf", c.pgConfPath],
    ["pg_hba.conf", c.pgHbaPath],
    ["pg_ident.conf", c.pgIdentPath],
  ];
}

/** The uid:gid that owns a branch's data directory (the image's postgres user). */
export function dataOwner(ctx: Context, branch: string): { uid: number; gid: number } {
  const pgdata = ctx.layout.pgdata(branch);
  try {
    const info = statSync(pgdata);
    return { uid: info.uid, gid: info.gid };
  } catch {
    throw new ZvpgError(`branch '${branch}' has no data directory at ${pgdata}`, {
      hint: "its dataset may not be mounted: check 'zfs list' and 'zvpg status health'",
    });
  }
}

/**
 * Prepares a branch to start: removes a stale postmaster.pid, recreates the socket
 * directory and copies the config files, owned by the data directory's owner.
 */
export function prepareBranchFiles(ctx: Context, branch: string): { uid: number; gid: number } {
  const owner = dataOwner(ctx, branch);
  const pgdata = ctx.layout.pgdata(branch);
  rmSync(join(pgdata, "postmaster.pid"), { force: true });
  const runtimeDir = ctx.layout.runtimeDir(branch);
  rmSync(runtimeDir, { recursive: true, force: true });
  const sockDir = join(runtimeDir, "sock");
  const confDir = join(runtimeDir, "conf");
  mkdirSync(sockDir, { recursive: true });
  mkdirSync(confDir, { recursive: true });
  for (const [name, source] of configFiles(ctx)) {
    if (!existsSync(source)) {
      throw new ZvpgError(`PostgreSQL config file ${source} does not exist`, {
        hint: "run 'zvpg init env' to restore the defaults, or fix the path in config.json",
      });
    }
    const target = join(confDir, name);
    copyFileSync(source, target);
    chmodSync(target, 0o600);
    chownSync(target, owner.uid, owner.gid);
  }
  chmodSync(runtimeDir, 0o755);
  chmodSync(sockDir, 0o775);
  chownSync(sockDir, owner.uid, owner.gid);
  chmodSync(confDir, 0o700);
  chownSync(confDir, owner.uid, owner.gid);
  return owner;
}

/**
 * Server settings zvpg adds for quick start-up. A branch cloned from a snapshot of a
 * running server starts with crash recovery, and PostgreSQL first fsyncs every file of
 * the data directory (`recovery_init_sync_method = fsync`, the default): most of its
 * start-up time, growing with the database. The clone's blocks are already durable on
 * ZFS; `syncfs` (PostgreSQL 14+) syncs the file system with one call instead. Not set
 * for older servers, nor when the user's postgresql.conf sets it.
 */
export function startupSettings(pgVersion: number | undefined, postgresqlConf: string): string[] {
  if (pgVersion === undefined || pgVersion < 14) return [];
  if (/^\s*recovery_init_sync_method/m.test(postgresqlConf)) return [];
  return ["-c", "recovery_init_sync_method=syncfs"];
}

/** The major version in a data directory's `PG_VERSION`, or undefined. */
export function dataDirVersion(pgdata: string): number | undefined {
  try {
    const major = parseInt(readFileSync(join(pgdata, "PG_VERSION"), "utf8").trim(), 10);
    return Number.isFinite(major) ? major : undefined;
  } catch {
    return undefined;
  }
}

/** The container specification of a branch on a port. */
export function branchContainerSpec(
  ctx: Context,
  branch: string,
  port: number,
  owner: { uid: number; gid: number },
  settings: string[] = [],
): ContainerSpec {
  const { layout, config } = ctx;
  const runtimeDir = layout.runtimeDir(branch);
  return {
    image: config.pgBaseImage,
    name: layout.containerName(branch, port),
    labels: {
      [LABELS.pool]: layout.pool,
      [LABELS.branch]: branch,
      [LABELS.dataset]: layout.branchDataset(branch),
      [LABELS.port]: String(port),
    },
    user: `${owner.uid}:${owner.gid}`,
    mounts: [
      { source: layout.pgdata(branch), target: CONTAINER_PGDATA },
      { source: join(runtimeDir, "sock"), target: CONTAINER_SOCKET_DIR },
      { source: join(runtimeDir, "conf"), target: CONTAINER_CONF_DIR, readonly: true },
    ],
    publish: { hostAddress: config.bindAddress, hostPort: port, containerPort: 5432 },
    stopSignal: "SIGINT",
    entrypoint: "postgres",
    args: [
      "-D",
      CONTAINER_PGDATA,
      "-c",
      `config_file=${CONTAINER_CONF_DIR}/postgresql.conf`,
      "-c",
      `hba_file=${CONTAINER_CONF_DIR}/pg_hba.conf`,
      "-c",
      `ident_file=${CONTAINER_CONF_DIR}/pg_ident.conf`,
      "-c",
      "port=5432",
      "-c",
      "listen_addresses=*",
      "-c",
      `unix_socket_directories=${CONTAINER_SOCKET_DIR}`,
      ...settings,
    ],
  };
}

/** Whether a runtime error means the host port could not be bound. */
export function isPortConflict(error: unknown): boolean {
  return error instanceof CommandFailedError &&
    /address already in use|port is already allocated|bind.*(in use|failed)/i.test(error.stderr);
}

/**
 * Starts a branch's container on `port` (the caller holds the lock and has checked that
 * no container of the branch runs). On failure the container is removed and the error
 * rethrown. Returns the container name.
 */
export async function runBranchContainer(
  ctx: Context,
  branch: string,
  port: number,
): Promise<string> {
  if (!existsSync(ctx.layout.pgdata(branch))) {
    // after a ZFS daemon restart datasets come back unmounted
    await ctx.zfs.mount(ctx.layout.branchDataset(branch));
  }
  const owner = prepareBranchFiles(ctx, branch);
  const settings = startupSettings(
    dataDirVersion(ctx.layout.pgdata(branch)),
    readFileSync(ctx.config.pgConfPath, "utf8"),
  );
  const spec = branchContainerSpec(ctx, branch, port, owner, settings);
  const name = spec.name!;
  await ctx.runtime.remove(name);
  faultPoint("container.before-run");
  try {
    await ctx.runtime.runDetached(spec);
  } catch (error) {
    // even when interrupted: a `run` stopped by a signal may have made the container
    await shielded(() => ctx.runtime.remove(name)).catch(() => {});
    if (
      error instanceof CommandFailedError &&
      /no such image|image not known|not found|pull access denied|unable to find image/i.test(
        error.stderr,
      )
    ) {
      throw new ZvpgError(
        `image '${ctx.config.pgBaseImage}' is not available to ${ctx.config.containerRuntime}`,
        {
          hint: "pull or build it, or set pgBaseImage in config.json",
          cause: error,
        },
      );
    }
    throw error;
  }
  faultPoint("container.after-run");
  return name;
}

/**
 * Waits until the branch's PostgreSQL accepts connections (polling every 25 ms). On
 * timeout or early exit throws {@link PostgresStartError} with the container log's tail.
 */
export async function waitBranchReady(
  ctx: Context,
  branch: string,
  container: string,
  port: number,
): Promise<void> {
  const { config, layout } = ctx;
  const ready = await ctx.pg.waitReady(
    layout.connectHost,
    port,
    config.postgresUser,
    config.postgresDb,
    {
      timeoutMs: config.readyTimeoutSeconds * 1000,
      intervalMs: 25,
      stillAlive: async () => (await ctx.runtime.state(container)) === "running",
      cancelled: interrupted,
    },
  );
  if (ready) return;
  throwIfInterrupted();
  const logs = await ctx.runtime.logs(container, 15).catch(() => "");
  const lastLines = logs.split("\n").filter((l) => l.trim() !== "").slice(-5).join(" | ");
  throw new PostgresStartError(
    `PostgreSQL of branch '${branch}' did not accept connections on port ${port} within ${config.readyTimeoutSeconds}s: ${
      lastLines || "(no container output)"
    }`,
    { hint: `check ${config.pgConfPath} and '${config.containerRuntime} logs ${container}'` },
  );
}

/** Stops (fast shutdown) and removes a branch's container. */
export async function stopBranchContainer(ctx: Context, container: string): Promise<void> {
  log.debug(`stopping container ${container}`);
  await ctx.runtime.stop(container, ctx.config.stopTimeoutSeconds);
  await ctx.runtime.remove(container);
}

/** Runs SQL through the container's local socket (trusted), returning stdout. */
export async function execSql(
  ctx: Context,
  branch: string,
  container: string,
  sql: string,
): Promise<string> {
  const owner = dataOwner(ctx, branch);
  const result = await ctx.runtime.exec(container, `${owner.uid}:${owner.gid}`, [
    "psql",
    "-X",
    "-q",
    "-t",
    "-A",
    "-v",
    "ON_ERROR_STOP=1",
    "-h",
    CONTAINER_SOCKET_DIR,
    "-U",
    ctx.config.postgresUser,
    "-d",
    ctx.config.postgresDb,
    "-c",
    sql,
  ]);
  return result.stdout;
}
