import assert from "node:assert/strict";
import type { ContainerInfo } from "../../src/adapters/container_runtime.ts";
import { describeDrift, findDrift, isWarning } from "../../src/domain/drift.ts";
import type { SnapshotRecord } from "../../src/domain/inventory.ts";
import { planRepairs } from "../../src/domain/repair_plan.ts";
import type { TakeOver } from "../../src/domain/datadir_adoption.ts";
import { branchRecord as branch, inventoryOf as inventory } from "./helpers.ts";

function container(name: string, branch: string, state = "running"): ContainerInfo {
  return { id: name, name, state, labels: { "zvpg.branch": branch, "zvpg.port": "6001" } };
}

const DEAD = () => false;

Deno.test("findDrift() classifies every disagreement once, warnings apart", () => {
  const inv = inventory([
    branch("ok", { state: "running", status: "running", container: container("c1", "ok") }),
    branch("gone", { state: "running", status: "missing" }),
    branch("dead", {
      state: "running",
      status: "failed",
      container: container("c2", "dead", "exited"),
    }),
    branch("half", { state: "creating", status: "creating", operationPid: 4194304 }),
    branch("busy", { state: "deleting", status: "deleting", operationPid: Deno.pid }),
    branch("elsewhere", { state: "running", status: "other-runtime", runtime: "podman" }),
  ], { orphanContainers: [container("c9", "deleted")] });
  const drift = findDrift(inv, {
    alive: (pid) => pid === Deno.pid,
    strayDirs: ["/m/sockets/x"],
  });
  assert.deepEqual(drift.map((d) => d.kind), [
    "orphan-container",
    "missing",
    "failed",
    "interrupted",
    "in-flight",
    "other-runtime",
    "stray-dir",
  ]);
  assert.deepEqual(drift.filter(isWarning).map((d) => d.kind), [
    "in-flight",
    "other-runtime",
    "stray-dir",
  ]);
  assert.deepEqual(drift.map((d) => describeDrift(d, "docker")), [
    "container c9 has no branch dataset (branch 'deleted')",
    "branch 'gone' is marked running but its container is gone",
    "branch 'dead': container c2 is exited",
    "branch 'half': an interrupted create left it half-made",
    "branch 'busy' is being deleted now",
    "branch 'elsewhere' runs under podman, not docker: manage it with podman",
    "runtime directory /m/sockets/x belongs to no branch",
  ]);
});

Deno.test("planRepairs() restarts, rolls back, removes; never touches busy or foreign work", () => {
  const dependentSnapshot: SnapshotRecord = {
    name: "s",
    zfsName: "p/clones/parent@s",
    branch: "parent",
    created: new Date(0),
    message: "",
    used: 0,
    referenced: 0,
    dependents: ["child"],
    tool: null,
    auto: false,
  };
  const inv = inventory([
    branch("main", { isDefault: true, state: "creating", status: "creating" }),
    branch("gone", { state: "running", status: "missing" }),
    branch("dead", {
      state: "running",
      status: "failed",
      container: container("c2", "dead", "exited"),
    }),
    branch("half", { state: "creating", status: "creating" }),
    branch("parent", { state: "deleting", status: "deleting" }),
    branch("holds", { state: "creating", status: "creating" }),
    branch("busy", { state: "creating", status: "creating", operationPid: Deno.pid }),
    branch("elsewhere", { state: "running", status: "other-runtime" }),
    branch("stuck", {
      state: "running",
      status: "running",
      container: container("c3", "stuck"),
    }),
    branch("remounted", { state: "running", status: "running" }),
    // a start killed after its container ran: recorded stopped, serving until the remount
    branch("remounted-started", {
      state: "stopped",
      status: "running",
      container: container("c4", "remounted-started"),
    }),
    branch("quiet", { state: "stopped", status: "stopped" }),
  ], {
    orphanContainers: [container("c9", "deleted")],
    snapshots: [dependentSnapshot],
    foreignDatasets: ["p/clones/holds/mine"],
  });
  const drift = findDrift(inv, { alive: (pid) => pid === Deno.pid, strayDirs: ["/m/s/x"] });
  const plan = planRepairs(inv, drift, {
    unusable: new Map([["stuck", "could not open file"]]),
    remounted: new Set(["remounted", "remounted-started"]),
  });
  assert.deepEqual(plan.map((s) => [s.target, s.do, s.action]), [
    ["container c9", "remove-container", "remove"],
    ["branch 'main'", "mark-stopped", "mark stopped"],
    ["branch 'gone'", "restart", "restart"],
    ["branch 'dead'", "restart", "restart"],
    ["branch 'half'", "destroy", "roll back the create"],
    ["branch 'parent'", "mark-stopped", "mark stopped"],
    ["branch 'holds'", "mark-stopped", "mark stopped"],
    ["branch 'stuck'", "restart", "restart"],
    ["branch 'remounted'", "restart", "restart"],
    ["branch 'remounted-started'", "restart", "restart"],
    ["directory /m/s/x", "remove-dir", "remove"],
  ]);
  const reasons = Object.fromEntries(plan.map((s) => [s.target, s.reason]));
  assert.equal(reasons["branch 'dead'"], "its container was exited");
  assert.equal(
    reasons["branch 'parent'"],
    "an interrupted delete left it half-deleted, and other branches depend on it",
  );
  assert.match(reasons["branch 'holds'"], /datasets zvpg did not make: p\/clones\/holds\/mine$/);
  const stuck = plan.find((s) => s.target === "branch 'stuck'");
  assert.ok(
    stuck?.do === "restart" && stuck.stopFirst,
    "a running but unusable server stops first",
  );
  assert.deepEqual(
    planRepairs(inventory([branch("quiet")]), [], {
      unusable: new Map(),
      remounted: new Set(),
    }),
    [],
  );
  assert.equal(findDrift(inventory([branch("quiet")]), { alive: DEAD, strayDirs: [] }).length, 0);
});

Deno.test("a diff/merge clone whose process died is drift that repair deletes; a live one is left", () => {
  const inv = inventory([
    branch("zvpg-tmp-1-a", { state: "running", status: "running", temporaryPid: 4194304 }),
    branch("zvpg-tmp-2-b", { state: "running", status: "running", temporaryPid: Deno.pid }),
    // a create of a temporary branch still at work in another live process
    branch("zvpg-tmp-3-c", {
      state: "creating",
      status: "creating",
      temporaryPid: 4194304,
      operationPid: Deno.pid,
    }),
  ]);
  const alive = (pid: number | null) => pid === Deno.pid;
  const drift = findDrift(inv, { alive, strayDirs: [] });
  assert.deepEqual(drift.map((d) => [d.kind, "branch" in d ? d.branch.name : ""]), [
    ["stale-temporary", "zvpg-tmp-1-a"],
    ["in-flight", "zvpg-tmp-3-c"],
  ]);
  assert.equal(isWarning(drift[0]), false);
  assert.equal(
    describeDrift(drift[0], "docker"),
    "branch 'zvpg-tmp-1-a' is a temporary clone of a diff or merge whose zvpg process is gone",
  );
  const steps = planRepairs(inv, drift, { unusable: new Map(), remounted: new Set() });
  assert.deepEqual(steps.map((s) => [s.do, s.target, s.action]), [
    ["destroy", "branch 'zvpg-tmp-1-a'", "delete"],
  ]);
});

/** A take-over of `p/legacy` recorded on `snapshot` by zvpg `pid`. */
function takeOver(snapshot: string, pid: number, readable = true): TakeOver {
  return {
    snapshot,
    pid,
    adopted: readable
      ? {
        dataset: "p/legacy",
        mountpoint: "/srv/pg",
        subdir: null,
        original: { mountpoint: "/srv/pg", atime: "on" },
        made: { datasets: ["p/clones", "p/sockets"], files: ["/etc/zvpg/pgpass"] },
      }
      : undefined,
  };
}

Deno.test("findDrift()/planRepairs(): a take-over whose zvpg died is given back, alone", () => {
  // main, half-imported on the user's dataset, and what its import left
  const inv = inventory([
    branch("main", { isDefault: true, state: "running", status: "missing" }),
  ], { orphanContainers: [container("zvpg-import-x", "main", "exited")] });
  const alive = (pid: number | null) => pid === Deno.pid;
  for (const at of ["p/data@zvpg-adopt", "p/legacy@zvpg-adopt"]) {
    const drift = findDrift(inv, {
      alive,
      strayDirs: ["/m/s/x"],
      takeOvers: [takeOver(at, 4194304)],
    });
    assert.deepEqual(drift.map((d) => d.kind), ["interrupted-take-over"], "nothing else");
    assert.equal(isWarning(drift[0]), false);
    assert.equal(
      describeDrift(drift[0], "docker"),
      "dataset p/legacy: a take-over by 'init env --from' was interrupted (its zvpg process is gone); repair will give it back as it was",
    );
    const plan = planRepairs(inv, drift, {
      unusable: new Map([["main", "down"]]),
      remounted: new Set(["main"]),
    });
    assert.deepEqual(plan.map((s) => [s.do, s.target, s.action]), [
      ["give-back", "dataset p/legacy", "give back"],
    ]);
    assert.equal(
      plan[0].reason,
      at === "p/data@zvpg-adopt"
        ? "an interrupted take-over left it renamed p/data"
        : "an interrupted take-over left p/legacy@zvpg-adopt on it",
    );
    assert.ok(plan[0].do === "give-back" && plan[0].adopted.original.atime === "on");
  }
});

Deno.test("findDrift()/planRepairs(): a live take-over is a warning; an unreadable record is left to the user", () => {
  const inv = inventory([branch("quiet")]);
  const alive = (pid: number | null) => pid === Deno.pid;
  const live = findDrift(inv, {
    alive,
    strayDirs: ["/m/s/x"],
    takeOvers: [takeOver("p/data@zvpg-adopt", Deno.pid)],
  });
  assert.deepEqual(live.map((d) => d.kind), ["take-over-in-flight", "stray-dir"]);
  assert.ok(isWarning(live[0]));
  assert.equal(
    describeDrift(live[0], "docker"),
    `dataset p/legacy is being taken over now (zvpg pid ${Deno.pid})`,
  );
  assert.deepEqual(
    planRepairs(inv, live, { unusable: new Map(), remounted: new Set() }).map((s) => s.do),
    ["remove-dir"],
  );
  const unreadable = findDrift(inv, {
    alive,
    strayDirs: [],
    takeOvers: [takeOver("p/data@zvpg-adopt", 4194304, false)],
  });
  assert.deepEqual(unreadable.map((d) => d.kind), ["interrupted-take-over"]);
  assert.match(describeDrift(unreadable[0], "docker"), /^p\/data@zvpg-adopt records .* by hand$/);
  assert.deepEqual(
    planRepairs(inv, unreadable, { unusable: new Map(), remounted: new Set() }),
    [],
  );
});
