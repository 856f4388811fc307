/**
 * Helpers shared by the reliability and security integration tests: system state
 * snapshots, health checks, waiting for a fault point to be reached.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, sh, type TestEnv } from "./itest.ts";

/** One health check of `status health -f json`. */
export type HealthCheck = { name: string; status: string; detail: string; hint?: string };

/** Datasets (with snapshots) and containers of the test's pool. */
export interface PoolState {
  datasets: string[];
  containers: string[];
}

/** The datasets and containers of the test's pool, sorted. */
export async function poolState(env: TestEnv): Promise<PoolState> {
  return { datasets: await env.datasets(), containers: await env.containers() };
}

/** Asserts that the pool holds exactly `expected` (datasets and containers). */
export async function assertPoolState(
  env: TestEnv,
  expected: PoolState,
  message = "",
): Promise<void> {
  const now = await poolState(env);
  assert.deepEqual(now.datasets, expected.datasets, `datasets differ ${message}`);
  assert.deepEqual(now.containers, expected.containers, `containers differ ${message}`);
}

/** `status health -f json`: exit code and parsed checks. */
export async function health(
  env: TestEnv,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; ok: boolean; checks: HealthCheck[]; raw: CliResult }> {
  const r = await env.zvpg(["status", "health", "-f", "json"], extraEnv);
  let parsed: { ok: boolean; checks: HealthCheck[] };
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new Error(`status health printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, ok: parsed.ok, checks: parsed.checks, raw: r };
}

/** The failing checks as `name: detail` lines. */
export function failing(checks: HealthCheck[]): string {
  return checks.filter((c) => c.status === "fail").map((c) => `${c.name}: ${c.detail}`).join(
    "\n",
  );
}

/** Asserts that `status health` passes (exit 0). */
export async function assertHealthy(env: TestEnv, message = ""): Promise<void> {
  const h = await health(env);
  assert.equal(h.code, 0, `status health failed ${message}:\n${failing(h.checks)}`);
  assert.equal(h.ok, true);
}

/** Runs `status health --repair -f json` and returns the repairs it made. */
export async function repair(
  env: TestEnv,
): Promise<{
  code: number;
  repairs: { target: string; action: string; ok: boolean }[];
  failed: string[];
}> {
  const r = await env.zvpg(["status", "health", "--repair", "-f", "json"]);
  let parsed: {
    repairs: { target: string; action: string; ok: boolean }[];
    checks: { name: string; status: string; detail: string }[];
  };
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new Error(`status health --repair printed no JSON (exit ${r.code}):\n${r.stderr}`);
  }
  const failed = parsed.checks.filter((c) => c.status === "fail").map((c) =>
    `${c.name}: ${c.detail}`
  );
  return { code: r.code, repairs: parsed.repairs, failed };
}

/** The zvpg log file of this environment. */
export function logFile(env: TestEnv): string {
  return join(env.base, "log", "zvpg.log");
}

/** Waits until the zvpg log file contains `text` (after `fromOffset` bytes). */
export async function waitForLog(
  env: TestEnv,
  text: string,
  timeoutMs = 30_000,
  fromOffset = 0,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(logFile(env))) {
      const content = readFileSync(logFile(env), "utf8");
      if (content.slice(fromOffset).includes(text)) return;
    }
    await sleep(50);
  }
  throw new Error(`log ${logFile(env)} did not show '${text}' within ${timeoutMs} ms`);
}

/** Current size of the log file (to wait only for lines written after now). */
export function logSize(env: TestEnv): number {
  return existsSync(logFile(env)) ? readFileSync(logFile(env), "utf8").length : 0;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asserts that a CLI result is a SIGKILL (exit 137) from a fault point. */
export function assertKilled(r: CliResult, step: string): void {
  assert.equal(
    r.code,
    137,
    `expected zvpg to kill itself at '${step}' (exit 137), got ${r.code}\n${r.stderr}`,
  );
}

/** The name of the running container of a branch (from `branch info -f json`). */
export async function containerOf(env: TestEnv, branch: string): Promise<string> {
  const info = await env.json<{ container: string | null }>(["branch", "info", branch]);
  assert.ok(info.container, `branch '${branch}' has no container`);
  return info.container;
}

/** The password zvpg generated (5th field of the pgpass line). */
export function password(env: TestEnv): string {
  const line = readFileSync(env.passFile, "utf8").split("\n").find((l) => l.trim() !== "")!;
  return line.split(":").slice(4).join(":");
}

/** Runs a program and throws when it fails. */
export async function must(program: string, args: string[]): Promise<string> {
  const r = await sh(program, args);
  if (r.code !== 0) {
    throw new Error(`${program} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  }
  return r.stdout;
}

/** What a branch made by `branch create` adds to the pool: its dataset and its birth snapshot. */
export function branchDatasets(env: TestEnv, name: string): string[] {
  const dataset = `${env.pool}/clones/${name}`;
  return [dataset, `${dataset}@.zvpg-origin`];
}
