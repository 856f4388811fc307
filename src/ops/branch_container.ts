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
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import type { ContainerInfo, ContainerSpec } from "../adapters/container_runtime.ts";
import { CommandFailedError, PostgresStartError, ZvpgError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import {
  ensurePrivateDir,
  PRIVATE_FILE,
  replacePrivateFile,
  writePrivateFile,
} from "../runtime/private_fs.ts";
import type { Context } from "../context.ts";
import type { RunResult } from "../runtime/runner.ts";
import { assertNoServer } from "./data_holders.ts";
import { faultPoint } from "../runtime/fault.ts";
import { ensureMounted, ensureTreeMounted } from "./mounts.ts";
import { ioProgressSampler } from "./io_progress.ts";
import { interrupted, shielded, throwIfInterrupted } from "../runtime/interrupt.ts";
import {
  CONTAINER_CONF_DIR,
  CONTAINER_PGDATA,
  CONTAINER_SOCKET_DIR,
  LABELS,
  serverArgs,
} from "../domain/layout.ts";
import { SUPERVISOR_FILE, SUPERVISOR_SCRIPT } from "../domain/server_supervisor.ts";
import { pitrExtras } from "./wal_archive.ts";

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
 * Makes sure the sockets dataset, where runtime directories live, is mounted and answers.
 * Unmounted (the ZFS service restarted), its mountpoint is a plain empty directory: a
 * runtime directory removed there would come back with the next mount as a stray.
 */
export async function ensureRuntimeDirsMounted(ctx: Context): Promise<void> {
  await ensureMounted(ctx, ctx.layout.socketsDataset, ctx.layout.socketsMount);
}

/** Removes a branch's runtime directory, from the mounted sockets dataset. */
export async function removeRuntimeDir(ctx: Context, branch: string): Promise<void> {
  await ensureRuntimeDirsMounted(ctx);
  rmSync(ctx.layout.runtimeDir(branch), { recursive: true, force: true });
}

/**
 * Prepares a branch to start: removes a stale postmaster.pid, recreates the runtime
 * directory (0700, root's) with the socket and config directories (0700, the data
 * directory's owner's), copies the config files and writes the server supervisor (0600). The mount directories on the
 * way are made private too, so no other uid reaches the socket, whatever the umask and
 * whatever an older version left.
 */
export function prepareBranchFiles(ctx: Context, branch: string): { uid: number; gid: number } {
  const owner = dataOwner(ctx, branch);
  const { layout } = ctx;
  const pgdata = layout.pgdata(branch);
  // the one place zvpg removes postmaster.pid: only once no server can be using it
  assertNoServer(branch, pgdata);
  rmSync(join(pgdata, "postmaster.pid"), { force: true });
  for (const dir of [ctx.config.mountDir, layout.branchMount(branch), layout.socketsMount]) {
    ensurePrivateDir(dir);
  }
  const runtimeDir = layout.runtimeDir(branch);
  rmSync(runtimeDir, { recursive: true, force: true });
  ensurePrivateDir(runtimeDir);
  const sockDir = join(runtimeDir, "sock");
  const confDir = join(runtimeDir, "conf");
  ensurePrivateDir(sockDir, { owner });
  ensurePrivateDir(confDir, { owner });
  for (const [name, source] of configFiles(ctx)) {
    if (!existsSync(source)) {
      throw new ZvpgError(`PostgreSQL config file ${source} does not exist`, {
        hint: "run 'zvpg init env' to restore the defaults, or fix the path in config.json",
      });
    }
    const target = join(confDir, name);
    copyFileSync(source, target);
    chmodSync(target, PRIVATE_FILE);
    chownSync(target, owner.uid, owner.gid);
  }
  const supervisor = join(confDir, SUPERVISOR_FILE);
  // replaced, never rewritten in place: a shell reads its script as it goes, and a
  // supervisor still running from this file must not read another one
  replacePrivateFile(supervisor, SUPERVISOR_SCRIPT);
  chownSync(supervisor, owner.uid, owner.gid);
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
    // back after an engine restart or a reboot; a stopped branch has no container at all
    restart: "unless-stopped",
    // the supervisor runs the server (and can restart it in place: a reset's rollback)
    entrypoint: "sh",
    args: [
      `${CONTAINER_CONF_DIR}/${SUPERVISOR_FILE}`,
      "postgres",
      ...serverArgs(true),
      ...settings,
    ],
  };
}

/** Whether a runtime error means the host port could not be bound. */
export function isPortConflict(error: unknown): boolean {
  return error instanceof CommandFailedError &&
    /address already in use|port is already allocated|bind.*(in use|failed)/i.test(error.stderr);
}

/** Whether a runtime error means a container of that name exists already. */
export function isNameConflict(error: unknown): boolean {
  return error instanceof CommandFailedError &&
    /container name "?\/?[^" ]*"? is already in use|name "?[^" ]*"? is already used/i.test(
      error.stderr,
    );
}

/**
 * Runs the container. A container of its name (branch and port) can only be one zvpg left
 * behind (a crash between run and record): it is removed and the run made again, once. The
 * removal is paid only when there is such a leftover, not before every start.
 */
async function runReplacingLeftover(ctx: Context, spec: ContainerSpec): Promise<void> {
  try {
    await ctx.runtime.runDetached(spec);
  } catch (error) {
    if (!isNameConflict(error)) throw error;
    log.debug(`a container named '${spec.name}' was left behind; replacing it`);
    await ctx.runtime.remove(spec.name!);
    await ctx.runtime.runDetached(spec);
  }
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
  // after the ZFS service restarted, mounts are stale or gone: make them usable first
  await ensureTreeMounted(ctx);
  await ensureMounted(ctx, ctx.layout.branchDataset(branch), ctx.layout.branchMount(branch), {
    evidence: ctx.layout.pgdata(branch),
  });
  const owner = prepareBranchFiles(ctx, branch);
  const settings = startupSettings(
    dataDirVersion(ctx.layout.pgdata(branch)),
    readFileSync(ctx.config.pgConfPath, "utf8"),
  );
  const pitr = await pitrExtras(ctx, branch, owner, join(ctx.layout.runtimeDir(branch), "conf"));
  const spec = branchContainerSpec(ctx, branch, port, owner, [...settings, ...pitr.settings]);
  spec.mounts = [...spec.mounts ?? [], ...pitr.mounts];
  const name = spec.name!;
  faultPoint("container.before-run");
  try {
    await runReplacingLeftover(ctx, spec);
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
 * Waits until the branch's PostgreSQL accepts connections (polling every 25 ms). A server
 * in crash recovery that keeps doing I/O is waited for past `readyTimeoutSeconds`, with a
 * progress line every few seconds. When the container exits, or the time is up with no
 * progress, throws {@link PostgresStartError} at once with the exit code and the log's
 * tail, and keeps the log in a file the message names (the caller removes the container).
 */
export async function waitBranchReady(
  ctx: Context,
  branch: string,
  container: string,
  port: number,
): Promise<void> {
  const { config, layout } = ctx;
  const started = Date.now();
  // the exit code as seen when the exit was: a restart policy may run the server again
  let exitCode: number | undefined;
  const stillAlive = async () => {
    const seen = await ctx.runtime.inspectState(container);
    if (seen?.state === "running") return true;
    exitCode = seen?.exitCode;
    return false;
  };
  const outcome = await ctx.pg.waitReady(
    layout.connectHost,
    port,
    config.postgresUser,
    config.postgresDb,
    {
      timeoutMs: config.readyTimeoutSeconds * 1000,
      intervalMs: 25,
      stillAlive,
      cancelled: interrupted,
      progressed: ioProgressSampler(layout.pgdata(branch)),
      onOvertime: (ms) =>
        log.info(
          `branch '${branch}': PostgreSQL is still in crash recovery (${Math.round(ms / 1000)} s)…`,
        ),
    },
  );
  if (outcome === "ready") return;
  throwIfInterrupted();
  const logs = await ctx.runtime.logs(container, SAVED_LOG_LINES).catch(() => "");
  const lastLines = logs.split("\n").filter((l) => l.trim() !== "").slice(-5).join(" | ") ||
    "(no container output)";
  const saved = saveContainerLog(ctx, container, logs);
  const where = saved
    ? `its log is kept in ${saved}`
    : `'${config.containerRuntime} logs ${container}' may still have its log`;
  if (outcome === "exited") {
    const code = exitCode;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    throw new PostgresStartError(
      `PostgreSQL of branch '${branch}' exited${
        code === undefined ? "" : ` with code ${code}`
      } ${seconds}s after its start: ${lastLines}`,
      { hint: `${where}; check ${config.pgConfPath}` },
    );
  }
  throw new PostgresStartError(
    `PostgreSQL of branch '${branch}' did not accept connections on port ${port} within ${config.readyTimeoutSeconds}s and made no progress: ${lastLines}`,
    { hint: `${where}; check ${config.pgConfPath}, or raise readyTimeoutSeconds` },
  );
}

/** How many lines of a failed container's log are kept. */
const SAVED_LOG_LINES = 200;

/**
 * Keeps a failed container's log in `<logDir>/<container>.log` (mode 0600) before the
 * container is removed; returns the file, or undefined when it cannot be written.
 */
export function saveContainerLog(
  ctx: Context,
  container: string,
  logs: string,
): string | undefined {
  const file = join(ctx.config.logDir, `${container}.log`);
  try {
    ensurePrivateDir(ctx.config.logDir, { fixExisting: false });
    writePrivateFile(
      file,
      `# last ${SAVED_LOG_LINES} lines of container ${container}, saved by zvpg at ${ctx.now().toISOString()}\n${logs}\n`,
    );
    return file;
  } catch (error) {
    log.debug(`could not keep the log of ${container} in ${file}: ${(error as Error).message}`);
    return undefined;
  }
}

/** Every container of `branch` in this pool, running or not (found by label). */
export function branchContainers(ctx: Context, branch: string): Promise<ContainerInfo[]> {
  return ctx.runtime.list({ [LABELS.pool]: ctx.layout.pool, [LABELS.branch]: branch });
}

/**
 * The containers an import of main's data runs: main's own, and the private loader server
 * (see src/ops/pg_client.ts) while it loads.
 */
export async function importContainers(ctx: Context): Promise<ContainerInfo[]> {
  return [
    ...await branchContainers(ctx, ctx.config.branchDefault),
    ...await ctx.runtime.list({ [LABELS.pool]: ctx.layout.pool, "zvpg.role": "import" }),
  ];
}

/** Stops (fast shutdown) and removes a branch's container. */
export async function stopBranchContainer(ctx: Context, container: string): Promise<void> {
  log.debug(`stopping container ${container}`);
  await ctx.runtime.stop(container, ctx.config.stopTimeoutSeconds);
  await ctx.runtime.remove(container);
}

/** Options of {@link execInBranch} and {@link execSql}. */
export interface ExecOptions {
  /** Kill the client after this many milliseconds (default: the runtime's 2 minutes). */
  timeoutMs?: number;
  /** Written to the client's standard input. */
  stdin?: string;
}

/**
 * Runs `argv` (a PostgreSQL client) in a branch's container as the data directory's owner,
 * which owns the socket directory; {@link localClientArgs} connects it.
 */
export async function execInBranch(
  ctx: Context,
  branch: string,
  container: string,
  argv: string[],
  options: ExecOptions = {},
): Promise<RunResult> {
  const owner = dataOwner(ctx, branch);
  return await ctx.runtime.exec(container, `${owner.uid}:${owner.gid}`, argv, {
    timeoutMs: options.timeoutMs,
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
  });
}

/** The arguments that connect a client in a branch's container: its socket, zvpg's user. */
export function localClientArgs(ctx: Context): string[] {
  return ["-h", CONTAINER_SOCKET_DIR, "-U", ctx.config.postgresUser];
}

/**
 * Runs one SQL command with psql in a branch's container (in `database`, default zvpg's)
 * and returns its unaligned, tuples-only output; `timing` adds psql's `Time: … ms` line.
 * The SQL goes on psql's standard input, never in its arguments: no process list shows
 * it, whatever it names.
 */
export async function execSql(
  ctx: Context,
  branch: string,
  container: string,
  sql: string,
  options: ExecOptions & { database?: string; timing?: boolean } = {},
): Promise<string> {
  const result = await execInBranch(ctx, branch, container, [
    "psql",
    "-X",
    "-q",
    "-t",
    "-A",
    "-v",
    "ON_ERROR_STOP=1",
    ...localClientArgs(ctx),
    "-d",
    options.database ?? ctx.config.postgresDb,
  ], { ...options, stdin: `${options.timing ? "\\timing on\n" : ""}${sql}\n` });
  return result.stdout;
}
