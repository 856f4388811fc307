/**
 * Integration test support: every test gets its own ZFS pool on a sparse file, its own
 * mount directory, config directory and port range, runs the real CLI, and is cleaned
 * up afterwards even when it fails. A missing environment fails the test loudly.
 *
 * @module
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The image integration tests run (override with ZVPG_TEST_IMAGE). */
export const TEST_IMAGE = Deno.env.get("ZVPG_TEST_IMAGE") ?? "localhost/zvpg-postgres:17";
/**
 * A second image unlike the official ones: another PostgreSQL major version whose postgres
 * user keeps the Debian package's uid (override with ZVPG_OTHER_IMAGE).
 */
export const OTHER_IMAGE = Deno.env.get("ZVPG_OTHER_IMAGE") ??
  "localhost/zvpg-postgres:15-bookworm-native";

/** Output of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program, capturing output (never throws on exit code). */
export async function sh(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const out = await new Deno.Command(program, { args, env, stdin: "null" }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

let environmentChecked: Promise<void> | undefined;

/** Fails (never skips) when ZFS, the container engine, the image or psql are missing. */
export function requireEnvironment(): Promise<void> {
  environmentChecked ??= (async () => {
    const missing: string[] = [];
    const check = async (what: string, program: string, args: string[]) => {
      try {
        const r = await sh(program, args);
        if (r.code !== 0) missing.push(`${what} (${(r.stderr || r.stdout).trim().split("\n")[0]})`);
      } catch {
        missing.push(`${what} ('${program}' not installed)`);
      }
    };
    await check("ZFS", "zpool", ["list", "-H"]);
    await check("docker engine", "docker", ["info", "--format", "{{.ServerVersion}}"]);
    await check(`image ${TEST_IMAGE}`, "docker", ["image", "inspect", TEST_IMAGE]);
    await check(`image ${OTHER_IMAGE}`, "docker", ["image", "inspect", OTHER_IMAGE]);
    await check("psql", "psql", ["--version"]);
    await check("pg_isready", "pg_isready", ["--version"]);
    if (missing.length > 0) {
      throw new Error(
        `integration environment missing: ${
          missing.join("; ")
        }. Run 'bash scripts/setup_env.sh' as root.`,
      );
    }
  })();
  return environmentChecked;
}

let portBlock = 0;

/**
 * First port of the blocks integration tests take (ZVPG_TEST_PORT_BASE, default 21000):
 * several developers or CI runs on one machine each set their own base.
 */
const PORT_BASE = Number(Deno.env.get("ZVPG_TEST_PORT_BASE") ?? "21000");
/** How many blocks of 25 ports from {@link PORT_BASE} tests spread over (ZVPG_TEST_PORT_BLOCKS). */
const PORT_BLOCKS = Number(Deno.env.get("ZVPG_TEST_PORT_BLOCKS") ?? "400");

/**
 * Tests that restart the container engine or the ZFS service disturb every other test on
 * the machine. Every integration test holds a shared flock on this file while it runs; a
 * disruptive one holds it exclusively, so it never overlaps another test, whichever
 * process (a second developer, a parallel run) started it.
 */
const DISRUPTIVE_LOCK = "/tmp/zvpg-itest-disruptive.lock";

/**
 * Taken by a disruptive test while it waits for {@link DISRUPTIVE_LOCK}, and briefly by
 * every other test before it takes its shared lock: a waiting disruptive test goes first
 * instead of starving behind a stream of shared holders (flock queues no one).
 */
const DISRUPTIVE_GATE = "/tmp/zvpg-itest-disruptive.gate";

/** Runs `body` holding {@link DISRUPTIVE_LOCK}: shared, or exclusive for disruptive tests. */
async function withMachineLock<T>(exclusive: boolean, body: () => Promise<T>): Promise<T> {
  const open = (path: string) => Deno.open(path, { create: true, write: true, mode: 0o600 });
  const gate = await open(DISRUPTIVE_GATE);
  const file = await open(DISRUPTIVE_LOCK);
  try {
    await gate.lock(true);
    try {
      await file.lock(exclusive);
    } finally {
      await gate.unlock();
    }
    return await body();
  } finally {
    gate.close();
    file.close();
  }
}

/** One isolated zvpg installation: pool, mount dir, config dir, port range. */
export class TestEnv {
  readonly id: string;
  readonly base: string;
  readonly pool: string;
  readonly configDir: string;
  readonly mountDir: string;
  readonly portStart: number;
  readonly portEnd: number;

  constructor(readonly config: Record<string, unknown> = {}) {
    this.id = crypto.randomUUID().slice(0, 8);
    this.base = `/tmp/zvpg-it-${this.id}`;
    this.pool = `zvpgit_${this.id}`;
    this.configDir = join(this.base, "cfg");
    this.mountDir = join(this.base, "mnt");
    const block = ((Deno.pid % 50) * 20 + portBlock++) % PORT_BLOCKS;
    this.portStart = PORT_BASE + block * 25;
    this.portEnd = this.portStart + 19;
    mkdirSync(this.configDir, { recursive: true });
    this.writeConfig({});
  }

  /** The config.json contents for this environment plus `extra`. */
  configJson(extra: Record<string, unknown>): Record<string, unknown> {
    return {
      zfsPool: this.pool,
      mountDir: this.mountDir,
      pgBaseImage: TEST_IMAGE,
      branchPortStart: this.portStart,
      branchPortEnd: this.portEnd,
      logDir: join(this.base, "log"),
      zfsPoolSize: "3G",
      readyTimeoutSeconds: 60,
      // main archives its WAL by default; only the tests of point-in-time branches
      // (pitr_test.ts) turn it on, so the others keep their exact datasets and space
      walArchive: false,
      ...this.config,
      ...extra,
    };
  }

  /** Rewrites config.json with `extra` settings on top of the defaults of this env. */
  writeConfig(extra: Record<string, unknown>): void {
    writeFileSync(
      join(this.configDir, "config.json"),
      JSON.stringify(this.configJson(extra), null, 2),
    );
  }

  get configFile(): string {
    return join(this.configDir, "config.json");
  }

  get passFile(): string {
    return join(this.configDir, "pgpass");
  }

  /** Runs the real CLI against this environment. */
  zvpg(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return sh(Deno.execPath(), ["run", "--allow-all", join(ROOT, "main.ts"), ...args], {
      ZVPG_CONFIG_DIR: this.configDir,
      ZVPG_LOG_LEVEL: "INFO",
      ...env,
    });
  }

  /** Runs the CLI and throws with its stderr when it fails. */
  async ok(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const r = await this.zvpg(args, env);
    if (r.code !== 0) {
      throw new Error(
        `zvpg ${args.join(" ")} exited ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`,
      );
    }
    return r;
  }

  /** Runs the CLI with `-f json` and parses stdout. */
  async json<T = unknown>(args: string[]): Promise<T> {
    const r = await this.ok([...args, "-f", "json"]);
    return JSON.parse(r.stdout) as T;
  }

  /** Runs SQL through host psql with the pgpass file; returns trimmed rows (-At). */
  async psql(port: number, sql: string, database = "postgres"): Promise<string> {
    const r = await sh("psql", [
      "-X",
      "-At",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      database,
      "-c",
      sql,
    ], {
      PGPASSFILE: this.passFile,
      PGCONNECT_TIMEOUT: "5",
    });
    if (r.code !== 0) throw new Error(`psql on port ${port} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  /**
   * A branch's schema as the server's own `pg_dump --schema-only` writes it (run in its
   * container), without the random `\restrict` key of recent pg_dump versions: two
   * databases with the same schema give the same text.
   */
  async schemaDump(branch: string, database = "postgres"): Promise<string> {
    const { container } = await this.json<{ container: string }>(["branch", "info", branch]);
    const r = await sh(this.engine, [
      "exec",
      container,
      "pg_dump",
      "--schema-only",
      "-h",
      "/var/run/postgresql",
      "-U",
      "postgres",
      "-d",
      database,
    ]);
    if (r.code !== 0) throw new Error(`pg_dump of ${branch}/${database} failed: ${r.stderr}`);
    return r.stdout.split("\n").filter((l) => !/^\\(un)?restrict /.test(l)).join("\n");
  }

  /** The port of a branch (from `branch info -f json`). */
  async port(branch: string): Promise<number> {
    const info = await this.json<{ port: number }>(["branch", "info", branch]);
    return info.port;
  }

  /** The container engine CLI this environment uses. */
  get engine(): string {
    return String(this.config.containerRuntime ?? "docker");
  }

  /** Containers of this pool (names). */
  async containers(): Promise<string[]> {
    const r = await sh(this.engine, [
      "ps",
      "-a",
      "--filter",
      `label=zvpg.pool=${this.pool}`,
      "--format",
      "{{.Names}}",
    ]);
    return r.stdout.split("\n").filter((l) => l !== "").sort();
  }

  /** The full id of the running container of `branch` ("" when none runs). */
  async containerId(branch: string): Promise<string> {
    const r = await sh(this.engine, [
      ...["ps", "-q", "--no-trunc", "--filter", `label=zvpg.pool=${this.pool}`],
      ...["--filter", `label=zvpg.branch=${branch}`],
    ]);
    return r.stdout.trim();
  }

  /** Datasets and snapshots of this pool. */
  async datasets(): Promise<string[]> {
    const r = await sh("zfs", ["list", "-H", "-o", "name", "-r", this.pool]);
    const snaps = await sh("zfs", ["list", "-H", "-o", "name", "-t", "snapshot", "-r", this.pool]);
    return [...r.stdout.split("\n"), ...snaps.stdout.split("\n")].filter((l) => l !== "").sort();
  }

  /** Removes every container, the pool and all files of this environment. */
  async cleanup(): Promise<void> {
    for (const engine of new Set(["docker", this.engine])) {
      const ids = await sh(engine, ["ps", "-aq", "--filter", `label=zvpg.pool=${this.pool}`]);
      const list = ids.stdout.split("\n").filter((l) => l !== "");
      if (list.length > 0) await sh(engine, ["rm", "-f", "-v", ...list]);
    }
    for (let i = 0; i < 20; i++) {
      const status = await sh("zpool", ["list", "-H", "-o", "name", this.pool]);
      if (status.code !== 0) {
        // exported pools must be imported before they can be destroyed
        const imported = await sh("zpool", ["import", "-d", this.mountDir, this.pool]);
        if (imported.code !== 0) break;
      }
      const r = await sh("zpool", ["destroy", "-f", this.pool]);
      if (r.code === 0) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    rmSync(this.base, { recursive: true, force: true });
  }
}

/**
 * Declares an integration test: checks the environment (failing when it is missing),
 * makes a fresh {@link TestEnv}, runs `body`, and always cleans up.
 */
export function itest(
  name: string,
  body: (env: TestEnv) => Promise<void>,
  options: {
    config?: Record<string, unknown>;
    init?: boolean;
    /** Restarts the engine or the ZFS service: runs alone on the machine. */
    disruptive?: boolean;
  } = {},
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withMachineLock(options.disruptive === true, () => runItest(body, options)),
  });
}

async function runItest(
  body: (env: TestEnv) => Promise<void>,
  options: { config?: Record<string, unknown>; init?: boolean },
): Promise<void> {
  await requireEnvironment();
  const env = new TestEnv(options.config);
  if (env.engine !== "docker") {
    const r = await sh(env.engine, ["image", "exists", TEST_IMAGE]).catch(() => undefined);
    if (!r || r.code !== 0) {
      throw new Error(
        `${env.engine} or its image ${TEST_IMAGE} is missing: run 'bash scripts/setup_env.sh'`,
      );
    }
  }
  try {
    if (options.init !== false) await env.ok(["init", "env"]);
    await body(env);
  } finally {
    await env.cleanup();
  }
}

/** Asserts that a CLI result failed with `code`, printed one error line matching `pattern`. */
export function assertCliError(r: CliResult, code: number, pattern: RegExp): void {
  if (r.code !== code) {
    throw new Error(
      `expected exit ${code}, got ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`,
    );
  }
  const lines = r.stderr.trim().split("\n").filter((l) =>
    !/^(\S+ )?(deleting|branch create failed|waiting)/.test(l)
  );
  const errorLines = lines.filter((l) => l.startsWith("error:"));
  if (errorLines.length !== 1) throw new Error(`expected one error line, got:\n${r.stderr}`);
  if (!pattern.test(errorLines[0])) {
    throw new Error(`error line ${JSON.stringify(errorLines[0])} does not match ${pattern}`);
  }
  if (/\n\s+at /.test(r.stderr)) throw new Error(`stack trace printed:\n${r.stderr}`);
  if (r.stdout.trim() !== "") {
    throw new Error(`a failed command printed data on stdout:\n${r.stdout}`);
  }
}

/**
 * Space fields that ZFS updates between two reads while PostgreSQL writes (on OpenZFS the
 * newest snapshot's `used` grows at the next txg sync): tests never compare them.
 */
const VOLATILE = new Set(["used", "referenced", "written", "ready"]);

/** `value` (parsed JSON) without its volatile space fields, for comparing two reads. */
export function stableFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stableFields);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !VOLATILE.has(k)).map(([k, v]) => [k, stableFields(v)]),
  );
}

/** The ZFS GUID of `name` (`zfs get guid`): a snapshot's identity on every host. */
export async function zfsGuid(name: string): Promise<string> {
  return (await sh("zfs", ["get", "-H", "-p", "-o", "value", "guid", name])).stdout.trim();
}
