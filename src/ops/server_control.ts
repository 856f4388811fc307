/**
 * Stopping and starting a branch's server inside its running container, through the
 * supervisor every branch container runs (src/domain/server_supervisor.ts): no container
 * engine call, the container, its port and its mounts stay.
 *
 * Invariant: {@link pauseServer} reports a pause only once no process works in the data
 * directory any more, so the data may then be rolled back; {@link resumeServer} starts a
 * server only after {@link assertNoServer} found none. Anything unexpected (no supervisor,
 * an older container, no stop in time) returns undefined, and the caller ends the
 * container the engine's way instead.
 *
 * @module
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ZvpgError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../context.ts";
import { CONTAINER_CONF_DIR } from "../domain/layout.ts";
import { SUPERVISOR_FILE } from "../domain/server_supervisor.ts";
import { assertNoServer, processesIn, type ProcessTable, procTable } from "./data_holders.ts";

/** The command line every supervisor runs with (`sh /etc/zvpg/serve.sh postgres …`). */
const SUPERVISOR_PATH = `${CONTAINER_CONF_DIR}/${SUPERVISOR_FILE}`;

/** How long a stopped server may take to leave its data directory. */
const PAUSE_TIMEOUT_MS = 10_000;

/** A branch's server stopped by its supervisor, which waits to start it again. */
export interface PausedServer {
  /** The supervisor's pid on this host. */
  supervisor: number;
  /** When it started: a pid taken again by another process is never signalled. */
  startTime: number;
}

/**
 * The supervisor serving `pgdata`: the one parent of the processes working in it that are
 * not themselves among them, running zvpg's supervisor script. Undefined when there is
 * none, or more than one (never guess whom to signal).
 */
export function findSupervisor(
  pgdata: string,
  table: ProcessTable = procTable,
): number | undefined {
  const holders = new Set(processesIn(pgdata, table).map((h) => h.pid));
  const parents = new Set<number>();
  for (const pid of holders) {
    const parent = table.parent(pid);
    if (parent !== undefined && !holders.has(parent)) parents.add(parent);
  }
  if (parents.size !== 1) return undefined;
  const [supervisor] = parents;
  return runsSupervisor(supervisor, table) ? supervisor : undefined;
}

/** Whether `pid` runs zvpg's supervisor script (a container made by an older zvpg does not). */
function runsSupervisor(pid: number, table: ProcessTable): boolean {
  return table.commandLine(pid).includes(SUPERVISOR_PATH);
}

/**
 * Stops the server of `branch` inside its container (immediate shutdown: its data is
 * about to be thrown away) and waits until no process works in its data directory.
 * Undefined when the container has no supervisor or the server did not leave in time.
 */
export async function pauseServer(
  ctx: Context,
  branch: string,
  table: ProcessTable = procTable,
  timeoutMs = PAUSE_TIMEOUT_MS,
): Promise<PausedServer | undefined> {
  const pgdata = ctx.layout.pgdata(branch);
  const supervisor = findSupervisor(pgdata, table);
  if (supervisor === undefined) return undefined;
  const startTime = table.startTime(supervisor);
  if (startTime === undefined) return undefined;
  try {
    Deno.kill(supervisor, "SIGUSR1");
  } catch (error) {
    log.debug(`could not signal the supervisor of '${branch}': ${(error as Error).message}`);
    return undefined;
  }
  const deadline = Date.now() + timeoutMs;
  while (processesIn(pgdata, table).length > 0) {
    if (Date.now() > deadline) {
      log.debug(`the server of '${branch}' did not stop within ${timeoutMs} ms`);
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { supervisor, startTime };
}

/**
 * Starts the paused server again (the caller waits for it to accept connections). The
 * stale `postmaster.pid` goes first, once no server can be using it. Throws when the
 * supervisor is no longer the process that was paused (its container ended or was
 * restarted meanwhile): a signal never reaches a process that took its pid since.
 */
export function resumeServer(
  ctx: Context,
  branch: string,
  paused: PausedServer,
  table: ProcessTable = procTable,
): void {
  const pgdata = ctx.layout.pgdata(branch);
  const same = table.startTime(paused.supervisor) === paused.startTime &&
    runsSupervisor(paused.supervisor, table);
  if (!same) {
    throw new ZvpgError(
      `the server supervisor of branch '${branch}' is gone (its container ended or was restarted)`,
      { hint: "its data is reset and zvpg starts it again; check it with 'zvpg status health'" },
    );
  }
  assertNoServer(branch, pgdata, table);
  rmSync(join(pgdata, "postmaster.pid"), { force: true });
  Deno.kill(paused.supervisor, "SIGUSR2");
}

/**
 * Whether the branch's running container serves nothing: no process works in its data
 * directory (a supervisor left paused by a zvpg that died mid-reset). Recovery then
 * replaces the container.
 */
export function servesNothing(
  ctx: Context,
  branch: string,
  table: ProcessTable = procTable,
): boolean {
  const pgdata = ctx.layout.pgdata(branch);
  // a data directory that cannot be seen tells nothing: trust the engine then
  return existsSync(pgdata) && processesIn(pgdata, table).length === 0;
}
