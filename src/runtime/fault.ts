/**
 * Fault points for crash and race tests, switched on by environment variables:
 *
 * - `ZVPG_FAULT=<step>`: zvpg kills itself with SIGKILL (like `kill -9`) at that step.
 * - `ZVPG_FAULT_DELAY=<step>:<ms>`: zvpg pauses that long at that step, so a test can
 *   act in between (take a port, stop the engine).
 *
 * Steps: branch.create.after-clone, container.before-run, container.after-run,
 * branch.create.before-mark-running, branch.create.recovering,
 * branch.create.before-pitr-restart, branch.stop.after-mark, branch.delete.after-mark,
 * branch.delete.after-stop, branch.delete.after-destroy, snapshot.before-zfs,
 * snapshot.delete.before-destroy, branch.reset.after-mark, branch.reset.after-clone,
 * branch.reset.mid-swap, branch.reset.after-swap, branch.reset.after-destroy-old,
 * branch.reset.before-rollback, branch.reset.after-rollback,
 * branch.diff.after-temporary, branch.merge.before-proof, branch.merge.before-apply,
 * import.after-preflight, import.adopt.after-snapshot, import.adopt.after-rename,
 * import.adopt.after-set, import.adopt.after-mount, import.adopt.after-move,
 * import.after-adopt, import.after-load, import.after-start, import.after-snapshot,
 * import.give-back.after-rename, remote.base.after-hold, push.after-stream,
 * pull.after-receive, remote.remove.after-destroy, clone.after-receive, clone.after-start.
 *
 * @module
 */
import { log } from "./log.ts";

/** Every fault point zvpg has (for tests and documentation). */
export const FAULT_POINTS = [
  "branch.create.after-clone",
  "container.before-run",
  "container.after-run",
  "branch.create.before-mark-running",
  "branch.create.recovering",
  "branch.create.before-pitr-restart",
  "branch.stop.after-mark",
  "branch.delete.after-mark",
  "branch.delete.after-stop",
  "branch.delete.after-destroy",
  "snapshot.before-zfs",
  "snapshot.delete.before-destroy",
  "branch.reset.after-mark",
  "branch.reset.after-clone",
  "branch.reset.mid-swap",
  "branch.reset.after-swap",
  "branch.reset.after-destroy-old",
  "branch.reset.before-rollback",
  "branch.reset.after-rollback",
  "branch.diff.after-temporary",
  "branch.merge.before-proof",
  "branch.merge.before-apply",
  "import.after-preflight",
  "import.adopt.after-snapshot",
  "import.adopt.after-rename",
  "import.adopt.after-set",
  "import.adopt.after-mount",
  "import.adopt.after-move",
  "import.after-adopt",
  "import.after-load",
  "mask.after-mask",
  "import.after-start",
  "import.after-snapshot",
  "import.give-back.after-rename",
  "remote.base.after-hold",
  "push.after-stream",
  "pull.after-receive",
  "remote.remove.after-destroy",
  "clone.after-receive",
  "clone.after-start",
] as const;

/** Dies like `kill -9` when `ZVPG_FAULT` names this step; pauses per `ZVPG_FAULT_DELAY`. */
export function faultPoint(step: typeof FAULT_POINTS[number]): void {
  const delay = Deno.env.get("ZVPG_FAULT_DELAY");
  if (delay) {
    const [name, ms] = delay.split(":");
    if (name === step) {
      log.warn(`fault point '${step}': pausing ${ms} ms (ZVPG_FAULT_DELAY)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(ms));
    }
  }
  if (Deno.env.get("ZVPG_FAULT") !== step) return;
  log.warn(`fault point '${step}' reached: killing zvpg (ZVPG_FAULT)`);
  Deno.kill(Deno.pid, "SIGKILL");
}
