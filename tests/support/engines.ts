/**
 * Stopping and starting the machine's services the way a package upgrade, a crash or a
 * reboot does — dockerd and the zfs-fuse daemon, started as scripts/setup_env.sh starts
 * them — for the tests that prove zvpg survives it. Only for tests declared
 * `itest(..., { disruptive: true })`: they run alone on the machine.
 *
 * @module
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { sleep } from "./fault_support.ts";
import { sh } from "./itest.ts";
import { hostMountTable, isZfsMount } from "../../src/adapters/mount_table.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
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

/**
 * Commits the pool's open transaction group (taking a snapshot of the pool's root makes
 * ZFS sync it), so what was written before is on disk whatever happens to the daemon.
 */
export async function commitTxg(pool: string): Promise<void> {
  const snapshot = `${pool}@txg-commit-${Date.now()}`;
  const made = await sh("zfs", ["snapshot", snapshot]);
  if (made.code !== 0) throw new Error(`zfs snapshot ${snapshot} failed: ${made.stderr}`);
  await sh("zfs", ["destroy", snapshot]);
}

/** Makes sure dockerd answers (after a test stopped it, whatever happened since). */
export async function restoreDockerd(): Promise<void> {
  if (!(await dockerAnswers())) await startDockerd();
}

/** Stops the zfs-fuse daemon with `signal` (SIGKILL: as a crash does) and waits for it. */
export async function killZfs(signal: Deno.Signal): Promise<void> {
  const pid = daemonPid(ZFS_PIDFILE, "zfs-fuse");
  if (pid === undefined) throw new Error(`no zfs-fuse with pid file ${ZFS_PIDFILE}`);
  Deno.kill(pid, signal);
  if (!(await waitFor(() => !existsSync(`/proc/${pid}`), 30_000))) {
    throw new Error(`zfs-fuse ${pid} did not exit after ${signal}`);
  }
}

/** ZFS mountpoints from /proc/mounts (deepest first), parsed as zvpg parses them. */
export function zfsMounts(): string[] {
  return hostMountTable.entries().filter(isZfsMount).map((e) => e.target).sort().reverse();
}
