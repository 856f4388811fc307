/**
 * Scale benchmark: whether one-branch operations cost the same on a crowded pool.
 *
 * Two pools side by side in one run: a small one (5 snapshots, 2 branches) and a large
 * one (500 snapshots, 100 branches; the branches stopped, as most are in practice). Each
 * round runs `snapshot create`, `branch create`, `branch stop` and `branch start` (CLI
 * wall time, `deno run main.ts`) on both pools in turn, so load on the shared machine hits
 * both alike; the new branch is deleted (untimed) after each round. It prints, per
 * operation, the median of each pool and their ratio (large / small; the target is at
 * most 1.20), and writes bench/results/scale.{json,md,dat,gp,png}.
 *
 * The crowd is made with `zfs snapshot`/`zfs clone` and zvpg's own metadata, which is
 * what zvpg would write (much faster than 600 CLI calls); everything measured is the CLI.
 *
 *     deno run -A bench/scale.ts [--runs 5] [--snapshots 500] [--branches 100]
 *       [--main path/to/main.ts] [--out dir]
 *
 * Needs root, zfs, docker and the image localhost/zvpg-postgres:17. Pools are named
 * `zvpgbench_…` under /tmp/zvpg-bench-…, ports 19000–19999; all is destroyed at the end.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CommandRunner, DenoCommandRunner, type RunResult } from "../src/runtime/runner.ts";
import { encodeMessage } from "../src/domain/inventory.ts";
import { PROPS } from "../src/domain/layout.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** The zvpg measured: this checkout, or `--main <path/to/main.ts>` (e.g. an older one). */
const MAIN_TS = flag("main") ?? join(dirname(BENCH_DIR), "main.ts");
const IMAGE = "localhost/zvpg-postgres:17";
const OPERATIONS = ["snapshot create", "branch create", "branch stop", "branch start"] as const;
type Operation = typeof OPERATIONS[number];

/** The project's runner, timing each call (wall time). */
class TimedRunner {
  constructor(private readonly runner: CommandRunner = new DenoCommandRunner()) {}

  async run(
    program: string,
    args: string[],
    env?: Record<string, string>,
  ): Promise<RunResult & { ms: number }> {
    const t0 = performance.now();
    const result = await this.runner.run(program, args, { env, timeoutMs: 600_000 });
    return { ...result, ms: performance.now() - t0 };
  }
}

/** One pool with its configuration, ports and zvpg CLI. */
class Pool {
  readonly root: string;
  readonly pool: string;
  readonly config: string;

  constructor(
    private readonly sh: TimedRunner,
    id: string,
    readonly label: string,
    readonly snapshots: number,
    readonly branches: number,
    private readonly portStart: number,
  ) {
    this.root = `/tmp/zvpg-bench-${id}-${label}`;
    this.pool = `zvpgbench_${id}_${label}`;
    this.config = join(this.root, "config", "config.json");
  }

  get dataDataset(): string {
    return `${this.pool}/data`;
  }

  /** Writes the configuration and runs `zvpg init env` (pool, datasets, main running). */
  async init(): Promise<void> {
    Deno.mkdirSync(dirname(this.config), { recursive: true });
    const config = {
      zfsPool: this.pool,
      zfsPoolSize: "3G",
      mountDir: join(this.root, "mnt"),
      logDir: join(this.root, "log"),
      pgBaseImage: IMAGE,
      branchPortStart: this.portStart,
      branchPortEnd: this.portStart + 400,
      logLevel: "WARN",
    };
    Deno.writeTextFileSync(this.config, JSON.stringify(config, null, 2) + "\n");
    await this.zvpg(["init", "env"]);
  }

  /** Runs the CLI; returns its wall time. */
  async zvpg(args: string[]): Promise<number> {
    const env = { ZVPG_CONFIG_DIR: dirname(this.config) };
    return (await this.sh.run("deno", ["run", "-A", MAIN_TS, "-c", this.config, ...args], env))
      .ms;
  }

  /** Snapshots of main and stopped branches cloned from them, with zvpg's metadata. */
  async crowd(): Promise<void> {
    const taken = new Date().toISOString();
    for (let i = 0; i < this.snapshots; i++) {
      await this.sh.run("zfs", [
        "snapshot",
        "-o",
        `${PROPS.message}=${encodeMessage(`crowd ${i}`)}`,
        "-o",
        `${PROPS.taken}=${taken}`,
        `${this.dataDataset}@crowd${i}`,
      ]);
    }
    for (let i = 0; i < this.branches; i++) {
      const name = `crowd${i}`;
      await this.sh.run("zfs", [
        "clone",
        "-o",
        `mountpoint=${join(this.root, "mnt", "clones", name)}`,
        "-o",
        `${PROPS.branch}=${name}`,
        "-o",
        `${PROPS.parent}=main`,
        "-o",
        `${PROPS.state}=stopped`,
        "-o",
        `${PROPS.created}=${taken}`,
        `${this.dataDataset}@crowd${i % Math.max(1, this.snapshots)}`,
        `${this.pool}/clones/${name}`,
      ]);
    }
  }

  /** One round of the measured operations; the new branch is deleted afterwards. */
  async round(i: number): Promise<Record<Operation, number>> {
    const branch = `scale${i}`;
    const times = {
      "snapshot create": await this.zvpg(["snapshot", "create", `scale${i}`, "-m", "bench"]),
      "branch create": await this.zvpg(["branch", "create", branch]),
      "branch stop": await this.zvpg(["branch", "stop", branch]),
      "branch start": await this.zvpg(["branch", "start", branch]),
    };
    await this.zvpg(["branch", "delete", branch, "--force"]);
    return times;
  }

  /** Removes the pool's containers, the pool and its files. Never throws. */
  async destroy(): Promise<void> {
    const runner = new DenoCommandRunner();
    const ids = await runner.run("docker", [
      "ps",
      "-aq",
      "--filter",
      `label=zvpg.pool=${this.pool}`,
    ], {
      allowFailure: true,
    }).catch(() => undefined);
    const list = ids?.stdout.split("\n").filter((s) => s.trim() !== "") ?? [];
    if (list.length > 0) {
      await runner.run("docker", ["rm", "-f", "-v", ...list], { allowFailure: true }).catch(
        () => {},
      );
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await runner.run("zpool", ["destroy", "-f", this.pool], { allowFailure: true })
        .catch(() => undefined);
      if (r?.code === 0 || /no such pool/.test(r?.stderr ?? "")) break;
      await new Promise((ok) => setTimeout(ok, 2000));
    }
    await Deno.remove(this.root, { recursive: true }).catch(() => {});
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function flag(name: string): string | undefined {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Deno.args[at + 1] : undefined;
}

function option(name: string, fallback: number): number {
  return Number(flag(name) ?? fallback);
}

/** The figures: per operation, each pool's median and the ratio. */
interface Figure {
  operation: Operation;
  small: number[];
  large: number[];
  smallMedian: number;
  largeMedian: number;
  ratio: number;
}

function renderMarkdown(figures: Figure[], small: Pool, large: Pool, runs: number): string {
  const rows = figures.map((f) =>
    `| ${f.operation} | ${f.smallMedian.toFixed(0)} | ${f.largeMedian.toFixed(0)} | ${
      f.ratio.toFixed(2)
    } | ${f.ratio <= 1.2 ? "yes" : "no"} |`
  );
  return [
    "# One-branch operations on a crowded pool",
    "",
    `Measured ${new Date().toISOString()} by \`deno run -A bench/scale.ts --runs ${runs}\``,
    `(zvpg at ${MAIN_TS}),`,
    `on ${Deno.hostname()} (${navigator.hardwareConcurrency} cores, shared; zfs-fuse, docker).`,
    "CLI wall time of `deno run main.ts`, median of the runs; both pools measured in turn in",
    "the same run. Small pool: " +
    `${small.snapshots} snapshots, ${small.branches} branches; large pool: ${large.snapshots} ` +
    `snapshots, ${large.branches} branches (stopped; only main and the measured branch run).`,
    "",
    "| operation | small pool (ms) | large pool (ms) | ratio | within 20 % |",
    "|---|---:|---:|---:|---|",
    ...rows,
    "",
    "![ratio per operation](scale.png)",
    "",
  ].join("\n");
}

async function renderChart(figures: Figure[], outDir: string, sh: TimedRunner): Promise<void> {
  const dat = join(outDir, "scale.dat");
  const gp = join(outDir, "scale.gp");
  Deno.writeTextFileSync(
    dat,
    figures.map((f, i) =>
      `${i} "${f.operation}" ${f.smallMedian.toFixed(1)} ${f.largeMedian.toFixed(1)}`
    ).join("\n") + "\n",
  );
  Deno.writeTextFileSync(
    gp,
    [
      "set terminal pngcairo size 900,500",
      `set output '${join(outDir, "scale.png")}'`,
      "set title 'CLI wall time, median: small pool vs 500 snapshots + 100 branches'",
      "set style data histograms",
      "set style histogram clustered gap 1",
      "set style fill solid 0.8 border -1",
      "set ylabel 'ms'",
      "set yrange [0:*]",
      "set key top left",
      `plot '${dat}' using 3:xtic(2) title 'small pool', '' using 4 title 'large pool'`,
    ].join("\n") + "\n",
  );
  await sh.run("gnuplot", [gp]);
}

async function main(): Promise<void> {
  const runs = option("runs", 5);
  const sh = new TimedRunner();
  const id = crypto.randomUUID().slice(0, 6);
  const small = new Pool(sh, id, "small", 5, 2, 19000);
  const large = new Pool(sh, id, "large", option("snapshots", 500), option("branches", 100), 19500);
  const pools = [small, large];
  try {
    for (const p of pools) {
      await p.init();
      await p.crowd();
      console.error(`${p.pool}: ${p.snapshots} snapshots, ${p.branches} branches`);
    }
    await small.zvpg(["--version"]); // warm the module cache
    const samples = new Map(pools.map((p) => [p, [] as Record<Operation, number>[]]));
    for (let i = 0; i < runs; i++) {
      for (const p of pools) {
        const times = await p.round(i);
        samples.get(p)!.push(times);
        console.error(`run ${i + 1}/${runs} ${p.label}: ${JSON.stringify(times)}`);
      }
    }
    const figures: Figure[] = OPERATIONS.map((operation) => {
      const s = samples.get(small)!.map((t) => t[operation]);
      const l = samples.get(large)!.map((t) => t[operation]);
      return {
        operation,
        small: s,
        large: l,
        smallMedian: median(s),
        largeMedian: median(l),
        ratio: median(l) / median(s),
      };
    });
    for (const f of figures) {
      console.log(
        `${f.operation.padEnd(16)} small ${f.smallMedian.toFixed(0).padStart(6)} ms  large ${
          f.largeMedian.toFixed(0).padStart(6)
        } ms  ratio ${f.ratio.toFixed(2)}`,
      );
    }
    const outDir = flag("out") ?? join(BENCH_DIR, "results");
    Deno.mkdirSync(outDir, { recursive: true });
    Deno.writeTextFileSync(join(outDir, "scale.json"), JSON.stringify(figures, null, 2) + "\n");
    Deno.writeTextFileSync(join(outDir, "scale.md"), renderMarkdown(figures, small, large, runs));
    await renderChart(figures, outDir, sh);
  } finally {
    for (const p of pools) await p.destroy();
  }
}

if (import.meta.main) await main();
