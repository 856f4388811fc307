/**
 * Shared helpers of the unit tests: temp directories, a configuration that does not
 * depend on this machine, realistic `zfs get` and `docker ps` fixtures, and the exact
 * argv of the inventory's calls.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config/config.ts";
import { log } from "../../src/log.ts";
import type { ExpectedCall } from "../../src/process/fake_runner.ts";

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

/** The properties the inventory asks `zfs get` for, in its order. */
export const INVENTORY_PROPS = [
  "type",
  "used",
  "referenced",
  "creation",
  "createtxg",
  "origin",
  "mountpoint",
  "usedbydataset",
  "usedbysnapshots",
  "zvpg:branch",
  "zvpg:parent",
  "zvpg:state",
  "zvpg:pid",
  "zvpg:port",
  "zvpg:runtime",
  "zvpg:created",
  "zvpg:message",
  "zvpg:taken",
  "zvpg:tool",
  "zvpg:auto",
];

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

/** The inventory's `zfs get` call for the test pool, answering `stdout`. */
export function zfsGetCall(stdout: string, pool = POOL): ExpectedCall {
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
    ],
    result: { stdout },
    check: (options) => {
      if (options.tolerate === undefined) throw new Error("zfs get must tolerate missing roots");
    },
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
