/**
 * The randomized chaos suite of issue 11. Random sequences of branch create, start,
 * stop, delete, snapshot, snapshot delete, reset (to its origin, `--to` a snapshot,
 * `--parent`, sometimes `--force`) and writes run through the real CLI, with
 * random faults: SIGKILL at zvpg's fault points, a terminal's Ctrl-C (SIGINT to zvpg and
 * its children), a branch container killed or removed by hand, a branch's server stopped
 * inside its container by hand (its supervisor signalled, as a reset does; half the time
 * the branch is then reset at once), a runtime override
 * (`ZVPG_CONTAINER_RUNTIME=podman` on a docker pool) and, with ZVPG_CHAOS_DISRUPTIVE=1,
 * dockerd and the zfs-fuse daemon restarted. After every step (and one
 * `status health --repair` after a fault) it checks: at most one server per dataset
 * across docker, podman and the host; every reported port is served by its branch;
 * committed rows are in every branch made after them; health passes with no orphan
 * dataset, snapshot, container or runtime dir; every branch that ran before a dockerd
 * restart runs again by itself, before a zfs-fuse restart after the repair; the clones
 * and sockets datasets are mounted while any branch dataset is; nothing of
 * zvpg's is readable by other uids and uid 65534 cannot log in anywhere. A reset keeps its branch's port and running
 * state, holds its target's rows afterwards, and is refused (exit 1, nothing changed)
 * when it would throw away named snapshots or branches made from them without --force;
 * killed, it is undone (or, past its point of no return, finished), interrupted, either.
 * When a step leaves something for the repair (a reset killed with its server stopped
 * inside its container), servers, ports, rows, perms and login are checked before the
 * repair too.
 *
 * It prints `chaos seed: N` first; a failure prints the seed, the replay command, every
 * step so far and the broken invariant with its evidence.
 *
 * Environment:
 * - `ZVPG_CHAOS_SEED=N`       replay a run (the same choices while outcomes are the same)
 * - `ZVPG_CHAOS_SECONDS=S`    no step starts after S seconds (default 150; the step under
 *                             way and set-up/teardown add about a minute)
 * - `ZVPG_CHAOS_STEPS=N`      step bound (default 400)
 * - `ZVPG_CHAOS_DISRUPTIVE=1` also restart dockerd and zfs-fuse (CI sets it); the test is
 *                             then declared disruptive and runs alone on the machine
 * - `ZVPG_CHAOS_SKIP=a,b`     DEV RUNS ONLY (CI never sets it): invariants or faults not
 *                             checked or injected. Invariants: servers, ports, stale-port,
 *                             rows, health, orphans, perms, login, lost, exit-code,
 *                             engine-down, restart-survival, hang, unasked, observable,
 *                             kept, expected, mounts.
 *                             Faults: kill, sigint, container-kill, container-rm,
 *                             supervisor-pause, override,
 *                             engine-restart, zfs-restart.
 * - `ZVPG_CHAOS_KEEP_GOING=1` DEV RUNS ONLY: record violations and go on, fail at the end
 * - `ZVPG_CHAOS_FOCUS=a,b`    DEV RUNS ONLY: these operations are chosen 4 times as often
 *                             (create, start, stop, delete, snapshot, snapshot-delete,
 *                             reset, write)
 *
 * @module
 */
import assert from "node:assert/strict";
import { itest, sh, TEST_IMAGE } from "../support/itest.ts";
import { chaosOptions, ChaosRun, restoreServices } from "../support/chaos/chaos.ts";
import { removePodmanContainers, unmountStale } from "../support/chaos/faults.ts";
import { type BranchJson, Model } from "../support/chaos/model.ts";
import { RESET_DONE_POINTS, resetFaultPoints } from "../support/chaos/faults.ts";
import { chaosSeed, Prng } from "../support/chaos/prng.ts";

const seed = chaosSeed();
const options = chaosOptions(seed);

itest(
  `chaos: random operations and faults keep every invariant (seed ${seed})`,
  async (env) => {
    console.log(`chaos seed: ${seed}`);
    if (!options.skip.has("override")) {
      const podman = await sh("podman", ["image", "exists", TEST_IMAGE]).catch(() => undefined);
      if (!podman || podman.code !== 0) {
        throw new Error(
          `podman or its image ${TEST_IMAGE} is missing (the runtime-override fault needs ` +
            "it): run 'bash scripts/setup_env.sh'",
        );
      }
    }
    const run = new ChaosRun(env, options);
    console.log(`chaos replay: ${run.replay}`);
    let failure: unknown;
    try {
      await run.run();
    } catch (e) {
      failure = e;
    }
    // dockerd and zfs-fuse serve every test on this machine: bring them back first
    const restored = await restoreServices().then(() => undefined, (e: Error) => e);
    await removePodmanContainers(env);
    await unmountStale(env.base);
    if (restored) {
      throw new Error(
        `could not restore the machine's services: ${restored.message}` +
          (failure ? `\n${(failure as Error).message}` : ""),
      );
    }
    if (failure) throw failure;
  },
  { config: { readyTimeoutSeconds: 30 }, disruptive: options.disruptive },
);

Deno.test("chaos: one seed gives one sequence of choices (replayable)", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const seqA = Array.from({ length: 50 }, () => a.int(0, 1000));
  const seqB = Array.from({ length: 50 }, () => b.int(0, 1000));
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, Array.from({ length: 50 }, () => new Prng(43).int(0, 1000)));
  const c = new Prng(1);
  for (let i = 0; i < 1000; i++) {
    const x = c.int(3, 5);
    assert.ok(x >= 3 && x <= 5, `${x}`);
  }
});

Deno.test("chaos: a delete may remove the branch's snapshots and what was made from them", () => {
  const model = new Model("main");
  model.addSnapshot("s1", "main");
  model.addBranch("a", "s1", "main");
  model.addSnapshot("s2", "a");
  model.addBranch("b", "s2", "a");
  const listing = [
    { name: "a", origin: "s1" },
    { name: "b", origin: "s2" },
  ] as BranchJson[];
  const gone = model.closure(["a"], [], listing);
  assert.deepEqual([...gone.branches].sort(), ["a", "b"]);
  assert.deepEqual([...gone.snapshots].sort(), ["s2"]);
  const fromSnapshot = model.closure([], ["s1"], listing);
  assert.deepEqual([...fromSnapshot.branches].sort(), ["a", "b"]);
});

Deno.test("chaos: an interrupted reset leaves its branch in either state until its data shows which", () => {
  const model = new Model("main");
  model.branches.get("main")!.marker = "main";
  model.addRow("main", "r1");
  model.addSnapshot("s1", "main");
  model.addBranch("a", "s1", "main");
  model.branches.get("a")!.marker = "a";
  model.addRow("a", "r2");
  const before = model.statesOf("a");
  model.setStates("a", [...before, model.snapshotState("s1")!]);
  const a = model.branches.get("a")!;
  // only what both hold is checked meanwhile; the marker is unknown
  assert.deepEqual([...a.rows], ["r1"]);
  assert.equal(a.marker, "");
  // a snapshot taken meanwhile holds what both hold; a row written lands in both
  model.addSnapshot("s2", "a");
  assert.deepEqual([...model.snapshots.get("s2")!.rows], ["r1"]);
  model.addRow("a", "r3");
  // the database shows the reset: marker of s1's branch, without r2
  assert.ok(model.resolve("a", { marker: "main", rows: new Set(["r1", "r3"]) }));
  assert.equal(a.marker, "main");
  assert.deepEqual([...a.rows].sort(), ["r1", "r3"]);
  assert.equal(a.candidates, undefined);
  // neither state: a finding, and the branch stays as it was
  model.setStates("a", [{ rows: new Set(["r9"]), marker: "a" }, {
    rows: new Set(),
    marker: "main",
  }]);
  assert.equal(model.resolve("a", { marker: "b", rows: new Set() }), false);
  assert.equal(model.branches.get("a")!.candidates?.length, 2);
});

Deno.test("chaos: a reset is killed at the fault points of the path it takes", () => {
  assert.deepEqual(resetFaultPoints(true, true), [
    "branch.reset.before-rollback",
    "branch.reset.after-rollback",
  ]);
  const swap = resetFaultPoints(false, true);
  assert.ok(swap.includes("branch.reset.mid-swap") && swap.includes("container.before-run"));
  assert.ok(!swap.some((p) => p.includes("rollback")));
  assert.ok(!resetFaultPoints(false, false).some((p) => p.startsWith("container.")));
  for (const p of RESET_DONE_POINTS) {
    assert.ok([...swap, "branch.reset.after-rollback"].includes(p));
  }
});

Deno.test("chaos: a reset in place leaves out the rows committed after its target", () => {
  const model = new Model("main");
  model.branches.get("main")!.marker = "main";
  model.addRow("main", "r1");
  model.addSnapshot("s1", "main");
  model.addRow("main", "r2");
  const before = model.statesOf("main");
  model.setStates("main", [model.snapshotState("s1")!]);
  model.resetInPlace("main", before, "s1");
  assert.deepEqual([...model.branches.get("main")!.absent!], ["r2"]);
  // a later state change forgets it; a snapshot taken in doubt is no ground for it
  model.setStates("main", [...model.statesOf("main"), { rows: new Set(["r2"]), marker: "x" }]);
  assert.equal(model.branches.get("main")!.absent, undefined);
  model.addSnapshot("s2", "main");
  model.resetInPlace("main", [{ rows: new Set(["r1", "r5"]), marker: "main" }], "s2");
  assert.equal(model.branches.get("main")!.absent, undefined);
});
