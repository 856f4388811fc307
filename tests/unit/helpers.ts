/**
 * Shared helpers of the unit tests: temp directories, a configuration that does not
 * depend on this machine, realistic `zfs get` and `docker ps` fixtures, and the exact
 * argv of the inventory's calls.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config/config.ts";
import { log } from "../../src/runtime/log.ts";
import {
  type BranchRecord,
  type Inventory,
  type SnapshotRecord,
  ZFS_PROPS,
} from "../../src/domain/inventory.ts";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import type { RunResult } from "../../src/runtime/runner.ts";
import type { Context } from "../../src/context.ts";
import { hostMountTable, type MountTable } from "../../src/adapters/mount_table.ts";
import { portClaimKey, snapshotClaimKey } from "../../src/domain/claims.ts";
import { ADOPT_PROPS, PROPS } from "../../src/domain/layout.ts";
import type { ProcessTable } from "../../src/ops/data_holders.ts";

// Unit tests keep stderr quiet: only errors are printed, and fault points are off
// whatever the environment the suite runs in.
log.setLevel("ERROR");
Deno.env.delete("ZVPG_FAULT");
Deno.env.delete("ZVPG_FAULT_DELAY");

/** Runs `fn` with a fresh temp directory, removed afterwards even when `fn` throws. */
export async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "zvpg-unit-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The pool name the service tests use. */
export const POOL = "tpool";

/**
 * A configuration with every default, read with an explicit environment rooted in `dir`
 * (no file there), then pointed at `dir/mnt` and the test pool. PostgreSQL config files
 * are written so containers can be prepared.
 */
export function testConfig(dir: string, overrides: Partial<Config> = {}): Config {
  const base = loadConfig({ env: { HOME: dir, ZVPG_CONFIG_DIR: dir } });
  const mountDir = join(dir, "mnt");
  mkdirSync(mountDir, { recursive: true });
  for (const file of [base.pgConfPath, base.pgHbaPath, base.pgIdentPath]) {
    writeFileSync(file, "# test\n");
  }
  return { ...base, zfsPool: POOL, mountDir, logDir: join(dir, "log"), ...overrides };
}

/** The properties the inventory asks `zfs get` for, in its order (zfs-fuse). */
export const INVENTORY_PROPS = ZFS_PROPS;

/** One dataset or snapshot of a `zfs get` fixture; absent properties print as `-`. */
export interface FixtureEntry {
  name: string;
  props: Record<string, string>;
  /** Properties it inherits (source `inherited from <parent>`), e.g. a user's child dataset. */
  inherited?: Record<string, string>;
}

/**
 * What `zfs get -H -p -r -o name,property,value,source <INVENTORY_PROPS> ...` prints for
 * `entries`: one tab-separated line per property, `-` for unset ones; user and mountpoint
 * properties set on the entry are `local`.
 */
export function zfsGetOutput(entries: FixtureEntry[], props = INVENTORY_PROPS): string {
  const lines: string[] = [];
  for (const entry of entries) {
    const parent = entry.name.includes("@")
      ? entry.name.split("@")[0]
      : entry.name.split("/").slice(0, -1).join("/");
    for (const prop of props) {
      const own = entry.props[prop];
      const inherited = entry.inherited?.[prop];
      const [value, source] = own !== undefined
        ? [own, prop.includes(":") || prop === "mountpoint" ? "local" : "-"]
        : inherited !== undefined
        ? [inherited, `inherited from ${parent}`]
        : ["-", "-"];
      lines.push(`${entry.name}\t${prop}\t${value}\t${source}`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * The inventory's `zfs get` call for the test pool, answering `stdout`; with `tracking`,
 * of the remote-tracking datasets too (`<pool>/remotes`).
 */
export function zfsGetCall(
  stdout: string,
  pool = POOL,
  options: { tracking?: boolean } = {},
): ExpectedCall {
  return {
    argv: [
      "zfs",
      "get",
      "-H",
      "-p",
      "-r",
      "-o",
      "name,property,value,source",
      INVENTORY_PROPS.join(","),
      `${pool}/data`,
      `${pool}/clones`,
      ...(options.tracking ? [`${pool}/remotes`] : []),
    ],
    result: { stdout },
    check: (options) => {
      if (options.tolerate === undefined) throw new Error("zfs get must tolerate missing roots");
    },
  };
}

/**
 * The read of every take-over recorded in the pool (`findTakeOvers` of a pool whose main is
 * not known yet): the whole pool, `entries` answering.
 */
export function takeOversCall(entries: FixtureEntry[], pool = POOL): ExpectedCall {
  const props = ["type", ADOPT_PROPS.record, PROPS.pid];
  return {
    argv: [
      ...["zfs", "get", "-H", "-p", "-r", "-o", "name,property,value,source"],
      ...[props.join(","), pool],
    ],
    result: { stdout: entries.length > 0 ? zfsGetOutput(entries, props) : "" },
  };
}

/** The `zfs get` call when the pool has no zvpg datasets. */
export function zfsGetMissingCall(pool = POOL): ExpectedCall {
  return {
    ...zfsGetCall("", pool),
    result: {
      code: 1,
      stdout: "",
      stderr: `cannot open '${pool}/data': dataset does not exist\n`,
    },
  };
}

/** `docker ps` listing the pool's containers (optionally of one branch). */
export function dockerPsCall(stdout: string, branch?: string, pool = POOL): ExpectedCall {
  return {
    argv: [
      "docker",
      "ps",
      "-a",
      "--no-trunc",
      "--filter",
      `label=zvpg.pool=${pool}`,
      ...(branch === undefined ? [] : ["--filter", `label=zvpg.branch=${branch}`]),
      "--format",
      "{{json .}}",
    ],
    result: { stdout },
  };
}

/** `docker inspect` of a container's state and last exit code, answered with `result`. */
export function inspectStateCall(container: string, result: Partial<RunResult>): ExpectedCall {
  return {
    argv: [
      "docker",
      "inspect",
      "--type",
      "container",
      "--format",
      "{{.State.Status}} {{.State.ExitCode}}",
      container,
    ],
    result,
  };
}

/** One line of `docker ps --format '{{json .}}'` for a zvpg container. */
export function dockerPsLine(
  c: { branch: string; port: number; name: string; state?: string; pool?: string; id?: string },
): string {
  const state = c.state ?? "running";
  const pool = c.pool ?? POOL;
  return JSON.stringify({
    Command: '"postgres -D /var/lib/postgresql/data -c config_file=/etc/zvpg/postgresql.conf"',
    CreatedAt: "2026-11-24 11:33:23 +0000 UTC",
    ID: c.id ?? "3f4e5d6c7b8a9".padEnd(64, "0"),
    Image: "postgres:17",
    Labels: `zvpg.branch=${c.branch},zvpg.dataset=${pool}/x,zvpg.pool=${pool},zvpg.port=${c.port}`,
    LocalVolumes: "0",
    Mounts: "/var/lib/zvpg/data/pgdata,/var/lib/zvpg/sockets/main/sock",
    Names: c.name,
    Networks: "bridge",
    Ports: state === "running" ? `127.0.0.1:${c.port}->5432/tcp` : "",
    RunningFor: "2 minutes ago",
    Size: "0B",
    State: state,
    Status: state === "running" ? "Up 2 minutes" : "Exited (0) 5 seconds ago",
  });
}

/** A fixed clock. */
export const NOW = new Date("2026-11-24T11:33:23.150Z");

/** Asserts that a message is one line. */
export function assertOneLine(message: string): void {
  if (/[\r\n]/.test(message)) {
    throw new Error(`message is not one line: ${JSON.stringify(message)}`);
  }
}

/**
 * `count` consecutive TCP ports on 127.0.0.1 that nothing listens on right now, so tests
 * that bind ports do not depend on what runs on this machine.
 */
export function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const start = 20_000 + Math.floor(Math.random() * 40_000);
    let ok = true;
    for (let p = start; p < start + count && ok; p++) {
      try {
        Deno.listen({ hostname: "127.0.0.1", port: p }).close();
      } catch {
        ok = false;
      }
    }
    if (ok) return start;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** The properties the narrow read of the branch slots asks `zfs get` for. */
export const SLOT_PROPS = ["type", "zvpg:branch", "zvpg:state", "zvpg:port"];

/**
 * `zfs get` of exactly `names` (no recursion) with `props`, answered from the pool
 * fixture `entries`: the names found are printed, the others named on stderr.
 */
export function zfsGetNamesCall(
  entries: FixtureEntry[],
  names: string[],
  props = INVENTORY_PROPS,
  depth?: number,
): ExpectedCall {
  const found = entries.filter((e) => names.includes(e.name) || (depth === 1 && isChild(e, names)));
  const missing = names.filter((n) => !entries.some((e) => e.name === n));
  return {
    argv: [
      "zfs",
      "get",
      "-H",
      "-p",
      ...(depth === undefined ? [] : ["-d", String(depth)]),
      "-o",
      "name,property,value,source",
      props.join(","),
      ...names,
    ],
    result: {
      code: missing.length > 0 ? 1 : 0,
      stdout: found.length > 0 ? zfsGetOutput(found, props) : "",
      stderr: missing.map((n) => `cannot open '${n}': dataset does not exist\n`).join(""),
    },
    check: (options) => {
      if (options.tolerate === undefined) throw new Error("zfs get must tolerate missing names");
    },
  };
}

/**
 * A recursive `zfs get` (`getTree`) of `roots` and `props`, answering the entries of
 * `entries` at or below them (none: the roots are missing).
 */
export function zfsTreeCall(
  entries: FixtureEntry[],
  roots: string[],
  props: string[],
): ExpectedCall {
  const all = props.includes("type") ? props : ["type", ...props];
  const found = entries.filter((e) =>
    roots.some((r) => e.name === r || e.name.startsWith(`${r}/`) || e.name.startsWith(`${r}@`))
  );
  return {
    argv: [
      ...["zfs", "get", "-H", "-p", "-r", "-o", "name,property,value,source"],
      ...[all.join(","), ...roots],
    ],
    result: found.length > 0 ? { stdout: zfsGetOutput(found, all) } : {
      code: 1,
      stderr: roots.map((r) => `cannot open '${r}': dataset does not exist\n`).join(""),
    },
    check: (options) => {
      if (options.tolerate === undefined) throw new Error("zfs get must tolerate missing roots");
    },
  };
}

/** Whether a fixture entry is one level below one of `roots` (a child or a snapshot). */
function isChild(e: FixtureEntry, roots: string[]): boolean {
  return roots.some((r) =>
    e.name.startsWith(`${r}@`) ||
    (e.name.startsWith(`${r}/`) && !/[/@]/.test(e.name.slice(r.length + 1)))
  );
}

/** The narrow read of branches: the default branch's dataset and `datasets`. */
export function branchGetCall(entries: FixtureEntry[], datasets: string[] = []): ExpectedCall {
  return zfsGetNamesCall(entries, [...new Set([`${POOL}/data`, ...datasets])]);
}

/** The read of every branch slot: the clones dataset one level deep, few properties. */
export function slotsCall(entries: FixtureEntry[]): ExpectedCall {
  return zfsGetNamesCall(entries, [`${POOL}/clones`], SLOT_PROPS, 1);
}

/**
 * The look-up of snapshot `name` on every branch slot of `entries` (the default branch's
 * dataset and the clones' children that carry `zvpg:branch`), in dataset name order.
 */
export function snapshotNamedCall(entries: FixtureEntry[], name: string): ExpectedCall {
  const slots = entries.filter((e) =>
    e.props["zvpg:branch"] !== undefined &&
    (e.name === `${POOL}/data` || isChild(e, [`${POOL}/clones`]))
  ).map((e) => `${e.name}@${name}`).sort();
  return zfsGetNamesCall(entries, slots);
}

/** The `docker run` argv of a branch container. */
export function runArgv(ctx: Context, branch: string, port: number): string[] {
  const { layout } = ctx;
  const pgdata = layout.pgdata(branch);
  const owner = statSync(pgdata);
  const rt = layout.runtimeDir(branch);
  return [
    "docker",
    "run",
    "-d",
    "--pull=never",
    "--name",
    layout.containerName(branch, port),
    "--label",
    "zvpg.pool=tpool",
    "--label",
    `zvpg.branch=${branch}`,
    "--label",
    `zvpg.dataset=${layout.branchDataset(branch)}`,
    "--label",
    `zvpg.port=${port}`,
    "--user",
    `${owner.uid}:${owner.gid}`,
    "--mount",
    `type=bind,source=${pgdata},target=/var/lib/postgresql/data`,
    "--mount",
    `type=bind,source=${rt}/sock,target=/var/run/postgresql`,
    "--mount",
    `type=bind,source=${rt}/conf,target=/etc/zvpg,readonly=true`,
    "-p",
    `127.0.0.1:${port}:5432`,
    "--stop-signal",
    "SIGINT",
    "--restart",
    "unless-stopped",
    "--entrypoint",
    "sh",
    "postgres:17",
    "/etc/zvpg/serve.sh",
    "postgres",
    "-D",
    "/var/lib/postgresql/data",
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
    "unix_socket_directories=/var/run/postgresql",
  ];
}

export function cloneCall(ctx: Context, branch: string, port: number, from: string): ExpectedCall {
  const dataset = ctx.layout.branchDataset(branch);
  return {
    argv: [
      "zfs",
      "clone",
      "-o",
      `mountpoint=${ctx.layout.branchMount(branch)}`,
      "-o",
      `zvpg:branch=${branch}`,
      "-o",
      "zvpg:parent=main",
      "-o",
      `zvpg:created=${NOW.toISOString()}`,
      "-o",
      "zvpg:state=creating",
      "-o",
      `zvpg:pid=${Deno.pid}`,
      "-o",
      `zvpg:port=${port}`,
      "-o",
      "zvpg:runtime=docker",
      from,
      dataset,
    ],
  };
}

/** `docker exec` of one SQL statement through the branch container's private socket. */
export function execSqlCall(
  user: string,
  container: string,
  sql: string,
  result: Partial<RunResult> = {},
): ExpectedCall {
  return {
    argv: [
      ...["docker", "exec", "-i", "--user", user, container],
      ...["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql"],
      ...["-U", "postgres", "-d", "postgres"],
    ],
    // the SQL is on psql's stdin, never in a process list
    check: (o) => assert.equal(o.stdin, `${sql}\n`),
    result,
  };
}

/** Snapshot `name` of branch `of` (`p/clones/<of>@<name>`), for the pure domain tests. */
export function snapshotRecord(
  name: string,
  of: string,
  extra: Partial<SnapshotRecord> = {},
): SnapshotRecord {
  return {
    name,
    zfsName: `p/clones/${of}@${name}`,
    branch: of,
    created: new Date(0),
    message: "",
    used: 0,
    referenced: 0,
    dependents: [],
    tool: null,
    auto: false,
    ...extra,
  };
}

/** A stopped branch record made from `base`, for the pure domain tests; `extra` overrides. */
export function branchRecord(name: string, extra: Partial<BranchRecord> = {}): BranchRecord {
  return {
    name,
    dataset: `p/clones/${name}`,
    mountpoint: `/m/clones/${name}`,
    parent: "main",
    origin: "base",
    created: new Date(0),
    used: 0,
    referenced: 0,
    usedByDataset: 0,
    usedBySnapshots: 0,
    written: null,
    state: "stopped",
    operationPid: null,
    status: "stopped",
    port: null,
    lastPort: null,
    runtime: "docker",
    container: null,
    isDefault: false,
    ...extra,
  };
}

/** An initialised inventory of `branches` and nothing else; `extra` overrides. */
export function inventoryOf(branches: BranchRecord[], extra: Partial<Inventory> = {}): Inventory {
  return {
    branches,
    snapshots: [],
    foreignDatasets: [],
    orphanContainers: [],
    initialized: true,
    ...extra,
  };
}

/** The claims index's dataset in the test pool. */
export const INDEX_DATASET = `${POOL}/sockets`;

/**
 * The read of the claims index: `zfs get ... all tpool/sockets`, answering `props` as its
 * locally set user properties (no `zvpg:index`: a pool whose index is not complete, so
 * the narrow reads fall back to every branch slot). `null`: the dataset is missing.
 */
export function indexCall(props: Record<string, string> | null = {}): ExpectedCall {
  const argv = ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "all", INDEX_DATASET];
  if (props === null) {
    return {
      argv,
      result: { code: 1, stderr: `cannot open '${INDEX_DATASET}': dataset does not exist\n` },
    };
  }
  const lines = [
    `${INDEX_DATASET}\ttype\tfilesystem\t-`,
    `${INDEX_DATASET}\tatime\toff\tlocal`,
    ...Object.entries(props).map(([k, v]) => `${INDEX_DATASET}\t${k}\t${v}\tlocal`),
  ];
  return { argv, result: { stdout: lines.join("\n") + "\n" } };
}

/** A complete claims index holding `claims` (see src/domain/claims.ts). */
export function completeIndex(claims: Record<string, string> = {}): ExpectedCall {
  return indexCall({ "zvpg:index": "1", ...claims });
}

/** The claim of `port` for `dataset`, written before the dataset records it. */
export function portClaimCall(dataset: string, port: number): ExpectedCall {
  return {
    argv: ["zfs", "set", `${portClaimKey(dataset)}=${port} ${dataset}`, INDEX_DATASET],
  };
}

/** The release of `dataset`'s port claim, after it is recorded stopped or deleting. */
export function portReleaseCall(dataset: string): ExpectedCall {
  return { argv: ["zfs", "inherit", portClaimKey(dataset), INDEX_DATASET] };
}

/** The claim of snapshot name `name` for `branch`. */
export function snapshotClaimCall(name: string, branch: string): ExpectedCall {
  return { argv: ["zfs", "set", `${snapshotClaimKey(name)}=${branch}`, INDEX_DATASET] };
}

/** The release of snapshot name `name`'s claim, after the snapshot is destroyed. */
export function snapshotReleaseCall(name: string): ExpectedCall {
  return { argv: ["zfs", "inherit", snapshotClaimKey(name), INDEX_DATASET] };
}

/** The port claim, then the clone of a new branch and its birth snapshot. */
export function claimAndClone(
  ctx: Context,
  branch: string,
  port: number,
  from: string,
): ExpectedCall[] {
  return [
    portClaimCall(ctx.layout.branchDataset(branch), port),
    cloneCall(ctx, branch, port, from),
    birthCall(ctx.layout.branchDataset(branch)),
  ];
}

/** The birth snapshot a new clone gets at once (what a reset to its origin rolls back to). */
export function birthCall(dataset: string): ExpectedCall {
  return { argv: ["zfs", "snapshot", `${dataset}@.zvpg-origin`] };
}

/**
 * A process table whose processes work in the given directories; `parents` and
 * `cmdlines` give the parent pid and command line of any process (listed or not).
 */
export function table(
  cwds: Record<number, string | undefined>,
  comm = "postgres",
  parents: Record<number, number> = {},
  cmdlines: Record<number, string> = {},
): ProcessTable {
  return {
    pids: () => [...new Set([...Object.keys(cwds), ...Object.keys(parents)].map(Number))],
    cwd: (pid) => {
      const dir = cwds[pid];
      if (dir === undefined) return undefined;
      const info = statSync(dir);
      return { dev: info.dev, ino: info.ino };
    },
    command: () => comm,
    parent: (pid) => parents[pid],
    commandLine: (pid) => cmdlines[pid] ?? "",
    startTime: (pid) => pid in cwds || pid in parents || pid in cmdlines ? 1000 + pid : undefined,
  };
}

/**
 * The host's mount table, on which the datasets every branch lives in (clones and
 * sockets) are mounted and answer: what a create or start checks first.
 */
export function treeMounted(layout: Context["layout"]): MountTable {
  const tree = [
    { source: layout.clonesDataset, target: layout.clonesMount, fstype: "fuse.zfs" },
    { source: layout.socketsDataset, target: layout.socketsMount, fstype: "fuse.zfs" },
  ];
  return {
    entries: () => [...hostMountTable.entries(), ...tree],
    stat: (path) =>
      tree.some((e) => e.target === path) ? { state: "ok" } : hostMountTable.stat(path),
  };
}
