/**
 * Point-in-time branch benchmark, side by side in one run:
 *
 * 1. The WAL archive's cost on main's writes: pgbench TPS on a pool whose main archives its
 *    WAL (`walArchive: true`, the default) against one that does not, same scale, same
 *    load, the pools alternating round by round.
 * 2. `branch create --at` against `branch create --from` the snapshot it starts from: main
 *    is snapshotted, then written to at a steady rate for `--minutes`; for each whole
 *    minute k, a branch at "snapshot time + k minutes" (replaying k minutes of WAL) and a
 *    branch from the snapshot (no replay) are made, alternating, and timed (CLI wall
 *    time). The chart shows replay time against minutes (and MiB) of WAL behind the target.
 *
 * Run as root on the test machine:
 * `deno run -A bench/pitr_bench.ts [--scale 20] [--minutes 4] [--runs 3] [--seconds 30]
 *  [--rate 300] [--id p1] [--port-base 18400] [--out bench/results/pitr]`;
 * writes pitr.{md,json,dat,gp,png} (`--report-only` renders them again from pitr.json).
 * Pools `zvpgbench_<id>_on|off` under /var/tmp/zvpg-bench-…, destroyed at the end.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { execInBranch, execSql, localClientArgs } from "../src/ops/branch_container.ts";
import { type CommandRunner, DenoCommandRunner } from "../src/runtime/runner.ts";
import { BenchPool } from "./bench_pool.ts";
import { loadAverage, machineInfo } from "./machine_info.ts";
import { median } from "./summarize.ts";
import { cleanupOnSignal, progress, sleep } from "./timed.ts";
import { formatMs } from "./units.ts";

/** The database pgbench fills. */
const DB = "bench";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    scale: { type: "string", default: "20" },
    minutes: { type: "string", default: "4" },
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "30" },
    rate: { type: "string", default: "300" },
    id: { type: "string", default: "p1" },
    "port-base": { type: "string", default: "18400" },
    out: { type: "string", default: new URL("./results/pitr/", import.meta.url).pathname },
    "report-only": { type: "boolean", default: false },
  },
});

/** One `branch create` measured: `--at` k minutes after the snapshot, or `--from` it. */
interface CreateSample {
  kind: "at" | "from";
  minutes: number;
  /** MiB of WAL between the snapshot and the target. */
  walMiB: number;
  ms: number;
  /** The moment the branch reached (`--at` only), RFC 3339. */
  reached: string | null;
}

/** One pgbench run: its pool (archive on or off), round and TPS. */
interface TpsSample {
  archive: "on" | "off";
  round: number;
  tps: number;
}

/** Everything the report is made of. */
interface PitrRun {
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, unknown>;
  loadAvgAtEnd: string;
  scale: number;
  seconds: number;
  rate: number;
  tps: TpsSample[];
  creates: CreateSample[];
}

async function main(): Promise<number> {
  const out = values.out!;
  if (values["report-only"]) {
    const run = JSON.parse(Deno.readTextFileSync(join(out, "pitr.json"))) as PitrRun;
    await writeReport(run, out, new DenoCommandRunner());
    return 0;
  }
  const scale = Number(values.scale);
  const minutes = Number(values.minutes);
  const runs = Number(values.runs);
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  const base = Number(values["port-base"]);
  const startedAt = new Date();
  const pool = (label: string, port: number) =>
    new BenchPool({ id: values.id!, label, poolSize: "8G", portStart: port, portEnd: port + 49 });
  const on = pool("on", base);
  const off = pool("off", base + 50);
  const cleanup = cleanupOnSignal(async () => {
    for (const p of [on, off]) {
      for (const problem of await p.destroy()) progress(`cleanup problem: ${problem}`);
    }
  });
  try {
    on.writeConfig({ walArchive: true, archiveTimeoutSeconds: 10 });
    off.writeConfig({ walArchive: false });
    const machine = await machineInfo(on.ctx);
    await on.zvpg(["--version"]); // warm the module cache
    for (const p of [on, off]) {
      await p.zvpg(["init", "env"], { timeoutMs: 600_000 });
      await fill(p, scale);
    }
    const tps: TpsSample[] = [];
    for (let round = 0; round < runs; round++) {
      const order = round % 2 === 0 ? [on, off] : [off, on];
      for (const p of order) {
        const sample = { archive: p === on ? "on" : "off", round, tps: await pgbench(p, seconds) };
        tps.push(sample as TpsSample);
        progress(`tps round ${round + 1}/${runs}: archive ${sample.archive} ${sample.tps}`);
      }
    }
    await off.destroy();
    const creates = await branchTimes(on, minutes, rate);
    const run: PitrRun = {
      command: `deno run -A bench/pitr_bench.ts ${Deno.args.join(" ")}`.trim(),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine,
      loadAvgAtEnd: loadAverage(),
      scale,
      seconds,
      rate,
      tps,
      creates,
    };
    Deno.mkdirSync(out, { recursive: true });
    Deno.writeTextFileSync(join(out, "pitr.json"), JSON.stringify(run, null, 2) + "\n");
    await writeReport(run, out, new DenoCommandRunner());
    console.log(summaryLines(run).join("\n"));
    return 0;
  } finally {
    await cleanup();
  }
}

/** One SQL command in main's database {@link DB}. */
async function sql(pool: BenchPool, text: string): Promise<string> {
  const { ctx } = pool;
  const main = ctx.config.branchDefault;
  return (await execSql(ctx, main, await pool.mainContainer(), text, { database: DB })).trim();
}

/** pgbench in main's container (its own client, zvpg's socket). */
async function pgbenchIn(pool: BenchPool, args: string[], timeoutMs: number): Promise<string> {
  const { ctx } = pool;
  const main = ctx.config.branchDefault;
  const container = await pool.mainContainer();
  const result = await execInBranch(
    ctx,
    main,
    container,
    ["pgbench", ...localClientArgs(ctx), ...args, DB],
    { timeoutMs },
  );
  return result.stdout;
}

/** Creates {@link DB} in main and fills it with pgbench at `scale`. */
async function fill(pool: BenchPool, scale: number): Promise<void> {
  const { ctx } = pool;
  await execSql(ctx, ctx.config.branchDefault, await pool.mainContainer(), `CREATE DATABASE ${DB}`);
  await pgbenchIn(pool, ["-i", "-q", "-s", String(scale)], 3_600_000);
  progress(`${pool.pool}: pgbench -i -s ${scale} done`);
}

/** pgbench's TPS over `seconds` (TPC-B-like, 4 clients). */
async function pgbench(pool: BenchPool, seconds: number): Promise<number> {
  const text = await pgbenchIn(
    pool,
    ["-c", "4", "-j", "2", "-T", String(seconds), "-n"],
    (seconds + 120) * 1000,
  );
  const tps = /tps = ([\d.]+)/.exec(text);
  if (!tps) throw new Error(`pgbench printed no tps: ${text.slice(-300)}`);
  return Number(tps[1]);
}

/** Main's current WAL position, as a byte offset. */
async function walBytes(pool: BenchPool): Promise<number> {
  return Number(await sql(pool, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"));
}

/**
 * Snapshots main, writes to it at `rate` transactions a second for `minutes`, noting the
 * WAL position each minute, makes sure the archive has it all, then times a branch at
 * each minute and one from the snapshot, alternating.
 */
async function branchTimes(pool: BenchPool, minutes: number, rate: number) {
  await pool.zvpg(["snapshot", "create", "pitr-base", "-m", "pitr benchmark base"]);
  const t0 = new Date();
  const wal0 = await walBytes(pool);
  const marks: { minutes: number; at: Date; walMiB: number }[] = [];
  const load = pgbenchIn(
    pool,
    ["-c", "2", "-j", "2", "-R", String(rate), "-T", String(minutes * 60 + 5), "-n"],
    (minutes * 60 + 300) * 1000,
  );
  for (let k = 1; k <= minutes; k++) {
    await sleep(t0.getTime() + k * 60_000 - Date.now());
    marks.push({ minutes: k, at: new Date(), walMiB: ((await walBytes(pool)) - wal0) / 1048576 });
    progress(`minute ${k}: ${marks.at(-1)!.walMiB.toFixed(0)} MiB of WAL since the snapshot`);
  }
  await load;
  await sql(pool, "SELECT pg_switch_wal()");
  await sleep(15_000); // archive_timeout is 10 s: the last segment is in the archive
  const samples: CreateSample[] = [];
  for (const [i, mark] of marks.entries()) {
    const at = async () => {
      const name = `at-${mark.minutes}`;
      const r = await pool.zvpg([
        "branch",
        "create",
        name,
        "--at",
        mark.at.toISOString(),
        "-f",
        "json",
      ], {
        timeoutMs: 1_800_000,
      });
      const doc = JSON.parse(r.stdout);
      samples.push({
        kind: "at",
        minutes: mark.minutes,
        walMiB: mark.walMiB,
        ms: r.ms,
        reached: doc.pointInTime?.reachedTime ?? null,
      });
      await pool.zvpg(["branch", "delete", name, "--force"]);
    };
    const from = async () => {
      const name = `from-${mark.minutes}`;
      const r = await pool.zvpg(["branch", "create", name, "--from", "pitr-base"]);
      samples.push({ kind: "from", minutes: mark.minutes, walMiB: 0, ms: r.ms, reached: null });
      await pool.zvpg(["branch", "delete", name, "--force"]);
    };
    for (const step of i % 2 === 0 ? [at, from] : [from, at]) await step();
    const last = samples.slice(-2).map((s) => `${s.kind} ${formatMs(s.ms)}`).join(", ");
    progress(`target +${mark.minutes} min (${mark.walMiB.toFixed(0)} MiB of WAL): ${last}`);
  }
  return samples;
}

/** The figures the run prints and the report leads with. */
function summaryLines(run: PitrRun): string[] {
  const tpsOf = (a: string) => median(run.tps.filter((s) => s.archive === a).map((s) => s.tps));
  const on = tpsOf("on");
  const off = tpsOf("off");
  const lines = [
    `pgbench TPS (median of ${run.tps.length / 2}): archive on ${on.toFixed(0)}, off ${
      off.toFixed(0)
    }, on ÷ off ${(on / off).toFixed(2)}`,
  ];
  const from = median(run.creates.filter((c) => c.kind === "from").map((c) => c.ms));
  for (const c of run.creates.filter((c) => c.kind === "at")) {
    lines.push(
      `branch --at +${c.minutes} min (${c.walMiB.toFixed(0)} MiB WAL): ${formatMs(c.ms)}, ${
        (c.ms / from).toFixed(2)
      }× branch --from (${formatMs(from)})`,
    );
  }
  return lines;
}

/** Writes pitr.md, pitr.dat, pitr.gp and renders pitr.png with gnuplot. */
async function writeReport(run: PitrRun, out: string, runner: CommandRunner): Promise<void> {
  Deno.mkdirSync(out, { recursive: true });
  const from = median(run.creates.filter((c) => c.kind === "from").map((c) => c.ms));
  const at = run.creates.filter((c) => c.kind === "at");
  const m = run.machine;
  const md = [
    "# Point-in-time branches: replay against a branch from a snapshot; the archive's cost",
    "",
    `Run ${run.startedAt} (until ${run.finishedAt}) by \`${run.command}\`.`,
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.ram} RAM, kernel ${m.kernel}, ZFS ${m.zfs}, ` +
    `zvpg ${m.zvpgCommit}. Load average at start ${m.loadAvgAtStart}, at end ${run.loadAvgAtEnd}; ` +
    "shared with other sessions.",
    "",
    "## The WAL archive's cost on main's writes",
    "",
    `pgbench (TPC-B-like, 4 clients, ${run.seconds} s, scale ${run.scale}) on two pools made alike, ` +
    "main archiving its WAL on one (`walArchive: true`, the default, `archiveTimeoutSeconds: 10`) " +
    "and not on the other, alternating round by round.",
    "",
    "| archive | TPS per round | median |",
    "|---|---|---:|",
    ...(["on", "off"] as const).map((a) => {
      const s = run.tps.filter((t) => t.archive === a).map((t) => t.tps);
      return `| ${a} | ${s.map((t) => t.toFixed(0)).join(", ")} | ${median(s).toFixed(0)} |`;
    }),
    "",
    "## Branch at a time against branch from a snapshot",
    "",
    `Main is snapshotted, then written to at ${run.rate} transactions a second; a branch ` +
    "`--at` each whole minute after the snapshot replays that much WAL from the snapshot. " +
    "Each is made and deleted beside a branch `--from` the snapshot (alternating which goes " +
    "first). Times are CLI wall time (Deno start-up included) until the branch accepts " +
    "connections.",
    "",
    "| target | WAL behind it | `--at` | `--from` the snapshot | ratio | reached |",
    "|---|---:|---:|---:|---:|---|",
    ...at.map((c) =>
      `| snapshot + ${c.minutes} min | ${c.walMiB.toFixed(0)} MiB | ${formatMs(c.ms)} | ${
        formatMs(from)
      } | ${(c.ms / from).toFixed(2)} | ${c.reached ?? "—"} |`
    ),
    "",
    "![replay time against WAL behind the target](pitr.png)",
    "",
    "## Summary",
    "",
    ...summaryLines(run).map((l) => `- ${l}`),
    "",
  ].join("\n");
  Deno.writeTextFileSync(join(out, "pitr.md"), md);
  const dat = [
    "# minutes walMiB at_s from_s",
    ...at.map((c) =>
      `${c.minutes} ${c.walMiB.toFixed(1)} ${(c.ms / 1000).toFixed(2)} ${(from / 1000).toFixed(2)}`
    ),
  ].join("\n") + "\n";
  Deno.writeTextFileSync(join(out, "pitr.dat"), dat);
  const gp = [
    "set terminal pngcairo size 800,480",
    "set output 'pitr.png'",
    "set title 'branch create --at: time against the WAL replayed'",
    "set xlabel 'minutes of writes between the snapshot and the target'",
    "set ylabel 'seconds until the branch accepts connections'",
    "set yrange [0:*]",
    "set xrange [0:*]",
    "set key top left",
    "plot 'pitr.dat' using 1:3:(sprintf('%.0f MiB', $2)) with linespoints title '--at (replay)' , " +
    "'' using 1:3:(sprintf('%.0f MiB', $2)) with labels offset 0,1 notitle, " +
    "'' using 1:4 with lines dashtype 2 title '--from the snapshot'",
  ].join("\n") + "\n";
  Deno.writeTextFileSync(join(out, "pitr.gp"), gp);
  await runner.run("gnuplot", ["-e", `cd '${out}'`, join(out, "pitr.gp")]);
}

if (import.meta.main) Deno.exit(await main());
