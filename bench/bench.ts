/**
 * zvpg benchmark (issue 6): branch create→ready and snapshot create against the usual
 * alternatives (CREATE DATABASE … TEMPLATE, pg_dump + pg_restore, copying PGDATA and
 * starting a server on the copy), space of a fresh branch, list/status latency with many
 * branches and snapshots, and the memory of an idle branch. This file holds the options
 * and the orchestration; each measured method is one file in bench/methods/.
 *
 * It builds its own environment (a {@link BenchPool}: pool on a sparse file, mount dir,
 * config dir, port range) and destroys all of it at the end, also on failure or Ctrl-C.
 *
 *   deno task bench                                  # 100MB,1GB, 5 runs, 100 branches, 500 snapshots
 *   deno run -A bench/bench.ts --quick               # smoke run: 20MB,60MB, 3 runs, few branches
 *   deno run -A bench/bench.ts --sizes 100MB,1GB,5GB --runs 5 --big-alt-runs 3
 *
 * Outputs bench/results/latest.json, latest.md and time_vs_size.png; progress on stderr,
 * the Markdown report on stdout.
 *
 * @module
 */
import { join } from "node:path";
import { BenchPool, IMAGE, REPO } from "./bench_pool.ts";
import { loadAverage, machineInfo } from "./machine_info.ts";
import { benchTemplate } from "./methods/create_database_template.ts";
import { benchDumpRestore } from "./methods/dump_restore.ts";
import { benchListing } from "./methods/listing.ts";
import { benchPgdataCopy, COPY_PORT, copyDataset } from "./methods/pgdata_copy.ts";
import { dropSizeData, loadSizeData } from "./methods/size_data.ts";
import { benchSpaceAndMemory } from "./methods/space_and_memory.ts";
import { benchZvpgReset } from "./methods/zvpg_reset.ts";
import { benchFloor, benchFloorOnce } from "./methods/floor.ts";
import { benchZvpgCreate } from "./methods/zvpg_create.ts";
import { benchZvpgSnapshot } from "./methods/zvpg_snapshot.ts";
import type { BranchJson } from "./methods/branch_json.ts";
import { type BenchResults, renderChart, renderMarkdown, type SizeResult } from "./report.ts";
import type { Options, SizeRun } from "./size_run.ts";
import { cleanupOnSignal, progress, sleep } from "./timed.ts";
import { formatMs, parseSizeMiB, sizeLabel } from "./units.ts";
import { execSql } from "../src/ops/branch_container.ts";

const PORT_START = 7400;
const PORT_END = 7649;
/** MiB of pgbench data per scale unit (roughly; the real size is measured). */
const MIB_PER_SCALE = 15;

const USAGE = `usage: deno run -A bench/bench.ts [options]
  --sizes LIST        database sizes, e.g. 100MB,1GB,5GB (default 100MB,1GB; quick 20MB,60MB)
  --runs N            runs per measurement (default 5; quick 3)
  --big-alt-runs N    runs of TEMPLATE / dump+restore / PGDATA copy for sizes >= 1GB
                      (default: --runs)
  --branches N        branches for the list/status latency (default 100; quick 10)
  --running N         how many of those stay running (default 10; quick 3)
  --snapshots N       snapshots for the list/status latency (default 500; quick 20)
  --quick             smoke run with tiny sizes and few runs
  --out DIR           output directory (default bench/results)`;

/** `--name value` / `--name=value` pairs, and whether `--quick` was given. */
function readArgs(args: string[]): { values: Map<string, string>; quick: boolean } {
  const values = new Map<string, string>();
  let quick = false;
  const known = ["sizes", "runs", "big-alt-runs", "branches", "running", "snapshots", "out"];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    }
    if (arg === "--quick") {
      quick = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m || !known.includes(m[1])) throw new Error(`unknown option '${arg}'\n${USAGE}`);
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new Error(`option --${m[1]} needs a value`);
    values.set(m[1], value);
  }
  return { values, quick };
}

function parseOptions(args: string[]): Options {
  const { values, quick } = readArgs(args);
  const int = (key: string, fallback: number, min: number): number => {
    const text = values.get(key);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${key} must be a whole number >= ${min}`);
    }
    return n;
  };
  const sizes = (values.get("sizes") ?? (quick ? "20MB,60MB" : "100MB,1GB")).split(",")
    .filter((s) => s.trim() !== "").map(parseSizeMiB);
  if (sizes.length === 0) throw new Error("--sizes is empty");
  const runs = int("runs", quick ? 3 : 5, 1);
  const branches = int("branches", quick ? 10 : 100, 1);
  if (branches > PORT_END - PORT_START - 5) {
    throw new Error(`--branches must be at most ${PORT_END - PORT_START - 5}`);
  }
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    runs,
    bigAltRuns: int("big-alt-runs", runs, 1),
    branches,
    runningBranches: Math.min(int("running", quick ? 3 : 10, 0), branches),
    snapshots: int("snapshots", quick ? 20 : 500, 0),
    quick,
    outDir: values.get("out") ?? join(REPO, "bench", "results"),
  };
}

/** The results skeleton, filled as the run goes. */
function newResults(opts: Options, pool: BenchPool): BenchResults {
  return {
    startedAt: new Date().toISOString(),
    finishedAt: "",
    durationS: 0,
    options: {
      sizes: opts.sizes.map(sizeLabel),
      runs: opts.runs,
      bigAltRuns: opts.bigAltRuns,
      branches: opts.branches,
      runningBranches: opts.runningBranches,
      snapshots: opts.snapshots,
      quick: opts.quick,
    },
    environment: {
      pool: pool.pool,
      poolSize: `${pool.options.poolSize} (sparse file ${join(pool.mountDir, `${pool.pool}.img`)})`,
      root: pool.root,
      ports: `${PORT_START}-${PORT_END} (zvpg), ${COPY_PORT} (PGDATA copies)`,
    },
    machine: {},
    initMs: NaN,
    sizes: [],
    listing: [],
    manyBranches: [],
    manySnapshots: [],
    idleMemory: [],
    errors: [],
    cleanup: [],
  };
}

function newSizeResult(mib: number): SizeResult {
  return {
    label: sizeLabel(mib),
    requestedMiB: mib,
    scale: 0,
    dbBytes: NaN,
    pgdataBytes: NaN,
    loadMs: NaN,
    altRuns: 0,
    zvpgCreate: [],
    zvpgSnapshot: [],
    snapshotDeleteMs: [],
    branchStopMs: NaN,
    template: [],
    dumpRestore: [],
    copy: [],
    space: null,
    memory: null,
    errors: [],
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs one method; a failure is recorded and the next method still runs. */
async function step(run: SizeRun, name: string, method: (run: SizeRun) => Promise<void>) {
  try {
    await method(run);
  } catch (e) {
    progress(`  ${run.result.label}: ${name} FAILED: ${message(e)}`);
    run.result.errors.push(`${name}: ${message(e)}`);
  }
}

/** Every method at one database size, on data loaded for it and dropped after. */
async function benchSize(run: SizeRun): Promise<void> {
  await loadSizeData(run);
  await step(run, "zvpg branch create", benchZvpgCreate);
  await step(run, "zvpg branch reset", benchZvpgReset);
  await step(run, "physical floor", benchFloor);
  await step(run, "zvpg snapshot create", benchZvpgSnapshot);
  await step(run, "space and memory", benchSpaceAndMemory);
  await step(run, "CREATE DATABASE TEMPLATE", benchTemplate);
  await step(run, "pg_dump + pg_restore", benchDumpRestore);
  await step(run, "cp -a PGDATA + start", benchPgdataCopy);
  await dropSizeData(run);
}

/** The programs the benchmark needs, waiting a little for an engine that is restarting. */
async function checkPrerequisites(pool: BenchPool): Promise<void> {
  const { ctx } = pool;
  for (let attempt = 0;; attempt++) {
    try {
      await ctx.runtime.version();
      break;
    } catch (e) {
      if (attempt >= 9) throw new Error(`${ctx.runtime.program} is not usable: ${message(e)}`);
      progress(`${ctx.runtime.program} does not answer; waiting for it`);
      await sleep(3000);
    }
  }
  const zfs = await ctx.zfs.available();
  if (!zfs.ok) throw new Error(`zfs is not usable: ${zfs.detail}`);
  for (const program of ["gnuplot", "psql"]) {
    await ctx.runner.run(program, ["--version"], { timeoutMs: 30_000 });
  }
  if (!(await ctx.runtime.imageExists(IMAGE))) {
    throw new Error(`image ${IMAGE} is missing (scripts/build_image.sh)`);
  }
}

/** Pool, `init env`, the copies' dataset; returns main's container. */
async function setUp(pool: BenchPool, results: BenchResults): Promise<string> {
  await checkPrerequisites(pool);
  results.machine = await machineInfo(pool.ctx);
  progress(`environment: pool ${pool.pool} (${pool.options.poolSize} sparse), root ${pool.root}`);
  await pool.zvpg(["--version"]); // warm the module cache
  const init = await pool.zvpg(["init", "env"], { timeoutMs: 600_000 });
  results.initMs = init.ms;
  progress(`zvpg init env: ${formatMs(init.ms)}`);
  const copies = copyDataset(pool);
  await pool.ctx.zfs.create(copies.dataset, { mountpoint: copies.mount });
  const main = pool.ctx.config.branchDefault;
  const info = (await pool.zvpgJson<BranchJson>(["branch", "info", main])).value;
  if (!info.container) throw new Error(`${main} has no running container after init env`);
  results.machine.postgres = (await execSql(pool.ctx, main, info.container, "SELECT version()"))
    .trim();
  return info.container;
}

/** Every size, then the listing; failures are recorded, never thrown. */
async function measureAll(pool: BenchPool, opts: Options, results: BenchResults) {
  const main = await setUp(pool, results);
  try {
    results.floorOnce = await benchFloorOnce(pool, opts.runs);
  } catch (e) {
    results.errors.push(`start-up and engine floor: ${message(e)}`);
    progress(`start-up and engine floor: FAILED: ${message(e)}`);
  }
  for (const mib of opts.sizes) {
    const result = newSizeResult(mib);
    results.sizes.push(result);
    const label = sizeLabel(mib).toLowerCase().replace(".", "_");
    const scale = Math.max(1, Math.round(mib / MIB_PER_SCALE));
    result.scale = scale;
    result.altRuns = mib >= 1024 ? opts.bigAltRuns : opts.runs;
    const run: SizeRun = {
      pool,
      opts,
      result,
      label,
      db: `bench_${label}`,
      scale,
      base: `base-${label}`,
      altRuns: result.altRuns,
      main,
    };
    try {
      await benchSize(run);
    } catch (e) {
      result.errors.push(message(e));
      progress(`${result.label}: FAILED: ${message(e)}`);
    }
  }
  try {
    await benchListing(pool, opts, results);
  } catch (e) {
    results.errors.push(`listing: ${message(e)}`);
    progress(`listing: FAILED: ${message(e)}`);
  }
}

/** Writes latest.{md,json} and the chart; returns the report. */
async function writeResults(results: BenchResults, outDir: string): Promise<string> {
  Deno.mkdirSync(outDir, { recursive: true });
  const chart = await renderChart(results, outDir).catch((e) => `chart failed: ${e}`);
  if (chart) {
    progress(chart);
    results.errors.push(chart);
  }
  const md = renderMarkdown(results); // also fills results.summary
  Deno.writeTextFileSync(join(outDir, "latest.md"), md);
  Deno.writeTextFileSync(join(outDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  return md;
}

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  const largestGiB = opts.sizes[opts.sizes.length - 1] / 1024;
  const pool = new BenchPool({
    id: crypto.randomUUID().replaceAll("-", "").slice(0, 6),
    // main + WAL + a TEMPLATE copy + a PGDATA copy (with WAL) + slack
    poolSize: `${Math.ceil(4 * largestGiB + 3)}G`,
    portStart: PORT_START,
    portEnd: PORT_END,
  });
  pool.writeConfig();
  const t0 = performance.now();
  const results = newResults(opts, pool);
  const cleanup = cleanupOnSignal(async () => {
    progress(`cleaning up: containers, pool ${pool.pool}, ${pool.root}`);
    results.cleanup = await pool.destroy();
    for (const p of results.cleanup) progress(`cleanup problem: ${p}`);
  });
  try {
    await measureAll(pool, opts, results);
  } catch (e) {
    results.errors.push(message(e));
    progress(`FAILED: ${message(e)}`);
  } finally {
    await cleanup();
  }
  results.finishedAt = new Date().toISOString();
  results.durationS = Math.round((performance.now() - t0) / 1000);
  results.machine.loadAvgAtEnd = loadAverage();
  console.log(await writeResults(results, opts.outDir));
  progress(`done in ${results.durationS}s; results in ${opts.outDir}`);
  const failed = results.errors.length + results.sizes.reduce((n, s) => n + s.errors.length, 0);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench: ${message(e)}`);
    Deno.exit(2);
  }
}
