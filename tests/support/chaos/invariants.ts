/**
 * The invariants the chaos suite checks after every step. Each returns evidence lines;
 * an empty list means it holds.
 *
 * @module
 */
import { join } from "node:path";
import { encodeBranchName } from "../../../src/domain/names.ts";
import { isHiddenSnapshot } from "../../../src/domain/layout.ts";
import { sh, type TestEnv } from "../itest.ts";
import type { BranchJson, Model, SnapshotJson } from "./model.ts";
import {
  datasets,
  exposedBelow,
  type LabelledContainer,
  nobodyLogin,
  pgdataKey,
  poolContainers,
  postmasters,
  runtimeDirs,
  socketDirs,
  zfsSnapshots,
} from "./observe.ts";
import { parseJson, runZvpg } from "./runner.ts";

/** Names of the invariants (for ZVPG_CHAOS_SKIP and reports). */
export const INVARIANTS = [
  "servers",
  "ports",
  "stale-port",
  "rows",
  "health",
  "orphans",
  "perms",
  "login",
  "lost",
  "exit-code",
  "engine-down",
  "restart-survival",
  "hang",
  "unasked",
  "observable",
  "kept",
  "expected",
  "mounts",
] as const;
export type Invariant = typeof INVARIANTS[number];

/** One broken invariant with what shows it. */
export interface Violation {
  invariant: Invariant;
  evidence: string[];
}

/** What zvpg reports: `branch list` and `snapshot list`. */
export interface Listing {
  branches: BranchJson[];
  snapshots: SnapshotJson[];
}

/** Reads both listings; throws (a finding in itself) when zvpg cannot list. */
export async function listing(env: TestEnv): Promise<Listing> {
  const [b, s] = await Promise.all([
    runZvpg(env, ["branch", "list", "-f", "json"], { timeoutMs: 60_000 }),
    runZvpg(env, ["snapshot", "list", "-f", "json"], { timeoutMs: 60_000 }),
  ]);
  const branches = parseJson<BranchJson[]>(b);
  const snapshots = parseJson<SnapshotJson[]>(s);
  if (!branches || !snapshots) {
    throw new Error(
      `zvpg cannot list: branch list exit ${b.code}: ${b.stderr.trim()}; ` +
        `snapshot list exit ${s.code}: ${s.stderr.trim()}`,
    );
  }
  return { branches, snapshots };
}

/**
 * 1. At most one running server per dataset, across docker and podman and the host:
 * running containers labelled with the dataset, and postmasters whose cwd is its pgdata.
 */
export async function checkServers(env: TestEnv, containers: LabelledContainer[]) {
  const evidence: string[] = [];
  const perDataset = new Map<string, string[]>();
  for (const c of containers.filter((c) => c.running)) {
    perDataset.set(c.dataset, [...(perDataset.get(c.dataset) ?? []), `${c.engine}:${c.name}`]);
  }
  for (const [dataset, list] of perDataset) {
    if (list.length > 1) evidence.push(`${list.length} running containers on ${dataset}: ${list}`);
  }
  const keys = new Map<string, string>();
  for (const ds of await datasets(env.pool)) {
    const key = pgdataKey(ds.mountpoint);
    if (key) keys.set(key, ds.name);
  }
  const perKey = new Map<string, number[]>();
  for (const p of postmasters().filter((p) => p.ok && keys.has(p.cwd))) {
    perKey.set(p.cwd, [...(perKey.get(p.cwd) ?? []), p.pid]);
  }
  for (const [key, pids] of perKey) {
    if (pids.length > 1) {
      evidence.push(`${pids.length} postmasters in ${keys.get(key)}/pgdata: pids ${pids}`);
    }
  }
  return evidence;
}

/** What one running branch's database says: its marker and its rows. */
export interface Probe {
  marker?: string;
  rows?: Set<string>;
  error?: string;
}

/** Reads the marker and the rows of the server on `port`. */
export async function probe(env: TestEnv, port: number): Promise<Probe> {
  try {
    const out = await env.psql(
      port,
      "select coalesce((select string_agg(branch, ',') from chaos_marker), '<none>') || '|' || " +
        "coalesce((select string_agg(v, ',' order by v) from chaos_rows), '')",
    );
    const [marker, rows] = out.split("|");
    return { marker, rows: new Set(rows.split(",").filter((r) => r !== "")) };
  } catch (e) {
    return { error: (e as Error).message.trim().split("\n").slice(0, 2).join(" ") };
  }
}

/**
 * 2. Every port reported for a running branch is served by that branch (its marker), and
 * no two branches report one port. Returns the probes for the rows check. With
 * `unreachableOk` (before a repair) a port that serves nothing is no finding, one that
 * serves another branch's database still is.
 */
export async function checkPorts(
  env: TestEnv,
  model: Model,
  branches: BranchJson[],
  { unreachableOk = false } = {},
) {
  const evidence: string[] = [];
  const probes = new Map<string, Probe>();
  const running = branches.filter((b) => b.status === "running");
  const seen = new Map<number, string>();
  for (const b of running) {
    if (b.port === null) {
      evidence.push(`running branch '${b.name}' reports no port`);
      continue;
    }
    if (seen.has(b.port)) {
      evidence.push(`port ${b.port} reported for running '${seen.get(b.port)}' and '${b.name}'`);
    }
    seen.set(b.port, b.name);
    const p = await probe(env, b.port);
    probes.set(b.name, p);
    const expected = model.branches.get(b.name)?.marker;
    if (p.error) {
      if (!unreachableOk) evidence.push(`'${b.name}' reported running on ${b.port}: ${p.error}`);
    } else if (expected !== undefined && expected !== "" && p.marker !== expected) {
      evidence.push(
        `port ${b.port} of '${b.name}' is served by a database marked '${p.marker}' ` +
          `(expected '${expected}')`,
      );
    }
  }
  return { evidence, probes };
}

/**
 * 2b. Ports tell the truth for branches that are not running: no live port (issue 11
 * finding 3), and never one another branch is reported on. Also the text form: the
 * spec's `grep "PostgreSQL Port" | awk '{print $3}'` of a stopped branch must not yield
 * a port.
 */
export async function checkStalePorts(
  env: TestEnv,
  branches: BranchJson[],
  textProbe: string | undefined,
) {
  const evidence: string[] = [];
  const owners = new Map<number, string[]>();
  for (const b of branches) {
    if (b.port !== null) owners.set(b.port, [...(owners.get(b.port) ?? []), b.name]);
    if (b.status !== "running" && b.port !== null) {
      evidence.push(`'${b.name}' is ${b.status} but reports port ${b.port}`);
    }
  }
  for (const [port, names] of owners) {
    if (names.length > 1) evidence.push(`port ${port} reported by ${names.join(", ")}`);
  }
  if (textProbe !== undefined) {
    const r = await runZvpg(env, ["branch", "info", textProbe], { timeoutMs: 60_000 });
    const line = r.stdout.split("\n").find((l) => l.includes("PostgreSQL Port"));
    const value = line?.trim().split(/\s+/)[2];
    if (value !== undefined && /^\d+$/.test(value)) {
      evidence.push(`'branch info ${textProbe}' (stopped) prints '${line!.trim()}'`);
    }
  }
  return evidence;
}

/**
 * 3. Rows committed before a snapshot (or in the branch) are in the branch; rows a reset
 * in place threw away are not.
 */
export function checkRows(model: Model, probes: Map<string, Probe>): string[] {
  const evidence: string[] = [];
  for (const [name, p] of probes) {
    const expected = model.branches.get(name);
    if (!expected || !p.rows) continue;
    const missing = [...expected.rows].filter((r) => !p.rows!.has(r));
    if (missing.length > 0) {
      evidence.push(`'${name}' lacks committed rows ${missing.join(",")}`);
    }
    const kept = [...expected.absent ?? []].filter((r) => p.rows!.has(r));
    if (kept.length > 0) {
      evidence.push(`'${name}' still holds rows ${kept.join(",")} its reset threw away`);
    }
  }
  return evidence;
}

/**
 * 4. No orphan dataset, snapshot, container or runtime dir: everything in zvpg's tree is
 * a listed branch or snapshot, and every container belongs to a running branch (one each).
 */
export async function checkOrphans(
  env: TestEnv,
  list: Listing,
  containers: LabelledContainer[],
) {
  const evidence: string[] = [];
  const listed = new Set(list.branches.map((b) => b.dataset));
  for (const ds of await datasets(env.pool)) {
    if (ds.name.startsWith(`${env.pool}/clones/`) && !listed.has(ds.name)) {
      evidence.push(`dataset ${ds.name} is no listed branch`);
    }
  }
  const snaps = new Set(list.snapshots.map((s) => s.zfsName));
  for (const s of await zfsSnapshots(env.pool)) {
    const [dataset, name] = s.split("@");
    // a branch's hidden birth snapshot is never listed: it must be a listed branch's
    if (isHiddenSnapshot(name ?? "") && listed.has(dataset)) continue;
    if (!snaps.has(s)) evidence.push(`ZFS snapshot ${s} is not in 'snapshot list'`);
  }
  const running = new Set(list.branches.filter((b) => b.status === "running").map((b) => b.name));
  const perBranch = new Map<string, number>();
  for (const c of containers) {
    perBranch.set(c.branch, (perBranch.get(c.branch) ?? 0) + 1);
    if (!running.has(c.branch)) {
      evidence.push(
        `${c.engine} container ${c.name} (${c.running ? "running" : "exited"}) ` +
          `of '${c.branch}', which is not a running branch`,
      );
    } else if (!c.running) evidence.push(`${c.engine} container ${c.name} exited`);
  }
  for (const [branch, n] of perBranch) {
    if (n > 1) evidence.push(`'${branch}' has ${n} containers`);
  }
  const ids = new Set(list.branches.map((b) => encodeBranchName(b.name)));
  for (const dir of runtimeDirs(env)) {
    if (!ids.has(dir)) evidence.push(`runtime dir ${join(env.mountDir, "sockets", dir)}`);
  }
  return evidence;
}

/**
 * 5a. Nothing under mountDir (outside pgdata), the config dir or the log dir can be read
 * or written by another uid. With `staleOk` (before a repair) a dead FUSE mount under
 * mountDir (zfs-fuse restarted) is no finding: it answers nobody; the repair remounts it
 * and the check after it admits no such entry.
 */
export function checkPerms(env: TestEnv, { staleOk = false } = {}): string[] {
  return [
    ...exposedBelow(env.mountDir, { staleOk }),
    ...exposedBelow(env.configDir, { rootIsHarness: true }),
    ...exposedBelow(join(env.base, "log")),
  ];
}

/** 5b. uid 65534 cannot log in through any socket dir or any running branch's port. */
export async function checkLogin(env: TestEnv, branches: BranchJson[]) {
  const targets: ({ socketDir: string } | { port: number })[] = [
    ...socketDirs(env).map((socketDir) => ({ socketDir })),
    ...branches.filter((b) => b.status === "running" && b.port !== null).map((b) => ({
      port: b.port!,
    })),
  ];
  const results = await Promise.all(targets.map((t) => nobodyLogin(t)));
  return results.flatMap((r, i) => {
    if (!r.loggedIn) return [];
    const t = targets[i];
    const where = "socketDir" in t ? `through ${t.socketDir}` : `on port ${t.port}`;
    return [`uid 65534 logged in ${where} as '${r.detail}'`];
  });
}

/** Every container of the pool in docker and podman. */
export function containersOf(env: TestEnv): Promise<LabelledContainer[]> {
  return poolContainers(env.pool);
}

/**
 * 6. What lives below the clones and sockets datasets lives in them: while a branch dataset
 * (below clones) is mounted, the clones and sockets datasets are too (else it was mounted,
 * and its runtime dir written, into the plain directory under their mountpoint).
 */
export async function checkTreeMounted(env: TestEnv): Promise<string[]> {
  // zfs-fuse's `zfs get` has no -t (snapshots answer "-")
  const r = await sh("zfs", ["get", "-H", "-o", "name,value", "-r", "mounted", env.pool]);
  if (r.code !== 0) return [`zfs get mounted failed: ${r.stderr.trim()}`];
  const mounted = new Map(
    r.stdout.split("\n").filter((l) => l !== "").map((l) => l.split("\t") as [string, string]),
  );
  const below = [...mounted].filter(([name, v]) =>
    name.startsWith(`${env.pool}/clones/`) && v === "yes"
  );
  if (below.length === 0) return [];
  return ["clones", "sockets"].filter((d) => mounted.get(`${env.pool}/${d}`) !== "yes").map((d) =>
    `${env.pool}/${d} is not mounted while ${below.map(([n]) => n).join(", ")} is`
  );
}
