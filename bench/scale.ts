/**
 * Scale benchmark (issue 12): do one-branch operations cost the same on a crowded pool?
 *
 * Two pools side by side in one run: a small one (5 snapshots, 2 branches) and a large one
 * (500 snapshots, 100 branches, stopped as most are in practice). Each round runs
 * `snapshot create`, `branch create`, `branch stop` and `branch start` (CLI wall time,
 * `deno run main.ts`) on both pools, in alternating order (small first in even rounds, large
 * first in odd ones), so load on the shared machine hits both alike; what a round made is
 * deleted (untimed) after it. It prints, per operation, each pool's median and their ratio
 * (large / small; the target is at most 1.20), and a profile: every program call of each
 * operation, read from the CLI's DEBUG log, summed per round, so a call whose cost grows
 * with the pool shows as the difference of the two medians.
 *
 * The crowd is made through the project's `Zfs` adapter with zvpg's own property schema
 * (`snapshotProps`, `branchProps`, lifecycle transitions): what zvpg would write, in 600
 * `zfs` calls instead of 600 CLI runs and 100 containers. Everything measured is the CLI.
 *
 *     deno run -A bench/scale.ts [--runs 7] [--snapshots 500] [--branches 100]
 *       [--main path/to/main.ts] [--out dir]
 *
 * Needs root, zfs, docker and localhost/zvpg-postgres:17. Pools `zvpgbench_<id>_small|large`
 * under /var/tmp/zvpg-bench-…, ports 19000–19999; all is destroyed at the end.
 *
 * @module
 */
import { join } from "node:path";
import { markPort, markStopped } from "../src/domain/lifecycle.ts";
import { branchProps, snapshotProps } from "../src/domain/metadata_props.ts";
import { claimSnapshotName, loadClaims } from "../src/ops/store/claims_index.ts";
import { BenchPool, REPO } from "./bench_pool.ts";
import { median } from "./summarize.ts";
import { cleanupOnSignal, progress } from "./timed.ts";
import { type CallProfile, profileCalls } from "./call_profile.ts";
import { renderScaleChart, renderScaleMarkdown, TARGET_RATIO } from "./scale_report.ts";

/** The operations measured, in the order a round runs them. */
export const OPERATIONS = ["snapshot create", "branch create", "branch stop", "branch start"];

/** A pool of the comparison and the crowd it holds. */
export interface ScalePool {
  label: "small" | "large";
  bench: BenchPool;
  snapshots: number;
  branches: number;
}

/** One operation of one round on one pool: wall time and the program calls it made. */
interface Sample {
  ms: number;
  calls: CallProfile;
}

/** Per operation: each pool's samples, medians and the ratio. */
export interface Figure {
  operation: string;
  small: number[];
  large: number[];
  smallMedian: number;
  largeMedian: number;
  ratio: number;
  /** Per call: the median per-round total of each pool (ms) and the calls per round. */
  calls: { call: string; small: number; large: number; count: string; args: string }[];
}

/** Options of the run. */
export interface ScaleOptions {
  runs: number;
  snapshots: number;
  branches: number;
  mainTs: string;
  outDir: string;
}

function parseOptions(args: string[]): ScaleOptions {
  const flag = (name: string) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const int = (name: string, fallback: number) => {
    const n = Number(flag(name) ?? fallback);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1`);
    return n;
  };
  return {
    runs: int("runs", 7),
    snapshots: int("snapshots", 500),
    branches: int("branches", 100),
    mainTs: flag("main") ?? join(REPO, "main.ts"),
    outDir: flag("out") ?? join(REPO, "bench", "results"),
  };
}

/** Makes the pool: config, `zvpg init env` (main running), then the crowd. */
async function setUp(p: ScalePool): Promise<void> {
  p.bench.writeConfig();
  await p.bench.zvpg(["init", "env"], { timeoutMs: 600_000 });
  await populate(p);
  progress(`${p.bench.pool}: ${p.snapshots} snapshots, ${p.branches} branches (stopped)`);
}

/**
 * Snapshots of main, each name claimed in the claims index first as zvpg claims it, then
 * stopped branches cloned from them, with the properties zvpg writes (each branch holds a
 * recorded port, as a branch that ran and stopped does; a stopped branch claims none).
 */
async function populate(p: ScalePool): Promise<void> {
  const { ctx } = p.bench;
  const { zfs, layout, config } = ctx;
  const now = new Date();
  const index = await loadClaims(ctx);
  if (!index?.complete) throw new Error(`${p.bench.pool}: init env made no complete claims index`);
  for (let i = 0; i < p.snapshots; i++) {
    await claimSnapshotName(ctx, `crowd${i}`, config.branchDefault);
    await zfs.snapshot(`${layout.dataDataset}@crowd${i}`, snapshotProps(`crowd ${i}`, now));
  }
  for (let i = 0; i < p.branches; i++) {
    const name = `crowd${i}`;
    await zfs.clone(`${layout.dataDataset}@crowd${i % p.snapshots}`, layout.branchDataset(name), {
      ...branchProps(layout, name, config.branchDefault, now),
      ...markPort(config.branchPortStart + 10 + i, config.runtimeFlavor),
      ...markStopped(),
    });
  }
}

/** Runs one CLI call and reads the program calls it logged. */
async function measure(p: ScalePool, args: string[]): Promise<Sample> {
  const offset = Deno.statSync(p.bench.logFile).size;
  const result = await p.bench.zvpg(args);
  return { ms: result.ms, calls: profileCalls(p.bench, offset) };
}

/** One round on one pool; what it made is deleted afterwards (untimed). */
async function round(p: ScalePool, i: number): Promise<Sample[]> {
  const name = `scale${i}`;
  const samples = [
    await measure(p, ["snapshot", "create", name, "-m", "scale benchmark"]),
    await measure(p, ["branch", "create", name]),
    await measure(p, ["branch", "stop", name]),
    await measure(p, ["branch", "start", name]),
  ];
  await p.bench.zvpg(["branch", "delete", name, "--force"]);
  await p.bench.zvpg(["snapshot", "delete", name, "--force"]);
  return samples;
}

/** Interleaved rounds: the order of the pools alternates from round to round. */
async function measureRounds(
  pools: [ScalePool, ScalePool],
  runs: number,
): Promise<Map<ScalePool, Sample[][]>> {
  const samples = new Map(pools.map((p) => [p, [] as Sample[][]]));
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? pools : [pools[1], pools[0]];
    for (const p of order) {
      const s = await round(p, i);
      samples.get(p)!.push(s);
      progress(`run ${i + 1}/${runs} ${p.label}: ${s.map((x) => Math.round(x.ms)).join(" / ")} ms`);
    }
  }
  return samples;
}

/** Medians and ratios per operation, with the calls whose cost differs most first. */
export function figures(small: Sample[][], large: Sample[][]): Figure[] {
  return OPERATIONS.map((operation, k) => {
    const s = small.map((r) => r[k]);
    const l = large.map((r) => r[k]);
    const keys = [...new Set([...s, ...l].flatMap((x) => Object.keys(x.calls)))];
    const perRound = (xs: Sample[], key: string) => median(xs.map((x) => x.calls[key]?.ms ?? 0));
    const count = (xs: Sample[], key: string) => median(xs.map((x) => x.calls[key]?.count ?? 0));
    const args = (xs: Sample[], key: string) =>
      Math.max(0, ...xs.map((x) => x.calls[key]?.args ?? 0));
    const calls = keys.map((call) => ({
      call,
      small: perRound(s, call),
      large: perRound(l, call),
      count: `${count(s, call)} / ${count(l, call)}`,
      args: `${args(s, call)} / ${args(l, call)}`,
    })).sort((a, b) => (b.large - b.small) - (a.large - a.small));
    const smallMedian = median(s.map((x) => x.ms));
    const largeMedian = median(l.map((x) => x.ms));
    return {
      operation,
      small: s.map((x) => Math.round(x.ms)),
      large: l.map((x) => Math.round(x.ms)),
      smallMedian,
      largeMedian,
      ratio: largeMedian / smallMedian,
      calls,
    };
  });
}

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  const id = crypto.randomUUID().slice(0, 6);
  const pool = (label: "small" | "large", snapshots: number, branches: number, port: number) => ({
    label,
    snapshots,
    branches,
    bench: new BenchPool({
      id,
      label,
      poolSize: "3G",
      portStart: port,
      portEnd: port + 400,
      mainTs: opts.mainTs,
    }),
  });
  const small = pool("small", 5, 2, 19000);
  const large = pool("large", opts.snapshots, opts.branches, 19500);
  const pools: [ScalePool, ScalePool] = [small, large];
  const startedAt = new Date();
  const cleanup = cleanupOnSignal(async () => {
    for (const p of pools) {
      for (const problem of await p.bench.destroy()) progress(`cleanup problem: ${problem}`);
    }
  });
  try {
    for (const p of pools) await setUp(p);
    await small.bench.zvpg(["--version"]); // warm the module cache
    const samples = await measureRounds(pools, opts.runs);
    const result = figures(samples.get(small)!, samples.get(large)!);
    for (const f of result) {
      console.log(
        `${f.operation.padEnd(16)} small ${f.smallMedian.toFixed(0).padStart(6)} ms  large ${
          f.largeMedian.toFixed(0).padStart(6)
        } ms  ratio ${f.ratio.toFixed(2)}`,
      );
    }
    Deno.mkdirSync(opts.outDir, { recursive: true });
    Deno.writeTextFileSync(join(opts.outDir, "scale.json"), JSON.stringify(result, null, 2) + "\n");
    Deno.writeTextFileSync(
      join(opts.outDir, "scale.md"),
      renderScaleMarkdown(result, { small, large, runs: opts.runs, startedAt }),
    );
    await renderScaleChart(result, opts.outDir, small.bench.runner);
    return result.every((f) => f.ratio <= TARGET_RATIO) ? 0 : 1;
  } finally {
    await cleanup();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`scale: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(2);
  }
}
