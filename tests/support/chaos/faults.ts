/**
 * Faults the chaos suite injects from outside zvpg: a branch container killed or removed
 * by hand, and (disruptive, only when the test holds the machine alone) the container
 * engine or the zfs-fuse daemon restarted the way setup_env.sh starts them.
 *
 * @module
 */
import { FAULT_POINTS } from "../../../src/runtime/fault.ts";
import { sh, type TestEnv } from "../itest.ts";
import { zfsMounts } from "../engines.ts";
import { findSupervisor } from "../../../src/ops/server_control.ts";
import { processesIn } from "../../../src/ops/data_holders.ts";

/** Names of the faults (for ZVPG_CHAOS_SKIP and reports). */
export const FAULTS = [
  "kill",
  "sigint",
  "container-kill",
  "container-rm",
  "supervisor-pause",
  "override",
  "engine-restart",
  "zfs-restart",
] as const;
export type Fault = typeof FAULTS[number];

/** The faults that restart a machine-wide service (need `disruptive: true`). */
export const DISRUPTIVE_FAULTS: readonly Fault[] = ["engine-restart", "zfs-restart"];

/** Fault points (from src/runtime/fault.ts) an operation passes, by name prefix. */
export function faultPointsOf(op: string): string[] {
  const prefixes: Record<string, string[]> = {
    create: ["branch.create.", "container."],
    start: ["container."],
    stop: ["branch.stop."],
    delete: ["branch.delete."],
    snapshot: ["snapshot.before", "snapshot.create."],
    "snapshot-delete": ["snapshot.delete."],
    reset: ["branch.reset.", "container."],
  };
  const wanted = prefixes[op] ?? [];
  return FAULT_POINTS.filter((p) => wanted.some((w) => p.startsWith(w)));
}

/**
 * The reset fault points past its point of no return: a reset killed there is finished
 * (by `status health --repair`); killed at any other one it is undone (data as before).
 */
export const RESET_DONE_POINTS: readonly string[] = [
  "branch.reset.after-rollback",
  "branch.reset.after-destroy-old",
];

/**
 * The fault points a reset passes on each of its paths: a rollback in place (to the
 * origin or one of its own snapshots) and a clone swap (`--to` another snapshot,
 * `--parent`), which starts a running branch's container again.
 */
export function resetFaultPoints(inPlace: boolean, running: boolean): string[] {
  if (inPlace) return ["branch.reset.before-rollback", "branch.reset.after-rollback"];
  return faultPointsOf("reset").filter((p) =>
    p.startsWith("branch.reset.") ? !p.includes("rollback") : running
  );
}

/**
 * Stops a branch's server inside its running container the way a reset does, by hand:
 * SIGUSR1 to its supervisor, which then waits (the container runs on, serving nothing).
 * Returns what happened, for the step's line.
 */
export async function pauseSupervisor(pgdata: string): Promise<string> {
  const supervisor = findSupervisor(pgdata);
  if (supervisor === undefined) return "no supervisor found";
  Deno.kill(supervisor, "SIGUSR1");
  const deadline = Date.now() + 10_000;
  while (processesIn(pgdata).length > 0) {
    if (Date.now() > deadline) return `supervisor ${supervisor} signalled, server still up`;
    await new Promise((r) => setTimeout(r, 50));
  }
  return `supervisor ${supervisor} paused`;
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
