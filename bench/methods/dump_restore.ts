/**
 * pg_dump -Fc then pg_restore into a new database, both inside main's container (so the
 * versions match), through a dump file in the container: every program runs through the
 * project's runner, which has no pipes.
 *
 * @module
 */
import { execInBranch, localClientArgs } from "../../src/ops/branch_container.ts";
import { mainSql, sizeProgress, type SizeRun } from "../size_run.ts";
import { timed } from "../timed.ts";
import { formatMs } from "../units.ts";

/** `altRuns` dump + restore cycles, each checked and dropped after. */
export async function benchDumpRestore(run: SizeRun): Promise<void> {
  const { ctx } = run.pool;
  const main = ctx.config.branchDefault;
  const conn = localClientArgs(ctx);
  const exec = (argv: string[]) =>
    execInBranch(ctx, main, run.main, argv, { timeoutMs: 3_600_000 });
  for (let i = 1; i <= run.altRuns; i++) {
    const target = `dr_${run.label}_${i}`;
    const file = `/tmp/zvpg-bench-${target}.dump`;
    const { ms } = await timed(async () => {
      await mainSql(run, "postgres", `CREATE DATABASE ${target}`);
      await exec(["pg_dump", "-Fc", "-f", file, ...conn, run.db]);
      await exec(["pg_restore", ...conn, "-d", target, file]);
    });
    await exec(["rm", "-f", file]);
    const n = await mainSql(run, target, "SELECT count(*) FROM pgbench_branches");
    if (Number(n.trim()) !== run.scale) throw new Error(`restore of ${run.db} is incomplete`);
    run.result.dumpRestore.push({ run: i, ms });
    sizeProgress(run, `dump + restore #${i}: ${formatMs(ms)}`);
    await mainSql(run, "postgres", `DROP DATABASE ${target}`);
  }
}
