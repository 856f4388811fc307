/**
 * Faults the chaos suite injects from outside zvpg: a branch container killed or removed
 * by hand, and (disruptive, only when the test holds the machine alone) the container
 * engine or the zfs-fuse daemon restarted the way setup_env.sh starts them.
 *
 * @module
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { FAULT_POINTS } from "../../../src/services/fault.ts";
import { sh, type TestEnv } from "../itest.ts";
import { sleep } from "../fault_support.ts";

/** Names of the faults (for ZVPG_CHAOS_SKIP and reports). */
export const FAULTS = [
  "kill",
  "sigint",
  "container-kill",
  "container-rm",
  "override",
  "engine-restart",
  "zfs-restart",
] as const;
export type Fault = typeof FAULTS[number];

/** The faults that restart a machine-wide service (need `disruptive: true`). */
export const DISRUPTIVE_FAULTS: readonly Fault[] = ["engine-restart", "zfs-restart"];

/** Fault points (from src/services/fault.ts) an operation passes, by name prefix. */
export function faultPointsOf(op: string): string[] {
  const prefixes: Record<string, string[]> = {
    create: ["branch.create.", "container."],
    start: ["container."],
    stop: ["branch.stop."],
    delete: ["branch.delete."],
    snapshot: ["snapshot.before", "snapshot.create."],
    "snapshot-delete": ["snapshot.delete."],
  };
  const wanted = prefixes[op] ?? [];
  return FAULT_POINTS.filter((p) => wanted.some((w) => p.startsWith(w)));
}

const ROOT = new URL("../../../", import.meta.url).pathname;
const DOCKERD_PIDFILE = "/run/dockerd-zvpg.pid";
const DOCKERD_LOG = "/var/log/dockerd-zvpg.log";
const ZFS_PIDFILE = "/run/zfs-fuse.pid";

/** The pid in `pidfile` when that process runs `comm`, else undefined. */
function daemonPid(pidfile: string, comm: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidfile, "utf8").trim());
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `ok` every 250 ms until it holds or `ms` pass. */
async function waitFor(ok: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await sleep(250);
  }
  return ok();
}

/** Whether dockerd answers. */
export async function dockerAnswers(): Promise<boolean> {
  return (await sh("timeout", ["10", "docker", "info", "--format", "{{.ServerVersion}}"])).code ===
    0;
}

/** Whether zfs-fuse answers. */
export async function zfsAnswers(): Promise<boolean> {
  return (await sh("timeout", ["10", "zpool", "list", "-H"])).code === 0;
}

/** Stops dockerd (SIGTERM, as `systemctl stop` does) and waits until it no longer answers. */
export async function stopDockerd(): Promise<void> {
  const pid = daemonPid(DOCKERD_PIDFILE, "dockerd");
  if (pid === undefined) throw new Error(`no dockerd with pid file ${DOCKERD_PIDFILE}`);
  Deno.kill(pid, "SIGTERM");
  const gone = await waitFor(() => !existsSync(`/proc/${pid}`), 60_000);
  if (!gone) throw new Error(`dockerd ${pid} did not exit within 60 s of SIGTERM`);
}

/** The flags of the last `=== <time> dockerd <flags>` line setup_env.sh wrote. */
export function lastDockerdFlags(): string[] {
  const header = readFileSync(DOCKERD_LOG, "utf8").split("\n").filter((l) =>
    l.startsWith("=== ") && l.includes(" dockerd ")
  ).pop();
  if (!header) throw new Error(`no dockerd start line in ${DOCKERD_LOG}`);
  // invariant: only --options are passed on; dockerd takes no positional argument
  return header.slice(header.indexOf(" dockerd ") + 9).trim().split(/\s+/).filter((f) =>
    f.startsWith("--")
  );
}

/**
 * Starts dockerd again as setup_env.sh does: with the flags it last used (falling back to
 * running setup_env.sh itself, podman and image steps skipped), and waits until it answers.
 */
export async function startDockerd(): Promise<void> {
  if (await dockerAnswers()) return;
  const flags = lastDockerdFlags();
  // the same line format setup_env.sh writes, so the next restart reads the same flags
  const line = `=== ${new Date().toISOString()} dockerd ${flags.join(" ")}\n`;
  Deno.writeTextFileSync(DOCKERD_LOG, line, { append: true });
  rmSync(DOCKERD_PIDFILE, { force: true });
  await sh("bash", [
    "-c",
    `setsid nohup dockerd "$@" >>${DOCKERD_LOG} 2>&1 </dev/null &`,
    "dockerd",
    ...flags,
  ]);
  if (await waitFor(dockerAnswers, 60_000)) return;
  const setup = await sh("bash", [`${ROOT}scripts/setup_env.sh`], {
    ZVPG_SKIP_PODMAN: "1",
    ZVPG_SKIP_IMAGE: "1",
  });
  if (setup.code !== 0 || !(await dockerAnswers())) {
    throw new Error(
      `dockerd did not come back after its restart (see ${DOCKERD_LOG}); ` +
        `setup_env.sh exit ${setup.code}: ${setup.stderr.trim().split("\n").pop()}`,
    );
  }
}

/** Stops the zfs-fuse daemon (SIGTERM) and waits for it to exit. */
export async function stopZfs(): Promise<void> {
  const pid = daemonPid(ZFS_PIDFILE, "zfs-fuse");
  if (pid === undefined) throw new Error(`no zfs-fuse with pid file ${ZFS_PIDFILE}`);
  Deno.kill(pid, "SIGTERM");
  if (!(await waitFor(() => !existsSync(`/proc/${pid}`), 30_000))) {
    Deno.kill(pid, "SIGKILL");
    await waitFor(() => !existsSync(`/proc/${pid}`), 10_000);
  }
}

/** Starts the zfs-fuse daemon as setup_env.sh does and waits until it answers. */
export async function startZfs(): Promise<void> {
  if (await zfsAnswers()) return;
  // zfs-fuse refuses to start (exit 1, no message) while its pid file exists
  rmSync(ZFS_PIDFILE, { force: true });
  const r = await sh("zfs-fuse", ["-p", ZFS_PIDFILE]);
  if (r.code !== 0) throw new Error(`zfs-fuse failed to start (exit ${r.code}): ${r.stderr}`);
  if (!(await waitFor(zfsAnswers, 30_000))) {
    throw new Error("zfs-fuse does not answer 'zpool list' 30 s after its restart");
  }
}

/** fuse.zfs mountpoints from /proc/mounts (deepest first). */
function zfsMounts(): string[] {
  return readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" "))
    .filter((f) => f[2] === "fuse.zfs").map((f) =>
      f[1].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))
    ).sort().reverse();
}

/** Whether a mountpoint is dead ("Transport endpoint is not connected"). */
function stale(mountpoint: string): boolean {
  try {
    Deno.statSync(mountpoint);
    return false;
  } catch {
    return true;
  }
}

/**
 * After a zfs-fuse restart: what setup_env.sh does (unmount dead mounts, mount the
 * datasets), but only for pools that are not this test's (`keep` prefix): the test's own
 * pool is left for zvpg to recover, which is what is being tested.
 */
export async function remountOthers(keep: string, ownPool: string): Promise<void> {
  for (const m of zfsMounts()) {
    if (!m.startsWith(keep) && stale(m)) await sh("umount", ["-l", m]);
  }
  const r = await sh("zfs", ["list", "-H", "-o", "name,mounted,canmount", "-t", "filesystem"]);
  for (const line of r.stdout.split("\n").filter((l) => l !== "")) {
    const [name, mounted, canmount] = line.split("\t");
    const pool = name.split("/")[0];
    if (pool !== ownPool && mounted === "no" && canmount === "on") await sh("zfs", ["mount", name]);
  }
}

/** Lazily unmounts this test's dead mounts so its pool can be destroyed. */
export async function unmountStale(prefix: string): Promise<void> {
  for (const m of zfsMounts()) if (m.startsWith(prefix) && stale(m)) await sh("umount", ["-l", m]);
}

/** Removes podman containers of `pool` (cleanup only touches docker and the env's engine). */
export async function removePodmanContainers(env: TestEnv): Promise<void> {
  const ids = await sh("podman", ["ps", "-aq", "--filter", `label=zvpg.pool=${env.pool}`]);
  const list = ids.stdout.split("\n").filter((l) => l !== "");
  if (list.length > 0) await sh("podman", ["rm", "-f", ...list]);
}
