/**
 * What every measured method of one database size shares: the pool, the options, where its
 * figures go, the database and its base snapshot, and the running main branch's container.
 *
 * @module
 */
import { type ExecOptions, execSql } from "../src/ops/branch_container.ts";
import type { BenchPool } from "./bench_pool.ts";
import type { SizeResult } from "./report.ts";
import { progress } from "./timed.ts";

/** Command-line options of `deno task bench`. */
export interface Options {
  sizes: number[];
  runs: number;
  bigAltRuns: number;
  branches: number;
  snapshots: number;
  runningBranches: number;
  quick: boolean;
  outDir: string;
}

/** One database size under measurement. */
export interface SizeRun {
  pool: BenchPool;
  opts: Options;
  result: SizeResult;
  /** `100mb`, `1gb`: part of every name this size makes. */
  label: string;
  /** The database pgbench fills. */
  db: string;
  /** pgbench's scale factor. */
  scale: number;
  /** The snapshot of main every branch of this size starts from. */
  base: string;
  /** Runs of the alternatives (fewer for big sizes with --big-alt-runs). */
  altRuns: number;
  /** The running main branch's container. */
  main: string;
}

/** Runs SQL in main's container through its local socket (as zvpg does). */
export function mainSql(
  run: SizeRun,
  database: string,
  sql: string,
  options: ExecOptions & { timing?: boolean } = {},
): Promise<string> {
  const { ctx } = run.pool;
  return execSql(ctx, ctx.config.branchDefault, run.main, sql, {
    database,
    timeoutMs: 1_800_000,
    ...options,
  });
}

/** A progress line about this size. */
export function sizeProgress(run: SizeRun, message: string): void {
  progress(`  ${run.result.label}: ${message}`);
}
