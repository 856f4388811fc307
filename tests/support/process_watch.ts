/**
 * Watches every process of the host while an operation runs, for a secret in an argv or
 * an environment: what `ps`, `/proc/<pid>/cmdline` or `environ` shows to anyone who looks
 * at the right moment. Polls as fast as it can; a match is kept with the process's argv.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";

/** Every argv and environment of the host's processes, as one text per process. */
export function processTexts(): { pid: string; argv: string; environ: string }[] {
  const out: { pid: string; argv: string; environ: string }[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      out.push({
        pid,
        argv: readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " "),
        environ: readFileSync(`/proc/${pid}/environ`, "latin1").replaceAll("\0", " "),
      });
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

/**
 * Runs `operation` while polling every process for `pattern`; returns its result and the
 * argv of each process seen with a match (in its argv or environment).
 */
export async function watchProcesses<T>(
  pattern: RegExp,
  operation: () => Promise<T>,
): Promise<{ result: T; seen: string[]; polls: number }> {
  const seen = new Set<string>();
  let done = false;
  let polls = 0;
  const poll = (async () => {
    while (!done) {
      for (const p of processTexts()) {
        if (pattern.test(p.argv) || pattern.test(p.environ)) seen.add(p.argv.slice(0, 300));
      }
      polls++;
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  try {
    const result = await operation();
    return { result, seen: [...seen], polls };
  } finally {
    done = true;
    await poll;
  }
}
