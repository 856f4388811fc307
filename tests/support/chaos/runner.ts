/**
 * Runs the real CLI for the chaos suite: in its own session (so a Ctrl-C can be sent to
 * zvpg and its children together, as a terminal does), with a hard time limit (a hung
 * command is a finding, not a hung CI job).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CliResult, TestEnv } from "../itest.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** How one chaos command ran. */
export interface ChaosResult extends CliResult {
  /** A SIGINT was sent to the command's process group. */
  interrupted: boolean;
  /** The command overran its time limit and was killed. */
  timedOut: boolean;
  /** Wall time in ms. */
  ms: number;
}

/** Options of {@link runZvpg}. */
export interface RunOptions {
  /** Extra environment (ZVPG_FAULT, ZVPG_CONTAINER_RUNTIME, ...). */
  env?: Record<string, string>;
  /** Send SIGINT to zvpg's whole process group after this many ms (a terminal's Ctrl-C). */
  sigintAfterMs?: number;
  /** Kill the process group after this many ms (default 150 s). */
  timeoutMs?: number;
}

/** The process group of `pid` (field 5 of /proc/PID/stat), or undefined once it is gone. */
function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces: fields after it start past the last ')'
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

/** Sends `signal` to the process group led by `pid` when it still is one. */
function signalGroup(pid: number, signal: Deno.Signal): boolean {
  // invariant: only a group whose leader is our own child (pgid === pid) is signalled
  if (processGroup(pid) !== pid) return false;
  try {
    Deno.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Runs `zvpg <args>` against `env` in a new session; never throws on exit code. */
export async function runZvpg(
  env: TestEnv,
  args: string[],
  options: RunOptions = {},
): Promise<ChaosResult> {
  const started = Date.now();
  // setsid execs in place (the child is not a group leader), so pid === pgid === sid
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "--allow-all", join(ROOT, "main.ts"), ...args],
    env: { ZVPG_CONFIG_DIR: env.configDir, ZVPG_LOG_LEVEL: "INFO", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let interrupted = false;
  let timedOut = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  if (options.sigintAfterMs !== undefined) {
    timers.push(setTimeout(() => {
      interrupted = signalGroup(child.pid, "SIGINT");
    }, options.sigintAfterMs));
  }
  timers.push(setTimeout(() => {
    timedOut = signalGroup(child.pid, "SIGKILL");
  }, options.timeoutMs ?? 150_000));
  const out = await child.output();
  for (const t of timers) clearTimeout(t);
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    interrupted,
    timedOut,
    ms: Date.now() - started,
  };
}

/** Parses a command's JSON stdout, or undefined when it printed none. */
export function parseJson<T>(r: CliResult): T | undefined {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    return undefined;
  }
}
