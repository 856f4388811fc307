/**
 * Remote benchmark: does zvpg move a snapshot as fast as the `zfs send | zfs receive` one
 * would type, and does an increment cost what ZFS wrote?
 *
 * (a) Whole transfers, side by side in one run: `zvpg push` of a snapshot against the
 * hand-typed send of it, and `zvpg pull` against the hand-typed receive, round by round
 * in alternating order; the ratio of the medians is the figure (target at most 1.20).
 * (b) An incremental push of a 1 % update of the database: the bytes zvpg reports sending
 * against ZFS's `written` of the snapshot (zfs-fuse lacks that property: the same figure
 * is derived from `referenced` and `used`, see {@link writtenBy}), and the plain
 * `zfs send -i` of it (target at most 1.20).
 *
 * Two transports. `file`: a remote directory (`zvpg push usb base` vs
 * `zfs send <snap> > file`; `zvpg pull usb base` on the other pool vs
 * `zfs receive -u <ds> < file`). `ssh`: a second host (tests/support/remote_host.ts: a
 * network namespace with its own sshd), its key bound to `zvpg serve --stdio`, against
 * `zfs send <snap> | ssh <host> zfs receive -u <ds>` through a second, unrestricted host
 * on the same pool, and the reverse for pull. The ssh half runs only when this zvpg's
 * `push` takes an ssh remote, found by trying; otherwise it prints
 * `ssh: not available in this zvpg` and the reason.
 *
 *     deno run -A bench/remote_bench.ts [--size 1GB] [--runs 3] [--transport file,ssh]
 *       [--id ID] [--port-base 18000] [--out bench/results/remote] [--report-only]
 *
 * Needs root, zfs, docker, localhost/zvpg-postgres:17, and for ssh `ip` and sshd. Pools
 * `zvpgbench_<id>_here|there` under /var/tmp/zvpg-bench-…, ports from --port-base (100);
 * everything is destroyed at the end.
 *
 * @module
 */
import { join } from "node:path";
import { execInBranch, execSql, localClientArgs } from "../src/ops/branch_container.ts";
import { type CommandRunner, DenoCommandRunner } from "../src/runtime/runner.ts";
import { type RemoteHost, startRemoteHost } from "../tests/support/remote_host.ts";
import { BenchPool, REPO } from "./bench_pool.ts";
import { profileCalls } from "./call_profile.ts";
import { loadAverage, machineInfo } from "./machine_info.ts";
import {
  type CopyFigure,
  type IncrementFigure,
  type RemoteRun,
  renderRemoteChart,
  renderRemoteMarkdown,
  TARGET_RATIO,
  type TransferFigure,
  type Transport,
} from "./remote_report.ts";
import { median } from "./summarize.ts";
import { cleanupOnSignal, progress, timed } from "./timed.ts";
import { formatMs, formatSize, parseSizeMiB } from "./units.ts";

/** MiB of pgbench data per scale unit (roughly; the real size is measured). */
const MIB_PER_SCALE = 15;
/** The database pgbench fills. */
const DB = "remotebench";

/** Options of the run. */
interface Options {
  sizeMiB: number;
  runs: number;
  transports: Transport[];
  id: string;
  portBase: number;
  outDir: string;
  /** Only render remote.md and remote.png again from remote.json. */
  reportOnly: boolean;
}

function parseOptions(args: string[]): Options {
  const flag = (name: string) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const int = (name: string, fallback: number) => {
    const n = Number(flag(name) ?? fallback);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1`);
    return n;
  };
  const transports = (flag("transport") ?? "file,ssh").split(",") as Transport[];
  for (const t of transports) {
    if (t !== "file" && t !== "ssh") throw new Error(`--transport: '${t}' is not file or ssh`);
  }
  const id = flag("id") ?? crypto.randomUUID().slice(0, 6);
  if (!/^[a-z0-9]{1,12}$/.test(id)) throw new Error("--id: 1-12 lower-case letters or digits");
  return {
    sizeMiB: parseSizeMiB(flag("size") ?? "1GB"),
    runs: int("runs", 3),
    transports,
    id,
    portBase: int("port-base", 18000),
    outDir: flag("out") ?? join(REPO, "bench", "results", "remote"),
    reportOnly: args.includes("--report-only"),
  };
}

/** Single-quotes a word for sh. */
function q(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Runs a bash script (with pipefail) and returns its wall time; throws when it fails. */
async function shell(runner: CommandRunner, script: string, args: string[]): Promise<number> {
  const { ms } = await timed(() =>
    runner.run("bash", ["-o", "pipefail", "-c", script, "bash", ...args], {
      timeoutMs: 3_600_000,
    })
  );
  return ms;
}

/** A ZFS property's parsable value, or undefined when ZFS has no such property. */
async function zfsProp(pool: BenchPool, name: string, prop: string): Promise<string | undefined> {
  const r = await pool.runner.run("zfs", ["get", "-H", "-p", "-o", "value", prop, name], {
    allowFailure: true,
  });
  const value = r.stdout.trim();
  return r.code === 0 && value !== "" && value !== "-" ? value : undefined;
}

/**
 * What ZFS says snapshot `to` wrote since `from`: its `written` property (OpenZFS), else
 * referenced(to) − referenced(from) + used(from), the blocks of `to` that `from` does not
 * share, from the properties zfs-fuse has. Right after `to` is taken, `used(from)` is the
 * blocks only `from` holds: those freed between the two.
 */
async function writtenBy(
  pool: BenchPool,
  from: string,
  to: string,
): Promise<{ bytes: number; source: "written" | "derived" }> {
  const written = await zfsProp(pool, to, "written");
  if (written !== undefined) return { bytes: Number(written), source: "written" };
  const n = async (name: string, prop: string) => Number(await zfsProp(pool, name, prop));
  return {
    bytes: (await n(to, "referenced")) - (await n(from, "referenced")) + (await n(from, "used")),
    source: "derived",
  };
}

/**
 * Removes every remote-tracking dataset of `pool` (what a pull or a push landed), with
 * the `zvpg-remote-<name>` holds on them released first (zfs-fuse's `zfs holds` does not
 * work, so the tags tried are those of the names under `<pool>/remotes`, of its remotes
 * and of the snapshot's `zvpg:remote-bases`).
 */
async function dropReceived(pool: BenchPool): Promise<void> {
  const { zfs, layout } = pool.ctx;
  const parent = layout.remotesDataset;
  if (!(await zfs.exists(parent))) return;
  const list = await pool.runner.run("zfs", [
    "list",
    "-H",
    "-r",
    "-t",
    "all",
    "-o",
    "name,type,userrefs",
    parent,
  ]);
  const rows = list.stdout.trim().split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
  const names = new Set<string>();
  for (const [name] of rows) {
    const rest = name.slice(parent.length + 1).split(/[/@]/)[0];
    if (rest) names.add(rest);
  }
  const remotes = await pool.zvpgJson<{ name: string }[]>(["remote", "list"]);
  for (const r of remotes.value) names.add(r.name);
  for (const [name, type, refs] of rows) {
    if (type !== "snapshot" || refs === "0" || refs === "-") continue;
    // where zvpg records the remotes of a base (`zvpg:remote-bases`), those too
    const recorded = await zfsProp(pool, name, "zvpg:remote-bases");
    for (const remote of [...names, ...(recorded?.split(",") ?? [])]) {
      await zfs.release(`zvpg-remote-${remote}`, name);
    }
  }
  for (const [name] of rows) {
    if (name.split("/").length === parent.split("/").length + 1) {
      await zfs.destroy(name, { recursive: true });
    }
  }
}

/** Destroys `dataset` (recursively) when it exists. */
async function drop(pool: BenchPool, dataset: string): Promise<void> {
  if (await pool.ctx.zfs.exists(dataset)) await pool.ctx.zfs.destroy(dataset, { recursive: true });
}

/** Fills main's database {@link DB} with pgbench at `sizeMiB` and snapshots it as `base`. */
async function loadBase(pool: BenchPool, sizeMiB: number): Promise<number> {
  const { ctx } = pool;
  const main = ctx.config.branchDefault;
  const container = await pool.mainContainer();
  const scale = Math.max(1, Math.round(sizeMiB / MIB_PER_SCALE));
  await execSql(ctx, main, container, `CREATE DATABASE ${DB}`);
  const load = await timed(() =>
    execInBranch(ctx, main, container, [
      "pgbench",
      "-i",
      "-q",
      "-s",
      String(scale),
      ...localClientArgs(ctx),
      DB,
    ], { timeoutMs: 3_600_000 })
  );
  const bytes = Number(
    (await execSql(ctx, main, container, `SELECT pg_database_size('${DB}')`, { database: DB }))
      .trim(),
  );
  progress(`${pool.pool}: pgbench -s ${scale}: ${formatSize(bytes)} in ${formatMs(load.ms)}`);
  await pool.zvpg(["snapshot", "create", "base", "-m", "remote benchmark base"]);
  return bytes;
}

/** Updates the first `share` of pgbench_accounts and snapshots it as `change`. */
async function makeChange(
  pool: BenchPool,
  share: number,
): Promise<{ rows: number; total: number }> {
  const { ctx } = pool;
  const main = ctx.config.branchDefault;
  const container = await pool.mainContainer();
  const sql = (text: string) => execSql(ctx, main, container, text, { database: DB });
  const total = Number((await sql("SELECT count(*) FROM pgbench_accounts")).trim());
  const rows = Math.round(total * share);
  await sql(`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= ${rows}`);
  await pool.zvpg(["snapshot", "create", "change", "-m", "remote benchmark 1 % update"]);
  return { rows, total };
}

/** Samples of one pair of commands. */
interface PairSamples {
  zvpg: number[];
  plain: number[];
  bytes: number[];
  zvpgZfs: number[];
}

function pairSamples(): PairSamples {
  return { zvpg: [], plain: [], bytes: [], zvpgZfs: [] };
}

/** Adds a zvpg sample to `s`. */
function record(s: PairSamples, r: ZvpgSample): void {
  s.zvpg.push(r.ms);
  s.bytes.push(r.bytes);
  s.zvpgZfs.push(r.zfsMs);
}

function figure(
  transport: Transport,
  operation: "push" | "pull",
  commands: { zvpg: string; plain: string },
  s: PairSamples,
): TransferFigure {
  const zvpgMedian = median(s.zvpg);
  const plainMedian = median(s.plain);
  return {
    transport,
    operation,
    zvpgCommand: commands.zvpg,
    plainCommand: commands.plain,
    zvpg: s.zvpg,
    plain: s.plain,
    zvpgMedian,
    plainMedian,
    ratio: zvpgMedian / plainMedian,
    bytes: median(s.bytes),
    zvpgZfs: s.zvpgZfs,
    zvpgZfsMedian: median(s.zvpgZfs),
  };
}

/** Runs `a` and `b` in the order of round `i` (a first in even rounds). */
async function alternate(i: number, a: () => Promise<void>, b: () => Promise<void>) {
  if (i % 2 === 0) {
    await a();
    await b();
  } else {
    await b();
    await a();
  }
}

/** What one zvpg push or pull took. */
interface ZvpgSample {
  /** CLI wall time. */
  ms: number;
  /** Its `-f json` `bytes`. */
  bytes: number;
  /** The time of its own `zfs send`/`zfs receive` calls, from the CLI's DEBUG log. */
  zfsMs: number;
}

/** Runs a zvpg push or pull with `-f json`: its wall time, bytes and zfs calls' time. */
async function zvpgTransfer(pool: BenchPool, args: string[]): Promise<ZvpgSample> {
  const offset = Deno.statSync(pool.logFile).size;
  const r = await pool.zvpg([...args, "-f", "json"], { timeoutMs: 3_600_000 });
  const zfsMs = Object.entries(profileCalls(pool, offset))
    .filter(([key]) => /^zfs (send|receive)\b/.test(key))
    .reduce((sum, [, c]) => sum + c.ms, 0);
  const doc = JSON.parse(r.stdout) as { bytes: number; pushed?: boolean; pulled?: boolean };
  if (doc.pushed === false || doc.pulled === false) {
    throw new Error(`zvpg ${args.join(" ")} moved nothing: the last round's copy is still there`);
  }
  return { ms: r.ms, bytes: doc.bytes, zfsMs };
}

/** The file:// half: push to a directory, pull from it into the other pool. */
async function fileTransport(
  here: BenchPool,
  there: BenchPool,
  runs: number,
): Promise<{ transfers: TransferFigure[]; increment: IncrementFigure; copies: CopyFigure[] }> {
  const dir = join(here.root, "usb");
  const plainFile = join(here.root, "plain.zstream");
  const copyFile = join(here.root, "copy.zstream");
  const copyOut = { runner: [] as number[], shell: [] as number[] };
  const copyIn = { runner: [] as number[], shell: [] as number[] };
  const plainDs = `${there.pool}/plain`;
  const snap = `${here.ctx.layout.dataDataset}@base`;
  for (const p of [here, there]) await p.zvpg(["remote", "add", "usb", `file://${dir}`]);
  await there.ctx.zfs.create(plainDs, { mountpoint: "none" });
  const push = pairSamples();
  const pull = pairSamples();
  for (let i = 0; i < runs; i++) {
    await alternate(i, async () => {
      record(push, await zvpgTransfer(here, ["push", "usb", "base"]));
    }, async () => {
      push.plain.push(await shell(here.runner, 'zfs send "$1" > "$2"', [snap, plainFile]));
    });
    await alternate(i, async () => {
      record(pull, await zvpgTransfer(there, ["pull", "usb", "base"]));
    }, async () => {
      pull.plain.push(
        await shell(there.runner, 'zfs receive -u "$1" < "$2"', [`${plainDs}/pull`, plainFile]),
      );
    });
    // the same bytes copied through zvpg's runner (its stdoutFile/stdinFile), without zfs
    await alternate(i, async () => {
      const { ms } = await timed(() =>
        here.runner.run("cat", [plainFile], { stdoutFile: copyFile, timeoutMs: 3_600_000 })
      );
      copyOut.runner.push(ms);
      await Deno.remove(copyFile);
    }, async () => {
      copyOut.shell.push(await shell(here.runner, 'cat "$1" > "$2"', [plainFile, copyFile]));
      await Deno.remove(copyFile);
    });
    await alternate(i, async () => {
      const { ms } = await timed(() =>
        here.runner.run("dd", ["of=/dev/null", "bs=1M", "status=none"], {
          stdinFile: plainFile,
          timeoutMs: 3_600_000,
        })
      );
      copyIn.runner.push(ms);
    }, async () => {
      copyIn.shell.push(
        await shell(here.runner, 'dd of=/dev/null bs=1M status=none < "$1"', [plainFile]),
      );
    });
    progress(
      `file round ${i + 1}/${runs}: push ${Math.round(push.zvpg[i])} / ${
        Math.round(push.plain[i])
      } ms, pull ${Math.round(pull.zvpg[i])} / ${Math.round(pull.plain[i])} ms (zvpg / plain)`,
    );
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(plainFile);
    await dropReceived(there);
    await drop(there, `${plainDs}/pull`);
  }
  // (b): base on the remote, then the change as an increment
  await here.zvpg(["push", "usb", "base"], { timeoutMs: 3_600_000 });
  const inc = await zvpgTransfer(here, ["push", "usb", "change"]);
  const from = `${here.ctx.layout.dataDataset}@base`;
  const to = `${here.ctx.layout.dataDataset}@change`;
  const plainMs = await shell(here.runner, 'zfs send -i "$1" "$2" > "$3"', [from, to, plainFile]);
  const plainBytes = Deno.statSync(plainFile).size;
  await Deno.remove(plainFile);
  await Deno.remove(dir, { recursive: true });
  const commands = (op: "push" | "pull") =>
    op === "push"
      ? { zvpg: "zvpg push usb base", plain: "zfs send pool/data@base > file" }
      : { zvpg: "zvpg pull usb base", plain: "zfs receive -u pool/plain/pull < file" };
  const copy = (
    what: string,
    runnerCommand: string,
    shellCommand: string,
    x: { runner: number[]; shell: number[] },
  ): CopyFigure => ({
    what,
    runnerCommand,
    shellCommand,
    runner: x.runner,
    shell: x.shell,
    runnerMedian: median(x.runner),
    shellMedian: median(x.shell),
    ratio: median(x.runner) / median(x.shell),
  });
  return {
    copies: [
      copy(
        "write a file (as push does)",
        "runner.run('cat', [stream], {stdoutFile})",
        "cat stream > file",
        copyOut,
      ),
      copy(
        "read a file (as pull does)",
        "runner.run('dd', ['of=/dev/null'], {stdinFile})",
        "dd of=/dev/null < stream",
        copyIn,
      ),
    ],
    transfers: [
      figure("file", "push", commands("push"), push),
      figure("file", "pull", commands("pull"), pull),
    ],
    increment: {
      transport: "file",
      rows: 0,
      share: 0,
      zvpgBytes: inc.bytes,
      plainBytes,
      written: 0,
      writtenSource: "derived",
      ratio: 0,
      zvpgMs: inc.ms,
      plainMs,
    },
  };
}

/** The two hosts of the ssh half: one bound to `zvpg serve --stdio`, one to a shell. */
interface Hosts {
  zvpg: RemoteHost;
  shell: RemoteHost;
}

/** Whether this zvpg pushes to an ssh remote: tries it, and says why not. */
async function sshPushWorks(here: BenchPool): Promise<string | undefined> {
  const r = await here.zvpg(["push", "origin", "base"], {
    allowFailure: true,
    timeoutMs: 3_600_000,
  });
  if (r.code === 0) return undefined;
  return (r.stderr.trim().split("\n").at(-1) ?? `exit ${r.code}`).slice(0, 300);
}

/** The ssh half: push to the other host and pull from it, against plain ssh pipelines. */
async function sshTransport(
  here: BenchPool,
  there: BenchPool,
  hosts: Hosts,
  runs: number,
  sizeMiB: number,
): Promise<{ transfers: TransferFigure[]; increment: IncrementFigure }> {
  const ssh = ["ssh", ...hosts.shell.sshOptions(), `root@${hosts.shell.address}`].map(q).join(" ");
  const herePlain = `${here.pool}/plain`;
  const therePlain = `${there.pool}/plain`;
  await here.ctx.zfs.create(herePlain, { mountpoint: "none" });
  await there.ctx.zfs.create(therePlain, { mountpoint: "none" });
  await loadBase(there, sizeMiB);
  const hereSnap = `${here.ctx.layout.dataDataset}@base`;
  const thereSnap = `${there.ctx.layout.dataDataset}@base`;
  const push = pairSamples();
  const pull = pairSamples();
  for (let i = 0; i < runs; i++) {
    await alternate(i, async () => {
      record(push, await zvpgTransfer(here, ["push", "origin", "base"]));
    }, async () => {
      push.plain.push(
        await shell(here.runner, `zfs send "$1" | ${ssh} zfs receive -u "$2"`, [
          hereSnap,
          `${therePlain}/push`,
        ]),
      );
    });
    await alternate(i, async () => {
      record(pull, await zvpgTransfer(here, ["pull", "origin", "base"]));
    }, async () => {
      pull.plain.push(
        await shell(here.runner, `${ssh} zfs send "$1" | zfs receive -u "$2"`, [
          thereSnap,
          `${herePlain}/pull`,
        ]),
      );
    });
    progress(
      `ssh round ${i + 1}/${runs}: push ${Math.round(push.zvpg[i])} / ${
        Math.round(push.plain[i])
      } ms, pull ${Math.round(pull.zvpg[i])} / ${Math.round(pull.plain[i])} ms (zvpg / plain)`,
    );
    await dropReceived(there);
    await dropReceived(here);
    await drop(there, `${therePlain}/push`);
    await drop(here, `${herePlain}/pull`);
  }
  await here.zvpg(["push", "origin", "base"], { timeoutMs: 3_600_000 });
  const inc = await zvpgTransfer(here, ["push", "origin", "change"]);
  const from = `${here.ctx.layout.dataDataset}@base`;
  const to = `${here.ctx.layout.dataDataset}@change`;
  const counted = await timed(() =>
    here.runner.run("bash", [
      "-o",
      "pipefail",
      "-c",
      `zfs send -i "$1" "$2" | ${ssh} wc -c`,
      "bash",
      from,
      to,
    ], { timeoutMs: 3_600_000 })
  );
  await dropReceived(there);
  return {
    transfers: [
      figure("ssh", "push", {
        zvpg: "zvpg push origin base",
        plain: "zfs send pool/data@base | ssh host zfs receive -u pool/plain/push",
      }, push),
      figure("ssh", "pull", {
        zvpg: "zvpg pull origin base",
        plain: "ssh host zfs send pool/data@base | zfs receive -u pool/plain/pull",
      }, pull),
    ],
    increment: {
      transport: "ssh",
      rows: 0,
      share: 0,
      zvpgBytes: inc.bytes,
      plainBytes: Number(counted.value.stdout.trim()),
      written: 0,
      writtenSource: "derived",
      ratio: 0,
      zvpgMs: inc.ms,
      plainMs: counted.ms,
    },
  };
}

/** Renders remote.md and remote.png from `run`, into `outDir`. */
async function writeReport(run: RemoteRun, outDir: string, runner: CommandRunner): Promise<void> {
  Deno.mkdirSync(outDir, { recursive: true });
  Deno.writeTextFileSync(join(outDir, "remote.md"), renderRemoteMarkdown(run));
  await renderRemoteChart(run, outDir, runner);
}

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  if (opts.reportOnly) {
    const run = JSON.parse(Deno.readTextFileSync(join(opts.outDir, "remote.json")));
    run.startedAt = new Date(run.startedAt);
    run.finishedAt = new Date(run.finishedAt);
    await writeReport(run as RemoteRun, opts.outDir, new DenoCommandRunner());
    return 0;
  }
  const startedAt = new Date();
  const poolSize = `${Math.max(4, Math.ceil((opts.sizeMiB * 8) / 1024))}G`;
  const pool = (label: string, port: number) =>
    new BenchPool({ id: opts.id, label, poolSize, portStart: port, portEnd: port + 49 });
  const here = pool("here", opts.portBase);
  const there = pool("there", opts.portBase + 50);
  const hosts: Partial<Hosts> = {};
  const cleanup = cleanupOnSignal(async () => {
    for (const h of [hosts.zvpg, hosts.shell]) await h?.close().catch(() => {});
    for (const p of [here, there]) {
      for (const problem of await p.destroy()) progress(`cleanup problem: ${problem}`);
    }
  });
  try {
    there.writeConfig();
    if (opts.transports.includes("ssh")) {
      hosts.zvpg = await startRemoteHost({
        forcedCommand: `${q(Deno.execPath())} run --allow-all ${
          q(join(REPO, "main.ts"))
        } serve --stdio`,
        env: { ZVPG_CONFIG_DIR: there.configDir },
      });
      hosts.shell = await startRemoteHost({ forcedCommand: 'eval "$SSH_ORIGINAL_COMMAND"' });
      here.writeConfig({ sshOptions: hosts.zvpg.sshOptions() });
    } else {
      here.writeConfig();
    }
    const machine = await machineInfo(here.ctx);
    await here.zvpg(["--version"]); // warm the module cache
    for (const p of [here, there]) {
      await p.zvpg(["init", "env"], { timeoutMs: 600_000 });
      progress(`${p.pool}: init env done (${poolSize} sparse, ports ${p.options.portStart}…)`);
    }
    const dbBytes = await loadBase(here, opts.sizeMiB);
    const base = `${here.ctx.layout.dataDataset}@base`;
    const snapshotBytes = Number(await zfsProp(here, base, "referenced"));
    const { rows, total } = await makeChange(here, 0.01);
    const share = rows / total;
    const written = await writtenBy(here, base, `${here.ctx.layout.dataDataset}@change`);
    progress(
      `change: ${rows} rows updated; ZFS wrote ${formatSize(written.bytes)} (${written.source})`,
    );

    const transfers: TransferFigure[] = [];
    const increments: IncrementFigure[] = [];
    const skipped: Partial<Record<Transport, string>> = {};
    const copies: CopyFigure[] = [];
    const add = (r: { transfers: TransferFigure[]; increment: IncrementFigure }) => {
      transfers.push(...r.transfers);
      increments.push({
        ...r.increment,
        rows,
        share,
        written: written.bytes,
        writtenSource: written.source,
        ratio: r.increment.zvpgBytes / written.bytes,
      });
    };
    if (opts.transports.includes("file")) {
      const file = await fileTransport(here, there, opts.runs);
      add(file);
      copies.push(...file.copies);
    }
    if (opts.transports.includes("ssh") && hosts.zvpg && hosts.shell) {
      await here.zvpg(["remote", "add", "origin", `ssh://root@${hosts.zvpg.address}`]);
      const why = await sshPushWorks(here);
      if (why !== undefined) {
        skipped.ssh = `not available in this zvpg (${why})`;
        console.log(`ssh: not available in this zvpg (${why})`);
      } else {
        await dropReceived(there);
        add(await sshTransport(here, there, hosts as Hosts, opts.runs, opts.sizeMiB));
      }
    }

    for (const f of transfers) {
      console.log(
        `${f.transport.padEnd(4)} ${f.operation}  zvpg ${formatMs(f.zvpgMedian).padStart(8)}  ` +
          `plain ${formatMs(f.plainMedian).padStart(8)}  ratio ${f.ratio.toFixed(2)}`,
      );
    }
    for (const c of copies) {
      console.log(
        `copy ${c.what}: zvpg's runner ${formatMs(c.runnerMedian)}  shell ${
          formatMs(c.shellMedian)
        }  ratio ${c.ratio.toFixed(2)}`,
      );
    }
    for (const f of increments) {
      console.log(
        `${f.transport.padEnd(4)} push -i  zvpg ${formatSize(f.zvpgBytes)}  zfs send -i ${
          formatSize(f.plainBytes)
        }  written ${formatSize(f.written)} (${f.writtenSource})  ratio ${f.ratio.toFixed(2)}`,
      );
    }
    const run: RemoteRun = {
      startedAt,
      finishedAt: new Date(),
      command: `deno run -A bench/remote_bench.ts ${Deno.args.join(" ")}`.trim(),
      runs: opts.runs,
      dbBytes,
      snapshotBytes,
      machine,
      loadAtEnd: loadAverage(),
      skipped,
      transfers,
      increments,
      copies,
    };
    Deno.mkdirSync(opts.outDir, { recursive: true });
    Deno.writeTextFileSync(join(opts.outDir, "remote.json"), JSON.stringify(run, null, 2) + "\n");
    await writeReport(run, opts.outDir, here.runner);
    const ratios = [...transfers.map((f) => f.ratio), ...increments.map((f) => f.ratio)];
    return ratios.every((r) => r <= TARGET_RATIO) ? 0 : 1;
  } finally {
    await cleanup();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`remote_bench: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(2);
  }
}
