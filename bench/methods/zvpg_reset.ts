/**
 * zvpg branch reset → ready (CLI wall time and zvpg's own `--timings`), side by side with
 * create: one branch is made from the size's base snapshot; then each round times a create
 * of a fresh branch from the same snapshot (deleted untimed) and a reset of the first one
 * after a write the reset throws away, back to back, so that both see the same load.
 *
 * @module
 */
import type { BranchJson, PhaseTimingsJson } from "./branch_json.ts";
import { sizeProgress, type SizeRun } from "../size_run.ts";
import { formatMs } from "../units.ts";

/** `runs` rounds of (create, reset), each reset after a write it throws away. */
export async function benchZvpgReset(run: SizeRun): Promise<void> {
  const name = `br-${run.label}`;
  const created = await run.pool.zvpgJson<BranchJson>([
    "branch",
    "create",
    name,
    "--from",
    run.base,
  ]);
  run.result.zvpgReset = [];
  try {
    for (let i = 1; i <= run.opts.runs; i++) {
      const pair = `bp-${run.label}-${i}`;
      const paired = await run.pool.zvpg(["branch", "create", pair, "--from", run.base]);
      await run.pool.zvpg(["branch", "delete", pair, "--force"]);
      await change(run, created.value.port!);
      const reset = await run.pool.zvpgJson<BranchJson & PhaseTimingsJson>(
        ["branch", "reset", name, "--timings"],
      );
      run.result.zvpgReset.push({
        run: i,
        wallMs: reset.ms,
        timings: reset.value.timings ?? {},
        pairedCreateMs: paired.ms,
      });
      sizeProgress(
        run,
        `branch reset #${i}: ${formatMs(reset.ms)} wall (create beside it ${
          formatMs(paired.ms)
        }), phases ${JSON.stringify(reset.value.timings)}`,
      );
    }
  } finally {
    await run.pool.zvpg(["branch", "delete", name, "--force"]);
  }
}

/** A write to the branch, over TCP as a client would (the reset keeps the port). */
async function change(run: SizeRun, port: number): Promise<void> {
  const { ctx } = run.pool;
  await ctx.runner.run("psql", [
    ...["-X", "-q", "-h", ctx.layout.connectHost, "-p", String(port)],
    ...["-U", ctx.config.postgresUser, "-d", run.db],
    ...["-c", "UPDATE pgbench_branches SET bbalance = bbalance + 1"],
  ], { env: run.pool.env, timeoutMs: 60_000 });
}
