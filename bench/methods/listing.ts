/**
 * List and status latency as branches and snapshots accumulate (made through the CLI, as a
 * user would), and the idle memory of the branches left running.
 *
 * @module
 */
import type { BenchPool } from "../bench_pool.ts";
import type { BenchResults } from "../report.ts";
import type { Options } from "../size_run.ts";
import { summarize } from "../summarize.ts";
import { progress, sleep } from "../timed.ts";
import { formatMs } from "../units.ts";
import type { BranchJson, PhaseTimingsJson } from "./branch_json.ts";
import { containerMemory } from "./container_memory.ts";

/** Baseline, then after the branches, then after the snapshots; memory at the end. */
export async function benchListing(
  pool: BenchPool,
  opts: Options,
  results: BenchResults,
): Promise<void> {
  const runs = Math.max(opts.runs, 5);
  await pool.zvpg(["snapshot", "create", "list-base", "-m", "listing benchmark base"]);
  await listLatency(pool, runs, "baseline", results);
  const running = await makeBranches(pool, opts, results);
  await listLatency(pool, runs, `${opts.branches} branches`, results);
  await makeSnapshots(pool, opts, results);
  await listLatency(pool, runs, `${opts.branches} branches + ${opts.snapshots} snapshots`, results);
  progress(`idle memory of ${running.length} running branches`);
  await sleep(3000);
  for (const c of running) {
    results.idleMemory.push({ container: c, ...(await containerMemory(pool.ctx, c)) });
  }
}

/** `opts.branches` branches, all but `runningBranches` stopped; returns the running containers. */
async function makeBranches(
  pool: BenchPool,
  opts: Options,
  results: BenchResults,
): Promise<string[]> {
  progress(
    `creating ${opts.branches} branches (${opts.runningBranches} left running, the rest stopped)`,
  );
  const width = String(opts.branches).length;
  const running: string[] = [];
  for (let i = 1; i <= opts.branches; i++) {
    const name = `l-${String(i).padStart(width, "0")}`;
    const created = await pool.zvpgJson<BranchJson & PhaseTimingsJson>(
      ["branch", "create", name, "--from", "list-base", "--timings"],
    );
    let stopMs = NaN;
    if (i > opts.runningBranches) stopMs = (await pool.zvpg(["branch", "stop", name])).ms;
    else if (created.value.container) running.push(created.value.container);
    results.manyBranches.push({
      index: i,
      createWallMs: created.ms,
      timings: created.value.timings ?? {},
      stopMs,
    });
    if (i % 10 === 0 || i === opts.branches) {
      progress(`  ${i}/${opts.branches} branches (last create ${formatMs(created.ms)})`);
    }
  }
  return running;
}

/** `opts.snapshots` snapshots of the running main. */
async function makeSnapshots(pool: BenchPool, opts: Options, results: BenchResults) {
  progress(`creating ${opts.snapshots} snapshots of the running main`);
  for (let i = 1; i <= opts.snapshots; i++) {
    const name = `ls-${String(i).padStart(4, "0")}`;
    const r = await pool.zvpg(["snapshot", "create", name, "-m", "listing benchmark"]);
    results.manySnapshots.push(r.ms);
    if (i % 50 === 0 || i === opts.snapshots) {
      progress(`  ${i}/${opts.snapshots} snapshots (last ${formatMs(r.ms)})`);
    }
  }
}

/** Latency of `branch list`, `snapshot list` and `status branches`, `runs` times each. */
async function listLatency(pool: BenchPool, runs: number, stage: string, results: BenchResults) {
  const branchList: number[] = [];
  const snapshotList: number[] = [];
  const status: number[] = [];
  let statusNote = "";
  let counted = { branches: 0, snapshots: 0 };
  for (let i = 0; i < runs; i++) {
    const b = await pool.zvpgJson<unknown[]>(["branch", "list"]);
    branchList.push(b.ms);
    const s = await pool.zvpgJson<unknown[]>(["snapshot", "list"]);
    snapshotList.push(s.ms);
    counted = { branches: b.value.length, snapshots: s.value.length };
    const st = await pool.zvpg(["status", "branches", "-f", "json"], { allowFailure: true });
    if (st.code === 0) status.push(st.ms);
    else statusNote = `exit ${st.code}: ${st.stderr.trim().split("\n").pop() ?? ""}`;
  }
  results.listing.push({
    stage,
    branches: counted.branches,
    snapshots: counted.snapshots,
    branchListMs: branchList,
    snapshotListMs: snapshotList,
    statusBranchesMs: status,
    statusNote,
  });
  const median = (xs: number[]) => formatMs(summarize(xs).median);
  progress(
    `listing [${stage}] ${counted.branches} branches, ${counted.snapshots} snapshots: branch list ${
      median(branchList)
    }, snapshot list ${median(snapshotList)}, status branches ${
      status.length ? median(status) : `n/a (${statusNote})`
    }`,
  );
}
