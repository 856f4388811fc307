/**
 * One benchmark pool: its own configuration, mount and log directories and port range, the
 * zvpg CLI run against it (timed), and the project's context on it for direct adapter calls
 * (the same `Zfs`, container runtime and layout the CLI uses). Everything is destroyed at
 * the end, also after a failure.
 *
 * Invariants: every name this file makes contains `bench` (pool `zvpgbench_<id>…`, root
 * `/var/tmp/zvpg-bench-<id>…`), so a benchmark never touches another user's pool; the
 * facts of zvpg's layout (datasets, labels, properties) come from src/, never from here.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/config.ts";
import type { Context } from "../src/context.ts";
import { createContext } from "../src/cli/session.ts";
import { type CommandRunner, DenoCommandRunner, type RunResult } from "../src/runtime/runner.ts";
import { LABELS } from "../src/domain/layout.ts";
import { benchAbort, timed } from "./timed.ts";

/** The checkout bench/ belongs to. */
export const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
/** The image every benchmark pool runs. */
export const IMAGE = "localhost/zvpg-postgres:17";
/** The label bench puts on containers it runs itself (not zvpg's branches). */
export const BENCH_LABEL = "zvpg-bench.pool";

/** What a {@link BenchPool} is made of. */
export interface BenchPoolOptions {
  /** Short id shared by the pools of one run. */
  id: string;
  /** Tells the pools of one run apart (`small`, `large`); empty for one pool. */
  label?: string;
  poolSize: string;
  portStart: number;
  portEnd: number;
  /** The zvpg entry point measured (default this checkout's main.ts). */
  mainTs?: string;
}

/** A CLI call's result and wall time (process start to exit). */
export type TimedResult = RunResult & { ms: number };

/** One pool with its configuration, the CLI on it and the project's context on it. */
export class BenchPool {
  readonly pool: string;
  readonly root: string;
  readonly configDir: string;
  readonly configFile: string;
  readonly mountDir: string;
  readonly logDir: string;
  readonly mainTs: string;
  #ctx: Context | undefined;

  constructor(
    readonly options: BenchPoolOptions,
    readonly runner: CommandRunner = new DenoCommandRunner(),
  ) {
    const suffix = options.label ? `_${options.label}` : "";
    this.pool = `zvpgbench_${options.id}${suffix}`;
    this.root = `/var/tmp/zvpg-bench-${options.id}${suffix.replace("_", "-")}`;
    this.configDir = join(this.root, "config");
    this.configFile = join(this.configDir, "config.json");
    this.mountDir = join(this.root, "mnt");
    this.logDir = join(this.root, "log");
    this.mainTs = options.mainTs ?? join(REPO, "main.ts");
  }

  /** The environment of every CLI call (its own config dir and password file). */
  get env(): Record<string, string> {
    return { ZVPG_CONFIG_DIR: this.configDir, PGPASSFILE: join(this.configDir, "pgpass") };
  }

  /**
   * Writes config.json (plus `extra` keys, e.g. `sshOptions`); the pool itself is made by
   * `zvpg init env`.
   */
  writeConfig(extra: Record<string, unknown> = {}): void {
    Deno.mkdirSync(this.configDir, { recursive: true });
    Deno.mkdirSync(this.logDir, { recursive: true });
    const config = {
      zfsPool: this.pool,
      zfsPoolSize: this.options.poolSize,
      mountDir: this.mountDir,
      pgBaseImage: IMAGE,
      branchPortStart: this.options.portStart,
      branchPortEnd: this.options.portEnd,
      logDir: this.logDir,
      logLevel: "WARN",
      ...extra,
    };
    Deno.writeTextFileSync(this.configFile, JSON.stringify(config, null, 2) + "\n");
    this.#ctx = undefined;
  }

  /** The project's context on this pool (config as the CLI loads it, same adapters). */
  get ctx(): Context {
    this.#ctx ??= createContext(
      loadConfig({ configPath: this.configFile, env: { ...Deno.env.toObject(), ...this.env } }),
      this.runner,
    );
    return this.#ctx;
  }

  /** The file every CLI call appends its log to (all levels, DEBUG included). */
  get logFile(): string {
    return join(this.logDir, "zvpg.log");
  }

  /** Runs the zvpg CLI on this pool; `ms` is the wall time of the whole call. */
  async zvpg(
    args: string[],
    options: { allowFailure?: boolean; timeoutMs?: number } = {},
  ): Promise<TimedResult> {
    const { value, ms } = await timed(() =>
      this.runner.run("deno", ["run", "-A", this.mainTs, "-c", this.configFile, ...args], {
        env: this.env,
        allowFailure: options.allowFailure,
        timeoutMs: options.timeoutMs ?? 300_000,
        signal: benchAbort.signal,
      })
    );
    return { ...value, ms };
  }

  /** The container that serves main now (throws when main is not running). */
  async mainContainer(): Promise<string> {
    const main = this.ctx.config.branchDefault;
    const info = (await this.zvpgJson<{ container?: string }>(["branch", "info", main])).value;
    if (!info.container) throw new Error(`${this.pool}: main has no running container`);
    return info.container;
  }

  /** Runs the CLI with `-f json` and parses its document. */
  async zvpgJson<T>(args: string[]): Promise<{ value: T; ms: number }> {
    const result = await this.zvpg([...args, "-f", "json"]);
    return { value: JSON.parse(result.stdout) as T, ms: result.ms };
  }

  /**
   * Removes the pool's containers (zvpg's and bench's own), the pool and its files.
   * Never throws; returns what it could not remove.
   */
  async destroy(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    let ctx: Context | undefined;
    try {
      ctx = this.ctx;
    } catch {
      // no config written yet: nothing was made
    }
    if (ctx) {
      const { runtime, zfs } = ctx;
      for (const label of [LABELS.pool, BENCH_LABEL]) {
        await attempt(`remove containers ${label}=${this.pool}`, async () => {
          for (const c of await runtime.list({ [label]: this.pool })) await runtime.remove(c.id);
        });
      }
      await attempt(`zpool destroy ${this.pool}`, async () => {
        if (await zfs.poolStatus(this.pool)) await zfs.destroyPool(this.pool);
      });
      if (problems.some((p) => p.startsWith("zpool destroy"))) {
        problems.push(`left ${this.root} in place: the pool still uses its sparse file`);
        return problems;
      }
    }
    await attempt(`rm -rf ${this.root}`, () => Deno.remove(this.root, { recursive: true }));
    return problems.filter((p) => !/NotFound|No such file/i.test(p));
  }
}
