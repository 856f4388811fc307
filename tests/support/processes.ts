/**
 * Watching processes from a test: whether one still works, and waiting for a state.
 *
 * @module
 */

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
