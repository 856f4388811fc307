/**
 * zvpg snapshot create on the running main (its CHECKPOINT included), after a write so the
 * CHECKPOINT has something to flush; the snapshots are deleted afterwards (timed too).
 *
 * @module
 */
import { mainSql, sizeProgress, type SizeRun } from "../size_run.ts";
import { formatMs } from "../units.ts";

/** `runs` snapshots of main, then their deletes. */
export async function benchZvpgSnapshot(run: SizeRun): Promise<void> {
  const names: string[] = [];
  for (let i = 1; i <= run.opts.runs; i++) {
    await mainSql(run, run.db, "UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1");
    const name = `sn-${run.label}-${i}`;
    const r = await run.pool.zvpg(["snapshot", "create", name, "-m", "benchmark"]);
    names.push(name);
    run.result.zvpgSnapshot.push({ run: i, wallMs: r.ms });
    sizeProgress(run, `snapshot create #${i}: ${formatMs(r.ms)}`);
  }
  for (const name of names) {
    run.result.snapshotDeleteMs.push((await run.pool.zvpg(["snapshot", "delete", name])).ms);
  }
}
