/**
 * Point-in-time branches, measured in one run on one pool:
 *
 * - branch-at-time (`branch create --at`) against branch-from-snapshot (`--from`) of the
 *   same base snapshot, for targets further and further past it (replay time against the
 *   seconds and MB of WAL between the base and the target: the chart);
 * - the archive's cost on main's writes: pgbench TPS with archiving on and off.
 *
 * Usage: `deno run -A bench/pitr_bench.ts [--seconds 40] [--scale 10] [--tps-seconds 20]
 * [--port-start 33500]`. Writes bench/results/pitr/{pitr.json,pitr.md,pitr.dat,pitr.gp,pitr.png}.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BenchPool, REPO } from "./bench_pool.ts";
import { cleanupOnSignal, progress, sleep, timed } from "./timed.ts";
import { machineInfo } from "./machine_info.ts";
import { DenoCommandRunner } from "../src/runtime/runner.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "40" },
    scale: { type: "string", default: "10" },
    "tps-seconds": { type: "string", default: "20" },
    "port-start": { type: "string", default: "33500" },
  },
});
const LOAD_SECONDS = Number(values.seconds);
const SCALE = Number(values.scale);
const TPS_SECONDS = Number(values["tps-seconds"]);
const PORT_START = Number(values["port-start"]);
const OUT = join(REPO, "bench/results/pitr");

const runner = new DenoCommandRunner();
const bench = new BenchPool({
  id: crypto.randomUUID().slice(0, 6),
  poolSize: "8G",
  portStart: PORT_START,
  portEnd: PORT_START + 19,
});
const cleanup = cleanupOnSignal(async () => {
  const left = await bench.destroy();
  if (left.length > 0) console.error(`left behind: ${left.join("; ")}`);
});

async function port(branch: string): Promise<number> {
  return (await bench.zvpgJson<{ port: number }>(["branch", "info", branch])).value.port;
}

async function sql(p: number, query: string): Promise<string> {
  const r = await runner.run("psql", [
    "-X",
    "-At",
    "-h",
    "127.0.0.1",
    "-p",
    String(p),
    "-U",
    "postgres",
    "-d",
    "postgres",
    "-c",
    query,
  ], { env: bench.env });
  return r.stdout.trim();
}

/** pgbench against `p` for `seconds`; returns its TPS. */
async function pgbench(p: number, seconds: number): Promise<number> {
  const r = await runner.run("pgbench", [
    "-h",
    "127.0.0.1",
    "-p",
    String(p),
    "-U",
    "postgres",
    "-c",
    "4",
    "-j",
    "2",
    "-T",
    String(seconds),
    "postgres",
  ], { env: bench.env, timeoutMs: (seconds + 120) * 1000 });
  const m = /tps = ([0-9.]+)/.exec(r.stdout);
  if (!m) throw new Error(`pgbench gave no tps: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

/** Restarts main (an archive change takes effect at the next start). */
async function restartMain(): Promise<number> {
  await bench.zvpg(["branch", "stop", "main"]);
  await bench.zvpg(["branch", "start", "main"]);
  return await port("main");
}

interface Point {
  secondsAfterBase: number;
  walMbAfterBase: number;
  /** Wall time of the whole `branch create --at` (CLI start to exit). */
  atMs: number;
  /** Its `ready` phase: replay, promotion and the restart without recovery. */
  atReadyMs: number;
  /** Wall time of `branch create --from` the same base. */
  fromSnapshotMs: number;
  fromReadyMs: number;
  base: string;
}

async function main(): Promise<void> {
  bench.writeConfig({ walArchive: true });
  progress("init env");
  await bench.zvpg(["init", "env"]);
  let mainPort = await port("main");
  progress(`pgbench -i -s ${SCALE}`);
  await runner.run("pgbench", [
    "-i",
    "-q",
    "-s",
    String(SCALE),
    "-h",
    "127.0.0.1",
    "-p",
    String(mainPort),
    "-U",
    "postgres",
    "postgres",
  ], { env: bench.env, timeoutMs: 600_000 });

  // the archive's cost: TPS off and on, alternating twice (each after a restart)
  const runs: { off: number[]; on: number[] } = { off: [], on: [] };
  for (const state of ["off", "on", "off", "on"] as const) {
    progress(`TPS with archiving ${state}`);
    await bench.zvpg(["branch", "archive", "main", state]);
    mainPort = await restartMain();
    runs[state].push(await pgbench(mainPort, TPS_SECONDS));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const tpsOff = mean(runs.off);
  const tpsOn = mean(runs.on);

  // a base snapshot, then load, with the time and WAL position every few seconds
  await bench.zvpg(["snapshot", "create", "base"]);
  await sleep(2500);
  const baseLsn = await sql(mainPort, "select pg_current_wal_lsn()");
  const marks: { at: Date; seconds: number; walMb: number }[] = [];
  const started = Date.now();
  progress(`pgbench load for ${LOAD_SECONDS} s behind the targets`);
  const load = pgbench(mainPort, LOAD_SECONDS);
  const step = Math.max(5, Math.floor(LOAD_SECONDS / 6));
  for (let s = step; s < LOAD_SECONDS; s += step) {
    await sleep(started + s * 1000 - Date.now());
    const bytes = await sql(mainPort, `select pg_current_wal_lsn() - '${baseLsn}'::pg_lsn`);
    marks.push({ at: new Date(), seconds: s, walMb: Number(bytes) / 1024 / 1024 });
  }
  await load;

  const points: Point[] = [];
  for (const [i, mark] of marks.entries()) {
    progress(`branch at +${mark.seconds} s (${mark.walMb.toFixed(0)} MB of WAL after the base)`);
    const at = await timed(() =>
      bench.zvpgJson<{ pointInTime: { base: string }; timings: { ready: number } }>([
        "branch",
        "create",
        `at${i}`,
        "--at",
        mark.at.toISOString(),
        "--timings",
      ])
    );
    const from = await timed(() =>
      bench.zvpgJson<{ timings: { ready: number } }>([
        "branch",
        "create",
        `from${i}`,
        "--from",
        "base",
        "--timings",
      ])
    );
    points.push({
      secondsAfterBase: mark.seconds,
      walMbAfterBase: Math.round(mark.walMb * 10) / 10,
      atMs: Math.round(at.ms),
      atReadyMs: at.value.value.timings.ready,
      fromSnapshotMs: Math.round(from.ms),
      fromReadyMs: from.value.value.timings.ready,
      base: at.value.value.pointInTime.base,
    });
    await bench.zvpg(["branch", "delete", `at${i}`]);
    await bench.zvpg(["branch", "delete", `from${i}`]);
  }
  const result = {
    date: new Date().toISOString(),
    machine: await machineInfo(bench.ctx),
    scale: SCALE,
    tps: {
      archiveOff: tpsOff,
      archiveOn: tpsOn,
      costPercent: (1 - tpsOn / tpsOff) * 100,
      runsOff: runs.off,
      runsOn: runs.on,
    },
    points,
  };
  await Deno.mkdir(OUT, { recursive: true });
  await Deno.writeTextFile(join(OUT, "pitr.json"), JSON.stringify(result, null, 2) + "\n");
  await writeReport(result);
  console.log(JSON.stringify(result.tps), JSON.stringify(points));
}

async function writeReport(
  r: {
    date: string;
    scale: number;
    tps: {
      archiveOff: number;
      archiveOn: number;
      costPercent: number;
      runsOff: number[];
      runsOn: number[];
    };
    points: Point[];
  },
): Promise<void> {
  const rows = r.points.map((p) =>
    `| ${p.secondsAfterBase} | ${p.walMbAfterBase} | ${p.atMs} | ${p.atReadyMs} | ${p.fromSnapshotMs} | ${p.fromReadyMs} | ${p.base} |`
  );
  await Deno.writeTextFile(
    join(OUT, "pitr.md"),
    [
      `# Point-in-time branches (${r.date})`,
      "",
      `pgbench scale ${r.scale}, 4 clients. Written by bench/pitr_bench.ts.`,
      "",
      "## Archive cost on main's writes",
      "",
      `| archiving | TPS |`,
      `| --- | --- |`,
      `| off | ${r.tps.archiveOff.toFixed(0)} |`,
      `| on | ${r.tps.archiveOn.toFixed(0)} |`,
      "",
      `Cost: ${r.tps.costPercent.toFixed(1)} % (mean of two ${TPS_SECONDS} s runs each, ` +
      `alternating off/on/off/on; runs off ${JSON.stringify(r.tps.runsOff)}, on ${
        JSON.stringify(r.tps.runsOn)
      }).`,
      "",
      "## branch create --at against --from the same base snapshot",
      "",
      "The `ready` phase of `--at` is the replay, the promotion and the restart without the",
      "recovery; the rest of its wall time is the planning (a marker commit, a segment switch",
      "and its archiving), the clone and the container start, as for `--from`.",
      "",
      "| target, s after the base | WAL after the base, MB | --at, ms | --at ready, ms | --from, ms | --from ready, ms | base |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
      "",
      "![replay time against WAL behind the target](pitr.png)",
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    join(OUT, "pitr.dat"),
    r.points.map((p) =>
      `${p.walMbAfterBase} ${p.atMs} ${p.fromSnapshotMs} ${p.atReadyMs} ${p.fromReadyMs}`
    ).join("\n") + "\n",
  );
  await Deno.writeTextFile(
    join(OUT, "pitr.gp"),
    [
      "set terminal pngcairo size 900,500",
      "set output 'pitr.png'",
      "set title 'branch create: --at (replay) vs --from (snapshot)'",
      "set xlabel 'WAL between the base snapshot and the target (MB)'",
      "set ylabel 'wall time of branch create (ms)'",
      "set key top left",
      "set grid",
      "plot 'pitr.dat' using 1:2 with linespoints title '--at <time> (total)', \\",
      "     'pitr.dat' using 1:4 with linespoints title '--at <time> (ready: replay + restart)', \\",
      "     'pitr.dat' using 1:3 with linespoints title '--from <snapshot> (total)', \\",
      "     'pitr.dat' using 1:5 with linespoints title '--from <snapshot> (ready)'",
      "",
    ].join("\n"),
  );
  const g = await runner.run("gnuplot", ["-e", `cd '${OUT}'`, join(OUT, "pitr.gp")], {
    allowFailure: true,
  });
  if (g.code !== 0) console.error(`gnuplot failed: ${g.stderr}`);
}

try {
  await main();
} finally {
  await cleanup();
}
