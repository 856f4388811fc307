/**
 * Watching processes from a test: whether one still works, waiting for a state, and a CLI
 * run signalled as a terminal would signal it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout's entry point. */
const MAIN_TS = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "main.ts");

/** Whether `pid` is a live process: a zombie (exited, not yet reaped) no longer works. */
export function isLive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
}

/** Polls `test` every millisecond until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * Runs `zvpg <args>` with the config of `configDir`, in its own process group (as a shell
 * runs a job), and sends `signal` to the whole group shortly after its stderr first
 * matches `after` (logged at `logLevel`); returns its exit code and stderr. Fails when
 * stderr never matched.
 */
export async function runAndSignal(
  configDir: string,
  args: string[],
  options: {
    after: RegExp;
    signal: Deno.Signal;
    logLevel?: string;
    env?: Record<string, string>;
    delayMs?: number;
  },
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "--allow-all", MAIN_TS, ...args],
    env: {
      ZVPG_CONFIG_DIR: configDir,
      ZVPG_LOG_LEVEL: options.logLevel ?? "DEBUG",
      ...options.env,
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let sent = false;
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    stderr += decoder.decode(chunk, { stream: true });
    if (!sent && options.after.test(stderr)) {
      sent = true;
      setTimeout(() => {
        try {
          Deno.kill(-child.pid, options.signal);
        } catch {
          // the group is gone already: its exit code tells
        }
      }, options.delayMs ?? 100);
    }
  }
  const status = await child.status;
  assert.ok(sent, `never saw ${options.after}: ${stderr.slice(-500)}`);
  return { code: status.code, stderr };
}
