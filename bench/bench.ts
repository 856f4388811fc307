/**
 * zvpg benchmark (issue 6): branch create→ready and snapshot create against the usual
 * alternatives (CREATE DATABASE … TEMPLATE, pg_dump | pg_restore, copying PGDATA and
 * starting a server on the copy), space of a fresh branch, list/status latency with many
 * branches and snapshots, and the memory of an idle branch.
 *
 * It builds its own environment (pool on a sparse file, mount dir, config dir, port
 * range) and destroys all of it at the end, also on failure or Ctrl-C.
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
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  fmtBytes,
  fmtMs,
  parseDockerBytes,
  parseSizeMiB,
  pipe,
  progress,
  run,
  type RunResult,
  sizeLabel,
  sleep,
  summarize,
} from "./lib.ts";
import { PostgresProbe } from "../src/adapters/postgres.ts";
import { type BenchResults, renderChart, renderMarkdown, type SizeResult } from "./report.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(BENCH_DIR);
const MAIN_TS = join(REPO, "main.ts");
const IMAGE = "localhost/zvpg-postgres:17";
const PG_UID = 999;
const PORT_START = 7400;
const PORT_END = 7649;
/** Ports for the servers started on PGDATA copies (outside zvpg's range). */
const COPY_PORT = 7690;
const CONTAINER_PGDATA = "/var/lib/postgresql/data";
/** MiB of pgbench data per scale unit (roughly; the real size is measured). */
const MIB_PER_SCALE = 15;

/** Command-line options. */
export interface Options {
  sizes: number[];
  runs: number;
  bigAltRuns: number;
  branches: number;
  snapshots: number;
  runningBranches: number;
  quick: boolean;
  outDir: string;
}

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

function parseOptions(args: string[]): Options {
  const values = new Map<string, string>();
  let quick = false;
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
    const known = ["sizes", "runs", "big-alt-runs", "branches", "running", "snapshots", "out"];
    if (!m || !known.includes(m[1])) throw new Error(`unknown option '${arg}'\n${USAGE}`);
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new Error(`option --${m[1]} needs a value`);
    values.set(m[1], value);
  }
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
  const options: Options = {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    runs,
    bigAltRuns: int("big-alt-runs", runs, 1),
    branches,
    runningBranches: Math.min(int("running", quick ? 3 : 10, 0), branches),
    snapshots: int("snapshots", quick ? 20 : 500, 0),
    quick,
    outDir: values.get("out") ?? join(BENCH_DIR, "results"),
  };
  if (options.branches > PORT_END - PORT_START - 5) {
    throw new Error(`--branches must be at most ${PORT_END - PORT_START - 5}`);
  }
  return options;
}

/** The private environment of one benchmark run. */
class Env {
  readonly id = crypto.randomUUID().replaceAll("-", "").slice(0, 6);
  readonly pool = `zvb${this.id}`;
  readonly root = `/var/tmp/zvpg-bench-${this.id}`;
  readonly configDir = join(this.root, "config");
  readonly configFile = join(this.configDir, "config.json");
  readonly mountDir = join(this.root, "mnt");
  readonly logDir = join(this.root, "log");
  readonly copyDataset = `${this.pool}/benchcopy`;
  readonly copyMount = join(this.mountDir, "benchcopy");
  readonly copyConf = join(this.root, "copyconf");
  readonly benchLabel = "zvpg-bench.pool";
  poolCreated = false;

  constructor(readonly poolSizeGiB: number) {}

  get zvpgEnv(): Record<string, string> {
    return { ZVPG_CONFIG_DIR: this.configDir, PGPASSFILE: join(this.configDir, "pgpass") };
  }

  writeConfig(): void {
    Deno.mkdirSync(this.configDir, { recursive: true });
    Deno.mkdirSync(this.logDir, { recursive: true });
    const config = {
      zfsPool: this.pool,
      zfsPoolSize: `${this.poolSizeGiB}G`,
      mountDir: this.mountDir,
      pgBaseImage: IMAGE,
      branchPortStart: PORT_START,
      branchPortEnd: PORT_END,
      logDir: this.logDir,
      logLevel: "WARN",
    };
    Deno.writeTextFileSync(this.configFile, JSON.stringify(config, null, 2) + "\n");
  }

  /** Runs the zvpg CLI; the result's `ms` is the wall time of the whole call. */
  zvpg(args: string[], options: { allowFailure?: boolean; timeoutMs?: number } = {}) {
    return run("deno", ["run", "-A", MAIN_TS, "-c", this.configFile, ...args], {
      env: this.zvpgEnv,
      allowFailure: options.allowFailure,
      timeoutMs: options.timeoutMs ?? 300_000,
    });
  }

  async zvpgJson<T>(args: string[]): Promise<{ value: T; ms: number }> {
    const result = await this.zvpg([...args, "-f", "json"]);
    return { value: JSON.parse(result.stdout) as T, ms: result.ms };
  }

  /** Removes every container, the pool and all files. Never throws. */
  async destroy(): Promise<string[]> {
    const problems: string[] = [];
    for (const label of [`zvpg.pool=${this.pool}`, `${this.benchLabel}=${this.pool}`]) {
      const ids = await run("docker", ["ps", "-aq", "--filter", `label=${label}`], {
        allowFailure: true,
        timeoutMs: 60_000,
      }).catch(() => undefined);
      const list = ids?.stdout.split("\n").filter((s) => s.trim() !== "") ?? [];
      if (list.length > 0) {
        const r = await run("docker", ["rm", "-f", "-v", ...list], {
          allowFailure: true,
          timeoutMs: 300_000,
        }).catch((e) => ({ code: 1, stderr: String(e) }) as RunResult);
        if (r.code !== 0) problems.push(`docker rm -f: ${r.stderr.trim()}`);
      }
    }
    let poolGone = true;
    const exists = await run("zpool", ["list", "-H", "-o", "name", this.pool], {
      allowFailure: true,
      timeoutMs: 60_000,
    }).catch(() => undefined);
    if (exists?.code === 0) {
      poolGone = false;
      for (let attempt = 0; attempt < 5 && !poolGone; attempt++) {
        const r = await run("zpool", ["destroy", "-f", this.pool], {
          allowFailure: true,
          timeoutMs: 300_000,
        }).catch((e) => ({ code: 1, stderr: String(e) }) as RunResult);
        if (r.code === 0) poolGone = true;
        else {
          if (attempt === 4) problems.push(`zpool destroy -f ${this.pool}: ${r.stderr.trim()}`);
          await sleep(2000);
        }
      }
    }
    if (poolGone) {
      try {
        Deno.removeSync(this.root, { recursive: true });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) problems.push(`rm -rf ${this.root}: ${e}`);
      }
    } else {
      problems.push(`left ${this.root} in place: the pool still uses its sparse file`);
    }
    return problems;
  }
}

/** `branch info|create -f json` (the fields the benchmark reads). */
interface BranchJson {
  name: string;
  status: string;
  port: number | null;
  container: string | null;
  used: number;
  referenced: number;
  dataset: string;
  mountpoint: string;
  timings?: Record<string, number>;
}

/** Runs SQL in a container through its local socket; returns psql's stdout. */
async function sql(
  container: string,
  db: string,
  query: string,
  options: { timeoutMs?: number; timing?: boolean } = {},
): Promise<RunResult> {
  const args = ["exec", "-u", String(PG_UID), container, "psql", "-X", "-t", "-A"];
  args.push("-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-U", "postgres", "-d", db);
  if (options.timing) args.push("-c", "\\timing on");
  args.push("-c", query);
  return await run("docker", args, { timeoutMs: options.timeoutMs ?? 1_800_000 });
}

/** psql's `Time: 123.456 ms` line, in ms. */
function serverTiming(out: string): number {
  const m = /Time: ([\d.]+) ms/.exec(out);
  return m ? Number(m[1]) : NaN;
}

/** Waits with zvpg's own readiness probe (the same check and interval zvpg uses). */
async function waitReady(port: number, timeoutMs = 120_000): Promise<boolean> {
  const probe = new PostgresProbe();
  return (await probe.waitReady("127.0.0.1", port, "postgres", "postgres", { timeoutMs })) ===
    "ready";
}

/** `used` and `referenced` of a dataset, in bytes. */
async function zfsSpace(dataset: string): Promise<{ used: number; referenced: number }> {
  const r = await run("zfs", ["get", "-H", "-p", "-o", "value", "used,referenced", dataset], {
    timeoutMs: 60_000,
  });
  const [used, referenced] = r.stdout.trim().split("\n").map(Number);
  return { used, referenced };
}

/**
 * `used` and `referenced` once zfs has committed what was written: a throw-away snapshot
 * forces a transaction group sync (zfs-fuse otherwise reports stale numbers for seconds).
 * Repeats until two synced reads agree.
 */
async function syncedSpace(dataset: string): Promise<{ used: number; referenced: number }> {
  let last: { used: number; referenced: number } | undefined;
  for (let i = 0; i < 10; i++) {
    await sleep(1000);
    const snap = `${dataset}@zvb-sync-${i}`;
    await run("zfs", ["snapshot", snap], { timeoutMs: 120_000 });
    await run("zfs", ["destroy", snap], { timeoutMs: 120_000 });
    const now = await zfsSpace(dataset);
    if (last && now.used === last.used && now.referenced === last.referenced) return now;
    last = now;
  }
  return last!;
}

/** Memory of a running container per `docker stats`. */
async function containerMemory(container: string): Promise<{ text: string; bytes: number }> {
  const r = await run("docker", [
    "stats",
    "--no-stream",
    "--format",
    "{{.MemUsage}}",
    container,
  ], { timeoutMs: 60_000 });
  const text = r.stdout.trim();
  return { text, bytes: parseDockerBytes(text) };
}

async function machineInfo(): Promise<Record<string, unknown>> {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  const cpuinfo = read("/proc/cpuinfo");
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length || navigator.hardwareConcurrency;
  const memKiB = Number(/^MemTotal:\s*(\d+)/m.exec(read("/proc/meminfo"))?.[1] ?? NaN);
  let zfsFlavor = "unknown";
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const comm = read(`/proc/${entry.name}/comm`).trim();
    if (comm === "zfs-fuse") zfsFlavor = "zfs-fuse";
  }
  if (zfsFlavor === "unknown" && read("/sys/module/zfs/version").trim() !== "") {
    zfsFlavor = `OpenZFS kernel module ${read("/sys/module/zfs/version").trim()}`;
  }
  const docker = await run("docker", ["version", "--format", "{{.Server.Version}}"], {
    allowFailure: true,
    timeoutMs: 30_000,
  });
  const git = await run("git", ["-C", REPO, "rev-parse", "--short", "HEAD"], {
    allowFailure: true,
  });
  const dirty = await run("git", ["-C", REPO, "status", "--porcelain", "--", "src", "main.ts"], {
    allowFailure: true,
  });
  const others = await run("docker", ["ps", "-q"], { allowFailure: true });
  return {
    cpuModel,
    cores,
    ramBytes: memKiB * 1024,
    ram: fmtBytes(memKiB * 1024),
    kernel: Deno.osRelease(),
    os: read("/etc/os-release").match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? "unknown",
    zfs: zfsFlavor,
    docker: docker.stdout.trim() || "unknown",
    deno: Deno.version.deno,
    image: IMAGE,
    zvpgCommit: git.stdout.trim() + (dirty.stdout.trim() !== "" ? " + uncommitted changes" : ""),
    loadAvgAtStart: read("/proc/loadavg").trim(),
    runningContainersAtStart: others.stdout.split("\n").filter((s) => s.trim() !== "").length,
  };
}

/** Everything measured for one database size. */
async function benchSize(
  env: Env,
  opts: Options,
  mib: number,
  mainContainer: string,
  result: SizeResult,
): Promise<void> {
  const label = sizeLabel(mib).toLowerCase().replace(".", "_");
  const db = `bench_${label}`;
  const scale = Math.max(1, Math.round(mib / MIB_PER_SCALE));
  result.scale = scale;
  const altRuns = mib >= 1024 ? opts.bigAltRuns : opts.runs;
  result.altRuns = altRuns;
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      progress(`  ${result.label}: ${name} FAILED: ${message}`);
      result.errors.push(`${name}: ${message}`);
    }
  };

  // --- data
  progress(`${result.label}: pgbench -i -s ${scale} into database ${db}`);
  await sql(mainContainer, "postgres", `CREATE DATABASE ${db}`);
  const load = await run("docker", [
    "exec",
    "-u",
    String(PG_UID),
    mainContainer,
    "pgbench",
    "-i",
    "-q",
    "-s",
    String(scale),
    "-h",
    "/var/run/postgresql",
    "-U",
    "postgres",
    db,
  ], { timeoutMs: 3_600_000 });
  result.loadMs = load.ms;
  result.dbBytes = Number(
    (await sql(mainContainer, db, `SELECT pg_database_size('${db}')`)).stdout.trim(),
  );
  progress(`  ${result.label}: loaded ${fmtBytes(result.dbBytes)} in ${fmtMs(load.ms)}`);
  const base = `base-${label}`;
  await env.zvpg(["snapshot", "create", base, "-m", `benchmark base ${result.label}`]);

  // --- zvpg branch create → ready
  await step("zvpg branch create", async () => {
    for (let i = 1; i <= opts.runs; i++) {
      const name = `bc-${label}-${i}`;
      const created = await env.zvpgJson<BranchJson>([
        "branch",
        "create",
        name,
        "--from",
        base,
        "--timings",
      ]);
      const b = created.value;
      // Independent check that it serves the data (not part of the timing).
      const check = await run("psql", [
        "-X",
        "-t",
        "-A",
        "-h",
        "127.0.0.1",
        "-p",
        String(b.port),
        "-U",
        "postgres",
        "-d",
        db,
        "-c",
        "SELECT count(*) FROM pgbench_branches",
      ], { env: env.zvpgEnv, timeoutMs: 60_000 });
      if (Number(check.stdout.trim()) !== scale) {
        throw new Error(`branch ${name} has ${check.stdout.trim()} pgbench_branches, not ${scale}`);
      }
      const del = await env.zvpg(["branch", "delete", name, "--force"]);
      result.zvpgCreate.push({
        run: i,
        wallMs: created.ms,
        timings: b.timings ?? {},
        firstQueryMs: check.ms,
        deleteMs: del.ms,
      });
      progress(
        `  ${result.label}: branch create #${i}: ${fmtMs(created.ms)} wall, phases ${
          JSON.stringify(b.timings)
        }; delete ${fmtMs(del.ms)}`,
      );
    }
  });

  await step("zvpg branch reset", () => benchReset(env, opts.runs, base, label, db, result));

  // --- zvpg snapshot create (running main: includes CHECKPOINT)
  await step("zvpg snapshot create", async () => {
    const names: string[] = [];
    for (let i = 1; i <= opts.runs; i++) {
      // Some writes first so that the CHECKPOINT has something to flush, as in real use.
      await sql(
        mainContainer,
        db,
        `UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1`,
      );
      const name = `sn-${label}-${i}`;
      const r = await env.zvpg(["snapshot", "create", name, "-m", "benchmark"]);
      names.push(name);
      result.zvpgSnapshot.push({ run: i, wallMs: r.ms });
      progress(`  ${result.label}: snapshot create #${i}: ${fmtMs(r.ms)}`);
    }
    for (const name of names) {
      const r = await env.zvpg(["snapshot", "delete", name]);
      result.snapshotDeleteMs.push(r.ms);
    }
  });

  // --- space of a fresh branch, and after updating 1 % of pgbench_accounts; memory
  await step("space and memory", async () => {
    // Two branches: 1 % of pgbench_accounts rows updated contiguously (aid <= N/100: about
    // 1 % of the table's pages) and scattered (aid % 100 = 0: nearly every page).
    const rowsTotal = scale * 100_000;
    const variants = [
      { key: "contiguous", where: `aid <= ${rowsTotal / 100}` },
      { key: "scattered", where: "aid % 100 = 0" },
    ] as const;
    const space: NonNullable<SizeResult["space"]> = {
      freshUsed: NaN,
      freshReferenced: NaN,
      freshUsedSamples: [],
      afterUpdate: [],
      originSnapshotReferenced: NaN,
    };
    for (const v of variants) {
      const name = `space-${label}-${v.key}`;
      const b = (await env.zvpgJson<BranchJson>(["branch", "create", name, "--from", base]))
        .value;
      const fresh = await syncedSpace(b.dataset);
      space.freshUsedSamples.push(fresh.used);
      if (v.key === "contiguous") {
        space.freshUsed = fresh.used;
        space.freshReferenced = fresh.referenced;
        space.originSnapshotReferenced = (await zfsSpace(await zfsOriginOf(b.dataset))).referenced;
        // Idle memory of a fresh branch nobody has queried yet.
        await sleep(3000);
        result.memory = { ...(await containerMemory(b.container!)), container: b.container! };
      }
      const t = performance.now();
      const rows = await sql(
        b.container!,
        db,
        `UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE ${v.where}`,
      );
      const updateMs = performance.now() - t;
      await sql(b.container!, db, "CHECKPOINT");
      const after = await syncedSpace(b.dataset);
      space.afterUpdate.push({
        kind: v.key,
        where: v.where,
        status: rows.stdout.trim(),
        updateMs,
        used: after.used,
        referenced: after.referenced,
      });
      progress(
        `  ${result.label}: fresh branch used ${fmtBytes(fresh.used)}; after 1 % ${v.key} update ${
          fmtBytes(after.used)
        }`,
      );
      await env.zvpg(["branch", "delete", name, "--force"]);
    }
    result.space = space;
    progress(`  ${result.label}: idle memory of a fresh branch ${result.memory?.text}`);
  });

  // --- alternative 1: CREATE DATABASE … TEMPLATE in the same server
  await step("CREATE DATABASE TEMPLATE", async () => {
    for (let i = 1; i <= altRuns; i++) {
      const target = `tpl_${label}_${i}`;
      await sql(
        mainContainer,
        "postgres",
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${db}'`,
      );
      let r: RunResult | undefined;
      for (let attempt = 0; attempt < 5 && !r; attempt++) {
        try {
          r = await sql(mainContainer, "postgres", `CREATE DATABASE ${target} TEMPLATE ${db}`, {
            timing: true,
          });
        } catch (e) {
          if (!/being accessed by other users/.test(String(e)) || attempt === 4) throw e;
          await sleep(500);
        }
      }
      result.template.push({ run: i, ms: r!.ms, serverMs: serverTiming(r!.stdout) });
      progress(`  ${result.label}: TEMPLATE #${i}: ${fmtMs(r!.ms)}`);
      await sql(mainContainer, "postgres", `DROP DATABASE ${target}`);
    }
  });

  // --- alternative 2: pg_dump -Fc | pg_restore into a new database (inside the container)
  await step("pg_dump | pg_restore", async () => {
    for (let i = 1; i <= altRuns; i++) {
      const target = `dr_${label}_${i}`;
      const exec = ["exec", "-u", String(PG_UID)];
      const conn = ["-h", "/var/run/postgresql", "-U", "postgres"];
      const t0 = performance.now();
      await sql(mainContainer, "postgres", `CREATE DATABASE ${target}`);
      await pipe(
        { prog: "docker", args: [...exec, mainContainer, "pg_dump", "-Fc", ...conn, db] },
        {
          prog: "docker",
          args: [...exec, "-i", mainContainer, "pg_restore", ...conn, "-d", target],
        },
      );
      const ms = performance.now() - t0;
      const n = await sql(mainContainer, target, "SELECT count(*) FROM pgbench_branches");
      if (Number(n.stdout.trim()) !== scale) throw new Error(`restore of ${db} is incomplete`);
      result.dumpRestore.push({ run: i, ms });
      progress(`  ${result.label}: dump|restore #${i}: ${fmtMs(ms)}`);
      await sql(mainContainer, "postgres", `DROP DATABASE ${target}`);
    }
  });

  // --- alternative 3: cp -a of a stopped (snapshot-consistent) PGDATA, then a server on it
  await step("cp -a PGDATA + start", async () => {
    const src = `cpsrc-${label}`;
    const b = (await env.zvpgJson<BranchJson>(["branch", "create", src, "--from", base])).value;
    const stop = await env.zvpg(["branch", "stop", src]);
    result.branchStopMs = stop.ms;
    const pgdata = join(b.mountpoint, "pgdata");
    const owner = Deno.statSync(pgdata);
    const du = await run("du", ["-s", "-B1", pgdata]);
    result.pgdataBytes = Number(du.stdout.split("\t")[0]);
    for (let i = 1; i <= altRuns; i++) {
      const dest = join(env.copyMount, `copy-${label}-${i}`);
      const name = `zvb_copy_${env.id}_${label}_${i}`;
      const cp = await run("cp", ["-a", pgdata, dest], { timeoutMs: 3_600_000 });
      const t1 = performance.now();
      await run("docker", [
        "run",
        "-d",
        "--pull=never",
        "--name",
        name,
        "--label",
        `${env.benchLabel}=${env.pool}`,
        "--user",
        `${owner.uid}:${owner.gid}`,
        "-v",
        `${dest}:${CONTAINER_PGDATA}`,
        "-v",
        `${env.copyConf}:/etc/zvpg:ro`,
        "-p",
        `127.0.0.1:${COPY_PORT}:5432`,
        "--stop-signal",
        "SIGINT",
        "--entrypoint",
        "postgres",
        IMAGE,
        "-D",
        CONTAINER_PGDATA,
        "-c",
        "config_file=/etc/zvpg/postgresql.conf",
        "-c",
        "hba_file=/etc/zvpg/pg_hba.conf",
        "-c",
        "ident_file=/etc/zvpg/pg_ident.conf",
        "-c",
        "port=5432",
        "-c",
        "listen_addresses=*",
        "-c",
        "unix_socket_directories=/tmp",
      ], { timeoutMs: 120_000 });
      const t2 = performance.now();
      const ready = await waitReady(COPY_PORT);
      const t3 = performance.now();
      if (!ready) {
        const logs = await run("docker", ["logs", "--tail", "5", name], { allowFailure: true });
        throw new Error(`server on the copy did not get ready: ${logs.stderr.trim()}`);
      }
      result.copy.push({
        run: i,
        ms: cp.ms + (t3 - t1),
        cpMs: cp.ms,
        containerMs: t2 - t1,
        readyMs: t3 - t2,
      });
      progress(
        `  ${result.label}: cp -a + start #${i}: ${fmtMs(cp.ms + t3 - t1)} (cp ${
          fmtMs(cp.ms)
        }, run ${fmtMs(t2 - t1)}, ready ${fmtMs(t3 - t2)})`,
      );
      await run("docker", ["rm", "-f", "-v", name], { timeoutMs: 120_000 });
      await run("rm", ["-rf", dest], { timeoutMs: 600_000 });
    }
    await env.zvpg(["branch", "delete", src, "--force"]);
  });

  // --- drop this size's data so that the next size starts from the same small main
  await env.zvpg(["snapshot", "delete", base, "--force"]);
  await sql(mainContainer, "postgres", `DROP DATABASE ${db}`);
}

/** The origin snapshot of a clone. */
/**
 * `branch reset` → ready of a running branch that wrote some rows, measured in the same
 * run as create → ready (issue 13): the branch is made once, reset `runs` times, deleted.
 */
async function benchReset(
  env: Env,
  runs: number,
  base: string,
  label: string,
  db: string,
  result: SizeResult,
): Promise<void> {
  const name = `br-${label}`;
  const created = await env.zvpgJson<BranchJson>(["branch", "create", name, "--from", base]);
  result.zvpgReset = [];
  try {
    for (let i = 1; i <= runs; i++) {
      await sql(
        created.value.container!,
        db,
        "UPDATE pgbench_branches SET bbalance = bbalance + 1",
      );
      const r = await env.zvpg(["branch", "reset", name]);
      result.zvpgReset.push({ run: i, wallMs: r.ms });
      progress(`  ${result.label}: branch reset #${i}: ${fmtMs(r.ms)} wall`);
    }
  } finally {
    await env.zvpg(["branch", "delete", name, "--force"]);
  }
}

async function zfsOriginOf(dataset: string): Promise<string> {
  const r = await run("zfs", ["get", "-H", "-o", "value", "origin", dataset]);
  return r.stdout.trim();
}

/** `status branches -f json`: wall time, or why it is not available. */
async function statusBranches(env: Env): Promise<{ ms: number; ok: boolean; note: string }> {
  const r = await env.zvpg(["status", "branches", "-f", "json"], { allowFailure: true });
  if (r.code === 0) return { ms: r.ms, ok: true, note: "" };
  return {
    ms: r.ms,
    ok: false,
    note: `exit ${r.code}: ${r.stderr.trim().split("\n").pop() ?? ""}`,
  };
}

/** Latency of list/status commands, `runs` times each. */
async function listLatency(env: Env, runs: number, stage: string, results: BenchResults) {
  const branchList: number[] = [];
  const snapshotList: number[] = [];
  const status: number[] = [];
  let statusNote = "";
  let counted = { branches: 0, snapshots: 0 };
  for (let i = 0; i < runs; i++) {
    const b = await env.zvpgJson<unknown[]>(["branch", "list"]);
    branchList.push(b.ms);
    const s = await env.zvpgJson<unknown[]>(["snapshot", "list"]);
    snapshotList.push(s.ms);
    counted = { branches: b.value.length, snapshots: s.value.length };
    const st = await statusBranches(env);
    if (st.ok) status.push(st.ms);
    else statusNote = st.note;
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
  progress(
    `listing [${stage}] ${counted.branches} branches, ${counted.snapshots} snapshots: branch list ${
      fmtMs(summarize(branchList).median)
    }, snapshot list ${fmtMs(summarize(snapshotList).median)}, status branches ${
      status.length ? fmtMs(summarize(status).median) : `n/a (${statusNote})`
    }`,
  );
}

/** Many branches and snapshots: list/status latency and idle memory. */
async function benchListing(env: Env, opts: Options, results: BenchResults): Promise<void> {
  const runs = Math.max(opts.runs, 5);
  await env.zvpg(["snapshot", "create", "list-base", "-m", "listing benchmark base"]);
  await listLatency(env, runs, "baseline", results);
  progress(
    `creating ${opts.branches} branches (${opts.runningBranches} left running, the rest stopped)`,
  );
  const width = String(opts.branches).length;
  const running: string[] = [];
  for (let i = 1; i <= opts.branches; i++) {
    const name = `l-${String(i).padStart(width, "0")}`;
    const created = await env.zvpgJson<BranchJson>([
      "branch",
      "create",
      name,
      "--from",
      "list-base",
      "--timings",
    ]);
    let stopMs = NaN;
    if (i > opts.runningBranches) stopMs = (await env.zvpg(["branch", "stop", name])).ms;
    else if (created.value.container) running.push(created.value.container);
    results.manyBranches.push({
      index: i,
      createWallMs: created.ms,
      timings: created.value.timings ?? {},
      stopMs,
    });
    if (i % 10 === 0 || i === opts.branches) {
      progress(`  ${i}/${opts.branches} branches (last create ${fmtMs(created.ms)})`);
    }
  }
  await listLatency(env, runs, `${opts.branches} branches`, results);
  progress(`creating ${opts.snapshots} snapshots of the running main`);
  for (let i = 1; i <= opts.snapshots; i++) {
    const r = await env.zvpg([
      "snapshot",
      "create",
      `ls-${String(i).padStart(4, "0")}`,
      "-m",
      "listing benchmark",
    ]);
    results.manySnapshots.push(r.ms);
    if (i % 50 === 0 || i === opts.snapshots) {
      progress(`  ${i}/${opts.snapshots} snapshots (last ${fmtMs(r.ms)})`);
    }
  }
  await listLatency(
    env,
    runs,
    `${opts.branches} branches + ${opts.snapshots} snapshots`,
    results,
  );
  progress(`idle memory of ${running.length} running branches`);
  await sleep(3000);
  for (const c of running) {
    const mem = await containerMemory(c);
    results.idleMemory.push({ container: c, ...mem });
  }
}

async function checkPrerequisites(): Promise<void> {
  const need: [string, string[]][] = [
    ["docker", ["info", "--format", "{{.ServerVersion}}"]],
    ["zpool", ["list", "-H"]],
    ["gnuplot", ["--version"]],
    ["psql", ["--version"]],
  ];
  for (const [prog, args] of need) {
    let r: RunResult | undefined;
    for (let attempt = 0; attempt < 10; attempt++) {
      r = await run(prog, args, { allowFailure: true, timeoutMs: 30_000 }).catch((e) =>
        ({ code: 127, stderr: String(e), stdout: "", ms: 0 }) as RunResult
      );
      if (r.code === 0) break;
      if (prog !== "docker") break;
      progress("docker does not answer; waiting for it");
      await sleep(3000);
    }
    if (r?.code !== 0) throw new Error(`${prog} is not usable: ${r?.stderr.trim()}`);
  }
  const img = await run("docker", ["image", "inspect", IMAGE], { allowFailure: true });
  if (img.code !== 0) throw new Error(`image ${IMAGE} is missing (scripts/build_image.sh)`);
}

/** Copies zvpg's config files for the servers on PGDATA copies (owned by postgres). */
function prepareCopyConf(env: Env): void {
  Deno.mkdirSync(env.copyConf, { recursive: true });
  for (const f of ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"]) {
    const target = join(env.copyConf, f);
    Deno.copyFileSync(join(env.configDir, f), target);
    Deno.chmodSync(target, 0o600);
    Deno.chownSync(target, PG_UID, PG_UID);
  }
  Deno.chmodSync(env.copyConf, 0o700);
  Deno.chownSync(env.copyConf, PG_UID, PG_UID);
}

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  const largestGiB = opts.sizes[opts.sizes.length - 1] / 1024;
  // main + WAL + a TEMPLATE copy + a PGDATA copy (with WAL) + slack.
  const env = new Env(Math.ceil(4 * largestGiB + 3));
  const t0 = performance.now();
  const results: BenchResults = {
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
      pool: env.pool,
      poolSize: `${env.poolSizeGiB}G (sparse file ${join(env.mountDir, `${env.pool}.img`)})`,
      root: env.root,
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

  let cleaning: Promise<string[]> | undefined;
  const cleanup = () => (cleaning ??= env.destroy());
  const onSignal = () => {
    progress("interrupted: cleaning up");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  try {
    await checkPrerequisites();
    results.machine = await machineInfo();
    progress(
      `environment: pool ${env.pool} (${env.poolSizeGiB}G sparse), root ${env.root}, ports ${PORT_START}-${PORT_END}`,
    );
    env.writeConfig();
    await env.zvpg(["--version"]); // warm the module cache
    const init = await env.zvpg(["init", "env"], { timeoutMs: 600_000 });
    results.initMs = init.ms;
    progress(`zvpg init env: ${fmtMs(init.ms)}`);
    env.poolCreated = true;
    await run("zfs", ["create", "-o", `mountpoint=${env.copyMount}`, env.copyDataset]);
    prepareCopyConf(env);
    const mainInfo = (await env.zvpgJson<BranchJson>(["branch", "info", "main"])).value;
    if (!mainInfo.container) throw new Error("main has no running container after init env");
    results.machine.postgres = (await sql(mainInfo.container, "postgres", "SELECT version()"))
      .stdout.trim();

    for (const mib of opts.sizes) {
      const size: SizeResult = {
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
      results.sizes.push(size);
      try {
        await benchSize(env, opts, mib, mainInfo.container, size);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        size.errors.push(message);
        progress(`${size.label}: FAILED: ${message}`);
      }
    }
    try {
      await benchListing(env, opts, results);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      results.errors.push(`listing: ${message}`);
      progress(`listing: FAILED: ${message}`);
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    results.errors.push(message);
    progress(`FAILED: ${message}`);
  } finally {
    progress(`cleaning up: containers, pool ${env.pool}, ${env.root}`);
    results.cleanup = await cleanup();
    for (const p of results.cleanup) progress(`cleanup problem: ${p}`);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  results.finishedAt = new Date().toISOString();
  results.durationS = Math.round((performance.now() - t0) / 1000);
  results.machine.loadAvgAtEnd = (() => {
    try {
      return Deno.readTextFileSync("/proc/loadavg").trim();
    } catch {
      return "";
    }
  })();
  Deno.mkdirSync(opts.outDir, { recursive: true });
  const chart = await renderChart(results, opts.outDir).catch((e) => `chart failed: ${e}`);
  if (chart) {
    progress(chart);
    results.errors.push(chart);
  }
  const md = renderMarkdown(results); // also fills results.summary
  Deno.writeTextFileSync(join(opts.outDir, "latest.md"), md);
  Deno.writeTextFileSync(
    join(opts.outDir, "latest.json"),
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log(md);
  progress(`done in ${results.durationS}s; results in ${opts.outDir}`);
  const failed = results.errors.length + results.sizes.reduce((n, s) => n + s.errors.length, 0);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(2);
  }
}
