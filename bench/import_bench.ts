/**
 * Import benchmark: `zvpg init env --from <uri>` against plain `pg_dump -Fc | pg_restore`
 * (one job, streamed) and plain `pg_dump -Fd -j N` + `pg_restore -j N` of the same source,
 * side by side in one run, the methods alternating round by round. The source holds
 * `--size` of rows over `--tables` tables, each with a primary key and two indexes. The
 * plain restores go into a fresh server (default settings, as a user has it) whose data
 * directory is on a ZFS dataset of the same kind of pool zvpg uses, so the file system is
 * not what differs. zvpg's time is its whole CLI run (pool, preflight, loader, main's start,
 * snapshot), profiled by phase from the `import phase:` lines of its log file.
 *
 * Run as root on the test machine:
 * `deno run -A bench/import_bench.ts [--size 400MB] [--tables 4] [--runs 3] [--jobs 4]`;
 * writes bench/results/import.{md,json,dat,gp,png} (`--report-only` renders them again from
 * import.json).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { sh, TEST_IMAGE, TestEnv } from "../tests/support/itest.ts";
import { SourceServer } from "../tests/support/source_server.ts";
import { PHASE_MARK } from "../src/ops/import/progress.ts";
import { cleanupOnSignal, progress } from "./timed.ts";
import { formatMs, formatSize, parseSizeMiB, sizeLabel } from "./units.ts";
import { loadAverage } from "./machine_info.ts";
import { renderImportChart, renderImportMarkdown } from "./import_report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "400MB" },
    tables: { type: "string", default: "4" },
    runs: { type: "string", default: "3" },
    jobs: { type: "string", default: "4" },
    out: { type: "string", default: new URL("./results/", import.meta.url).pathname },
    /** Only renders import.md and import.png again from the import.json of an earlier run. */
    "report-only": { type: "boolean", default: false },
  },
});
if (values["report-only"]) {
  const { info, samples } = JSON.parse(Deno.readTextFileSync(join(values.out!, "import.json")));
  Deno.writeTextFileSync(join(values.out!, "import.md"), renderImportMarkdown(info, samples));
  await renderImportChart(info, samples, values.out!);
  Deno.exit(0);
}
const sizeMiB = parseSizeMiB(values.size!);
const tables = Number(values.tables);
const runs = Number(values.runs);
const jobs = Number(values.jobs);
/** Bytes of heap per generated row (measured: 24 B header + columns + line pointer). */
const ROW_BYTES = 130;
const rowsPerTable = Math.round(sizeMiB * 1048576 / ROW_BYTES / tables);

/** The methods measured, in the order of the first round. */
export const METHODS = ["zvpg", "plain", "plain-j"] as const;
export type Method = typeof METHODS[number];

/** One measured run: its wall time and, for zvpg, its phases (ms). */
export interface Sample {
  method: Method;
  round: number;
  ms: number;
  phases: Record<string, number>;
}

const uid = 999;
const source = new SourceServer(freePort(), TEST_IMAGE, uid);
/** Holds the plain targets' datasets: a zvpg environment's pool, used by hand. */
const plainEnv = new TestEnv({ zfsPoolSize: "40G" });
const envs: TestEnv[] = [plainEnv];
const done = cleanupOnSignal(async () => {
  for (const env of envs) await env.cleanup();
  await source.remove();
  await sh("docker", ["rm", "-f", TARGET]);
});
const TARGET = "zvpg-import2-bench-target";
const startedAt = new Date();
try {
  progress(`source: ${tables} tables × ${rowsPerTable} rows (~${sizeLabel(sizeMiB)} of heap)`);
  await source.start();
  for (let t = 0; t < tables; t++) {
    await source.psql("app", tableSql(t, rowsPerTable));
  }
  await source.psql("app", "VACUUM ANALYZE");
  const sourceBytes = Number(await source.psql("app", "SELECT pg_database_size('app')"));
  const expected = await rowCount((sql) => source.psql("app", sql));
  progress(`source ready: ${formatSize(sourceBytes)}, ${expected} rows`);
  await plainEnv.ok(["init", "env"]);
  await sh("docker", ["stop", ...(await plainEnv.containers())]);

  const samples: Sample[] = [];
  for (let round = 0; round < runs; round++) {
    const order = METHODS.map((_, i) => METHODS[(i + round) % METHODS.length]);
    for (const method of order) {
      progress(`round ${round + 1}/${runs}: ${method}`);
      const sample = method === "zvpg"
        ? await runZvpg(round, expected)
        : await runPlain(method, round, expected);
      progress(`  ${method}: ${formatMs(sample.ms)}`);
      samples.push(sample);
    }
  }
  const info = {
    startedAt: startedAt.toISOString(),
    host: Deno.hostname(),
    cores: navigator.hardwareConcurrency,
    loadAverageAtEnd: loadAverage(),
    image: TEST_IMAGE,
    size: sizeLabel(sizeMiB),
    tables,
    rowsPerTable,
    sourceBytes,
    runs,
    jobs,
  };
  mkdirSync(values.out!, { recursive: true });
  Deno.writeTextFileSync(
    join(values.out!, "import.json"),
    JSON.stringify({ info, samples }, null, 2) + "\n",
  );
  Deno.writeTextFileSync(join(values.out!, "import.md"), renderImportMarkdown(info, samples));
  await renderImportChart(info, samples, values.out!);
  console.log(Deno.readTextFileSync(join(values.out!, "import.md")));
} finally {
  await done();
}

/** One table of the data set: a primary key and two secondary indexes. */
function tableSql(t: number, rows: number): string {
  return `SET ROLE app; CREATE TABLE bench_${t} (id bigint PRIMARY KEY, account int NOT NULL,
    created timestamptz NOT NULL, amount numeric(12,2), note text);
  INSERT INTO bench_${t} SELECT g, g % 100003, timestamptz '2026-01-01' + g * interval '1 second',
    (g % 100000) / 100.0, md5(g::text) || md5((g + ${t})::text) FROM generate_series(1, ${rows}) g;
  CREATE INDEX bench_${t}_account ON bench_${t} (account);
  CREATE INDEX bench_${t}_created ON bench_${t} (created);`;
}

/** The rows of every bench table, through `query`. */
async function rowCount(query: (sql: string) => Promise<string>): Promise<number> {
  const parts = Array.from({ length: tables }, (_, t) => `(SELECT count(*) FROM bench_${t})`);
  return Number(await query(`SELECT ${parts.join(" + ")}`));
}

/** `zvpg init env --from <uri>` on a fresh environment, timed and profiled. */
async function runZvpg(round: number, expected: number): Promise<Sample> {
  const env = new TestEnv({ zfsPoolSize: "40G" });
  envs.push(env);
  try {
    const t0 = performance.now();
    const r = await env.zvpg(
      ["init", "env", "--from", source.uri(), "--database", "app", "--jobs", String(jobs)],
      { PGPASSWORD: source.password },
    );
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`zvpg import failed: ${r.stderr}`);
    const port = await env.port("main");
    const got = await rowCount((sql) => env.psql(port, sql, "app"));
    if (got !== expected) throw new Error(`zvpg copied ${got} rows, not ${expected}`);
    const phases = phaseTimes(Deno.readTextFileSync(join(env.base, "log", "zvpg.log")), t0, ms);
    return { method: "zvpg", round, ms, phases };
  } finally {
    await env.cleanup();
    envs.splice(envs.indexOf(env), 1);
  }
}

/**
 * Phases of one CLI run from its log: each `import phase:` line starts a phase that lasts
 * to the next; before the first is the set-up (Deno start, image check, postgres uid).
 */
export function phaseTimes(logText: string, _t0: number, totalMs: number): Record<string, number> {
  const lines = logText.split("\n").filter((l) => l !== "");
  const first = Date.parse(lines[0]?.split(" ")[0] ?? "");
  const marks = lines.filter((l) => l.includes(`DEBUG ${PHASE_MARK}`)).map((l) => ({
    at: Date.parse(l.split(" ")[0]),
    name: phaseKey(l.slice(l.indexOf(PHASE_MARK) + PHASE_MARK.length)),
  }));
  const phases: Record<string, number> = {};
  const add = (name: string, ms: number) => phases[name] = (phases[name] ?? 0) + ms;
  if (marks.length === 0) return { other: totalMs };
  // the first log line is written after Deno started: the time before it is start-up
  add("set-up", marks[0].at - first);
  marks.forEach((m, i) => {
    if (m.name !== "done") add(m.name, (marks[i + 1]?.at ?? m.at) - m.at);
  });
  const measured = Object.values(phases).reduce((a, b) => a + b, 0);
  add("deno start + exit", Math.max(0, totalMs - measured));
  return phases;
}

/** Groups phase names into the report's columns. */
function phaseKey(name: string): string {
  if (name.startsWith("dumping database")) return "wait for dump";
  if (name.startsWith("dumping roles")) return "start dumps";
  if (name.startsWith("restoring database")) return "restore";
  return name;
}

/** A plain dump and restore into a fresh server on a ZFS dataset. */
async function runPlain(method: Method, round: number, expected: number): Promise<Sample> {
  const dataset = `${plainEnv.pool}/plain${round}${method === "plain-j" ? "j" : ""}`;
  const mount = join(plainEnv.base, "plain", dataset.split("/")[1]);
  await must("zfs", ["create", "-o", `mountpoint=${mount}`, dataset]);
  try {
    mkdirSync(join(mount, "pgdata"), { recursive: true });
    mkdirSync(join(mount, "scratch"), { recursive: true });
    await must("chown", ["-R", `${uid}:${uid}`, mount]);
    await must("docker", [
      ...["run", "--rm", "--user", `${uid}:${uid}`, "-v", `${mount}:/t`],
      ...["--entrypoint", "initdb", TEST_IMAGE, "-D", "/t/pgdata", "-U", "postgres"],
      ...["--auth-local=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
    ]);
    await must("docker", [
      ...["run", "-d", "--name", TARGET, "--network", "host", "--user", `${uid}:${uid}`],
      ...["-v", `${mount}:/t`, "--shm-size", "256m", "--entrypoint", "postgres", TEST_IMAGE],
      ...["-D", "/t/pgdata", "-c", "listen_addresses=", "-c", "unix_socket_directories=/tmp"],
    ]);
    for (let i = 0; i < 100; i++) {
      const ready = await sh("docker", ["exec", TARGET, "pg_isready", "-q", "-h", "/tmp"]);
      if (ready.code === 0) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    // the roles the dump names (zvpg copies them with pg_dumpall --roles-only)
    await targetSql("CREATE ROLE app; CREATE ROLE reader");
    await targetSql("CREATE DATABASE app");
    const exec = ["exec", "--user", `${uid}:${uid}`, "-e", `PGPASSWORD=${source.password}`];
    const target = ["-h", "/tmp", "-U", "postgres", "-d", "app"];
    const t0 = performance.now();
    const phases: Record<string, number> = {};
    if (method === "plain") {
      // the pipe a user types; a constant script, its inputs as positional parameters
      await must("docker", [
        ...exec,
        TARGET,
        ...["sh", "-c", 'pg_dump -Fc "$1" | pg_restore --exit-on-error -h /tmp -U postgres -d app'],
        ...["sh", source.uri()],
      ]);
      phases["dump | restore"] = performance.now() - t0;
    } else {
      await must("docker", [
        ...exec,
        TARGET,
        ...["pg_dump", "-Fd", "-j", String(jobs), "-f", "/t/scratch/d", "-d", source.uri()],
      ]);
      phases["dump"] = performance.now() - t0;
      await must("docker", [
        ...exec,
        TARGET,
        ...["pg_restore", "--exit-on-error", "-j", String(jobs), ...target, "/t/scratch/d"],
      ]);
      phases["restore"] = performance.now() - t0 - phases["dump"];
    }
    const ms = performance.now() - t0;
    const got = await rowCount((sql) => targetSql(sql, "app"));
    if (got !== expected) throw new Error(`${method} copied ${got} rows, not ${expected}`);
    return { method, round, ms, phases };
  } finally {
    await sh("docker", ["rm", "-f", TARGET]);
    await sh("zfs", ["destroy", "-r", dataset]);
  }
}

async function targetSql(sql: string, db = "postgres"): Promise<string> {
  const r = await must("docker", [
    ...["exec", "--user", `${uid}:${uid}`, TARGET, "psql", "-X", "-At", "-h", "/tmp"],
    ...["-U", "postgres", "-d", db, "-c", sql],
  ]);
  return r.stdout.trim();
}

async function must(program: string, args: string[]) {
  const r = await sh(program, args);
  if (r.code !== 0) throw new Error(`${program} ${args.slice(0, 3).join(" ")}: ${r.stderr}`);
  return r;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
