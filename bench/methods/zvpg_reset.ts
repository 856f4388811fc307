/**
 * zvpg branch reset → ready (CLI wall time), side by side with create: one branch is made
 * from the size's base snapshot, changed, and reset `runs` times, then deleted.
 *
 * @module
 */
import type { BranchJson } from "./branch_json.ts";
import { sizeProgress, type SizeRun } from "../size_run.ts";
import { formatMs } from "../units.ts";

/** `runs` resets of one branch, each after a write the reset throws away. */
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
      await change(run, created.value.port!);
      const reset = await run.pool.zvpg(["branch", "reset", name]);
      run.result.zvpgReset.push({ run: i, wallMs: reset.ms });
      sizeProgress(run, `branch reset #${i}: ${formatMs(reset.ms)} wall`);
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
