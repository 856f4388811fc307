/**
 * Looking at the real system from outside zvpg: containers of both engines, postmaster
 * processes on the host, ZFS datasets, runtime directories, file modes.
 *
 * @module
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { sh, type TestEnv } from "../itest.ts";

/** Both engines a branch server could run under. */
export const ENGINES = ["docker", "podman"] as const;

/** A container carrying this pool's label, in either engine. */
export interface LabelledContainer {
  engine: string;
  name: string;
  running: boolean;
  branch: string;
  dataset: string;
}

/** Containers of `pool` in every engine (throws when an engine cannot be asked). */
export async function poolContainers(pool: string): Promise<LabelledContainer[]> {
  const out: LabelledContainer[] = [];
  for (const engine of ENGINES) {
    const ids = await sh(engine, ["ps", "-aq", "--filter", `label=zvpg.pool=${pool}`]);
    if (ids.code !== 0) throw new Error(`'${engine} ps' failed: ${ids.stderr.trim()}`);
    const list = ids.stdout.split("\n").filter((l) => l !== "");
    if (list.length === 0) continue;
    const inspect = await sh(engine, ["inspect", ...list]);
    // a container removed between ps and inspect makes inspect fail: list what remains
    const parsed = parseInspect(inspect.stdout);
    for (const c of parsed) {
      const labels = c.Config?.Labels ?? {};
      out.push({
        engine,
        name: String(c.Name ?? "").replace(/^\//, ""),
        running: c.State?.Running === true,
        branch: labels["zvpg.branch"] ?? "?",
        dataset: labels["zvpg.dataset"] ?? "?",
      });
    }
  }
  return out;
}

type Inspected = {
  Name?: string;
  State?: { Running?: boolean };
  Config?: { Labels?: Record<string, string> };
};

function parseInspect(stdout: string): Inspected[] {
  try {
    const parsed = JSON.parse(stdout);
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** A PostgreSQL postmaster on the host (any namespace) and the directory it runs in. */
export interface Postmaster {
  pid: number;
  /** `dev:ino` of its cwd (the data directory), or the error that prevented the stat. */
  cwd: string;
  ok: boolean;
}

function comm(pid: number | string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function parentPid(pid: string): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
  } catch {
    return "0";
  }
}

/**
 * Every postmaster on the host: a `postgres` process whose parent is not `postgres`
 * (backends are children of their postmaster and share its cwd).
 */
export function postmasters(): Postmaster[] {
  const found: Postmaster[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || comm(entry) !== "postgres") continue;
    if (comm(parentPid(entry)) === "postgres") continue;
    try {
      const s = statSync(`/proc/${entry}/cwd`);
      found.push({ pid: Number(entry), cwd: `${s.dev}:${s.ino}`, ok: true });
    } catch (e) {
      found.push({ pid: Number(entry), cwd: (e as Error).message.split("\n")[0], ok: false });
    }
  }
  return found;
}

/** A filesystem dataset of the pool and its mountpoint. */
export interface Dataset {
  name: string;
  mountpoint: string;
}

/** Filesystems of the pool. */
export async function datasets(pool: string): Promise<Dataset[]> {
  const r = await sh("zfs", [
    "list",
    "-H",
    "-o",
    "name,mountpoint",
    "-t",
    "filesystem",
    "-r",
    pool,
  ]);
  if (r.code !== 0) throw new Error(`zfs list failed: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => {
    const [name, mountpoint] = l.split("\t");
    return { name, mountpoint };
  });
}

/** Snapshots of the pool (full ZFS names). */
export async function zfsSnapshots(pool: string): Promise<string[]> {
  const r = await sh("zfs", ["list", "-H", "-o", "name", "-t", "snapshot", "-r", pool]);
  if (r.code !== 0) throw new Error(`zfs list -t snapshot failed: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter((l) => l !== "");
}

/** `dev:ino` of a dataset's data directory, or undefined when it cannot be reached. */
export function pgdataKey(mountpoint: string): string | undefined {
  try {
    const s = statSync(join(mountpoint, "pgdata"));
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/** Runtime directories `<mountDir>/sockets/*` (names). */
export function runtimeDirs(env: TestEnv): string[] {
  const dir = join(env.mountDir, "sockets");
  try {
    return existsSync(dir) ? readdirSync(dir).filter((d) => !d.startsWith(".")).sort() : [];
  } catch {
    return [];
  }
}

/** Whether a uid outside the owner and group can traverse every directory above `path`. */
function reachableByOthers(path: string): boolean {
  for (let dir = dirname(path);; dir = dirname(dir)) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dir === "/") return true;
  }
}

/**
 * Files and directories below `root` that a uid with no relation to them (other bits,
 * like uid 65534 with no groups) can read or write, and reach. PostgreSQL's own data
 * directories (`pgdata`) are not entered; sockets are skipped (the login check covers
 * them). Entries that cannot be stat'ed (a dead FUSE mount) are listed as such, unless
 * `staleOk` (before the repair of a zfs-fuse restart): a mount whose daemon is gone
 * answers nobody (ENOTCONN), so it exposes nothing; any other error is still listed.
 */
export function exposedBelow(
  root: string,
  options: { rootIsHarness?: boolean; staleOk?: boolean } = {},
): string[] {
  const exposed: string[] = [];
  const unreadable = (path: string, what: string, e: unknown) => {
    if (options.staleOk && isDeadMount(e)) return;
    exposed.push(`${path}: cannot ${what} (${(e as Error).message.split("\n")[0]})`);
  };
  const visit = (path: string) => {
    let info;
    try {
      info = lstatSync(path);
    } catch (e) {
      unreadable(path, "stat", e);
      return;
    }
    if (info.isSymbolicLink() || info.isSocket()) return;
    const mode = info.mode & 0o777;
    // the test harness made the config dir (0755, like a home directory): not zvpg's
    const harness = options.rootIsHarness === true && path === root;
    if (!harness && (mode & 0o006) !== 0 && reachableByOthers(path)) {
      exposed.push(`${path} mode ${mode.toString(8)} uid ${info.uid}`);
    }
    if (!info.isDirectory() || path.endsWith("/pgdata")) return;
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch (e) {
      unreadable(path, "list", e);
      return;
    }
    for (const entry of entries) visit(join(path, entry));
  };
  if (existsSync(root)) visit(root);
  return exposed;
}

/** Whether an fs error is a dead FUSE mount's ("Transport endpoint is not connected"). */
function isDeadMount(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "ENOTCONN" || /^ENOTCONN\b/.test((e as Error).message ?? "");
}

/** Socket directories under `<mountDir>/sockets` that hold a PostgreSQL socket. */
export function socketDirs(env: TestEnv): string[] {
  return runtimeDirs(env).map((d) => join(env.mountDir, "sockets", d, "sock")).filter((d) =>
    existsSync(join(d, ".s.PGSQL.5432"))
  );
}

/** Tries to log in as uid 65534 (no groups, no password) through a socket dir or a port. */
export async function nobodyLogin(
  target: { socketDir: string } | { port: number },
): Promise<{ loggedIn: boolean; detail: string }> {
  const host = "socketDir" in target
    ? ["-h", target.socketDir]
    : ["-h", "127.0.0.1", "-p", String(target.port)];
  const r = await sh("setpriv", [
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "psql",
    "-X",
    "-w",
    "-At",
    ...host,
    "-U",
    "postgres",
    "-d",
    "postgres",
    "-c",
    "select current_user",
  ], { PGPASSFILE: "/nonexistent/pgpass", HOME: "/nonexistent", PGCONNECT_TIMEOUT: "5" });
  return { loggedIn: r.code === 0, detail: (r.stdout + r.stderr).trim().split("\n")[0] ?? "" };
}
