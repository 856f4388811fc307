/**
 * What the point-in-time tests share: the JSON of `branch create --at` and the rows of
 * their table `t`.
 *
 * @module
 */
import type { TestEnv } from "./itest.ts";

/** Sleeps `ms` milliseconds (targets are times: the tests space their commits). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `branch create --at -f json`, the fields the tests read. */
export interface Created {
  name: string;
  origin: string;
  pointInTime: { target: string; base: string; reachedTime: string | null; reachedLsn: string };
}

/** The ids in table `t` of `branch`, in order, comma-separated ("" when none). */
export async function rows(env: TestEnv, branch: string): Promise<string> {
  return await env.psql(
    await env.port(branch),
    "select coalesce(string_agg(id::text, ',' order by id), '') from t",
  );
}
