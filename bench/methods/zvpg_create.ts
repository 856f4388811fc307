/**
 * zvpg branch create → ready (CLI wall time and zvpg's own `--timings`), checked by a first
 * query over TCP, then deleted.
 *
 * @module
 */
import type { BranchJson, PhaseTimingsJson } from "./branch_json.ts";
import { sizeProgress, type SizeRun } from "../size_run.ts";
import { timed } from "../timed.ts";
import { formatMs } from "../units.ts";

/** `runs` creates from the size's base snapshot. */
export async function benchZvpgCreate(run: SizeRun): Promise<void> {
  for (let i = 1; i <= run.opts.runs; i++) {
    const name = `bc-${run.label}-${i}`;
    const created = await run.pool.zvpgJson<BranchJson & PhaseTimingsJson>(
      ["branch", "create", name, "--from", run.base, "--timings"],
    );
    const firstQueryMs = await firstQuery(run, created.value.port!);
    const del = await run.pool.zvpg(["branch", "delete", name, "--force"]);
    run.result.zvpgCreate.push({
      run: i,
      wallMs: created.ms,
      timings: created.value.timings ?? {},
      firstQueryMs,
      deleteMs: del.ms,
    });
    sizeProgress(
      run,
      `branch create #${i}: ${formatMs(created.ms)} wall, phases ${
        JSON.stringify(created.value.timings)
      }; delete ${formatMs(del.ms)}`,
    );
  }
}

/** Times a query over TCP, independently of zvpg, and checks that it sees the data. */
async function firstQuery(run: SizeRun, port: number): Promise<number> {
  const { ctx } = run.pool;
  const check = await timed(() =>
    ctx.runner.run("psql", [
      "-X",
      "-t",
      "-A",
      "-h",
      ctx.layout.connectHost,
      "-p",
      String(port),
      "-U",
      ctx.config.postgresUser,
      "-d",
      run.db,
      "-c",
      "SELECT count(*) FROM pgbench_branches",
    ], { env: run.pool.env, timeoutMs: 60_000 })
  );
  const rows = check.value.stdout.trim();
  if (Number(rows) !== run.scale) {
    throw new Error(`a branch of ${run.db} has ${rows} pgbench_branches, not ${run.scale}`);
  }
  return check.ms;
}
