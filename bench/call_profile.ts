/**
 * The program calls one CLI run made, read back from its log file: the runner logs every
 * call as `exit <code> after <ms> ms: <program> <first args> (+N args)` at DEBUG, which
 * the log file always receives. Calls are keyed by their shape (pool-specific names
 * replaced), so the same call on two pools shares a key.
 *
 * @module
 */
import type { BenchPool } from "./bench_pool.ts";

/** Per call shape: how many calls, their summed wall time and the most arguments of one. */
export type CallProfile = Record<string, { count: number; ms: number; args: number }>;

/** The calls logged to `pool`'s log file after byte `offset`. */
export function profileCalls(pool: BenchPool, offset: number): CallProfile {
  const bytes = Deno.readFileSync(pool.logFile).subarray(offset);
  const profile: CallProfile = {};
  for (const line of new TextDecoder().decode(bytes).split("\n")) {
    const m = / DEBUG exit -?\d+ after (\d+) ms: (.*)$/.exec(line);
    if (!m) continue;
    const { key, args } = callKey(m[2], pool.pool);
    const entry = profile[key] ??= { count: 0, ms: 0, args: 0 };
    entry.count++;
    entry.ms += Number(m[1]);
    entry.args = Math.max(entry.args, args);
  }
  return profile;
}

/**
 * A call's shape (names, numbers and long values elided, so that the same call on either
 * pool has one key) and how many arguments it had.
 */
export function callKey(call: string, pool: string): { key: string; args: number } {
  const more = / \(\+(\d+) args\)$/.exec(call);
  const shown = (more ? call.slice(0, more.index) : call).split(" ");
  const key = shown.map((arg) => {
    if (arg.includes(pool)) return "<name>";
    if (/^zvpg_/.test(arg)) return "<container>";
    return arg.length > 24 ? "…" : arg.replace(/\d+/g, "N");
  }).join(" ").replace(/(<name> )+<name>/g, "<names>");
  return {
    key: more ? `${key} …` : key,
    args: shown.length - 1 + (more ? Number(more[1]) : 0),
  };
}
