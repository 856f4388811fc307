/**
 * The data of one size: a pgbench database in main and the base snapshot of it, made
 * before the methods run and dropped after them.
 *
 * @module
 */
import { execInBranch, localClientArgs } from "../../src/ops/branch_container.ts";
import { mainSql, sizeProgress, type SizeRun } from "../size_run.ts";
import { timed } from "../timed.ts";
import { formatMs, formatSize } from "../units.ts";

/** `pgbench -i` at the size's scale into its database, then the base snapshot. */
export async function loadSizeData(run: SizeRun): Promise<void> {
  const { pool, result } = run;
  sizeProgress(run, `pgbench -i -s ${run.scale} into database ${run.db}`);
  await mainSql(run, "postgres", `CREATE DATABASE ${run.db}`);
  const argv = ["pgbench", "-i", "-q", "-s", String(run.scale), ...localClientArgs(pool.ctx)];
  const load = await timed(() =>
    execInBranch(pool.ctx, pool.ctx.config.branchDefault, run.main, [...argv, run.db], {
      timeoutMs: 3_600_000,
    })
  );
  result.loadMs = load.ms;
  result.dbBytes = Number(
    (await mainSql(run, run.db, `SELECT pg_database_size('${run.db}')`)).trim(),
  );
  sizeProgress(run, `loaded ${formatSize(result.dbBytes)} in ${formatMs(load.ms)}`);
  await pool.zvpg(["snapshot", "create", run.base, "-m", `benchmark base ${result.label}`]);
}

/** Drops the size's data, so the next size starts from the same small main. */
export async function dropSizeData(run: SizeRun): Promise<void> {
  await run.pool.zvpg(["snapshot", "delete", run.base, "--force"]);
  await mainSql(run, "postgres", `DROP DATABASE ${run.db}`);
}
