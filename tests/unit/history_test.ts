import assert from "node:assert/strict";
import { buildHistory } from "../../src/domain/history.ts";
import type { BranchRecord, SnapshotRecord } from "../../src/domain/inventory.ts";
import { graphLines } from "../../src/cli/log_graph.ts";
import { BranchNotFoundError } from "../../src/errors.ts";

function snap(branch: string, name: string, hour: number, dependents: string[] = []) {
  const dataset = branch === "main" ? "p/data" : `p/clones/${branch}`;
  return {
    name,
    zfsName: `${dataset}@${name}`,
    branch,
    created: new Date(Date.UTC(2026, 10, 24, hour)),
    message: `m ${name}`,
    used: 0,
    referenced: 0,
    dependents,
    tool: null,
    auto: false,
  } satisfies SnapshotRecord;
}

function branch(name: string, hour: number, parent: string | null = "main"): BranchRecord {
  return {
    name,
    dataset: name === "main" ? "p/data" : `p/clones/${name}`,
    mountpoint: "",
    parent: name === "main" ? null : parent,
    origin: null,
    created: new Date(Date.UTC(2026, 10, 24, hour)),
    used: 0,
    referenced: 0,
    usedByDataset: 0,
    usedBySnapshots: 0,
    written: null,
    state: "running",
    operationPid: null,
    status: "running",
    port: null,
    lastPort: null,
    runtime: null,
    container: null,
    isDefault: name === "main",
  };
}

// main: s1 (a forks) -> s2 (b forks); a: a1; b: none
const INVENTORY = {
  branches: [branch("main", 0), branch("a", 2), branch("b", 4)],
  snapshots: [snap("main", "s1", 1, ["a"]), snap("a", "a1", 3), snap("main", "s2", 5, ["b"])],
};

function links(only?: string): string[] {
  return buildHistory(INVENTORY, only).map((n) => `${n.kind}:${n.name}<-${n.parent ?? "root"}`);
}

Deno.test("buildHistory: snapshots chain per branch, a branch's first node hangs off its fork point", () => {
  assert.deepEqual(links(), [
    "branch:main<-p/data@s2",
    "branch:b<-p/data@s2",
    "snapshot:s2<-p/data@s1",
    "branch:a<-p/clones/a@a1",
    "snapshot:a1<-p/data@s1",
    "snapshot:s1<-root",
  ]);
});

Deno.test("buildHistory: every node comes before the node it came from", () => {
  const nodes = buildHistory(INVENTORY);
  const position = new Map(nodes.map((n, i) => [n.id, i]));
  for (const n of nodes) if (n.parent) assert.ok(position.get(n.parent)! > position.get(n.id)!);
});

Deno.test("buildHistory <branch>: only its head and its ancestry", () => {
  assert.deepEqual(links("a"), [
    "branch:a<-p/clones/a@a1",
    "snapshot:a1<-p/data@s1",
    "snapshot:s1<-root",
  ]);
  assert.throws(() => buildHistory(INVENTORY, "nope"), BranchNotFoundError);
});

Deno.test("buildHistory: a branch with no snapshots and no origin is a root of its own", () => {
  const nodes = buildHistory({ branches: [branch("main", 0)], snapshots: [] });
  assert.deepEqual(nodes.map((n) => [n.name, n.parent]), [["main", null]]);
});

/** Snapshot `name` pulled from remote `origin`'s branch main (`origin/<name>`). */
function pulledSnap(name: string, hour: number, dependents: string[] = []): SnapshotRecord {
  return {
    ...snap("main", name, hour, dependents),
    name: `origin/${name}`,
    zfsName: `p/remotes/origin/main@${name}`,
    branch: "origin/main",
    remote: "origin",
  };
}

// origin/main: r1 -> r2 (c forks); main: s1
const WITH_PULLED = {
  branches: [branch("main", 0), branch("c", 9, "origin/main")],
  snapshots: [snap("main", "s1", 1)],
  tracking: [pulledSnap("r1", 6), pulledSnap("r2", 7, ["c"])],
};

Deno.test("buildHistory: pulled snapshots chain per remote-tracking dataset, a branch forks from one", () => {
  const linked = (only?: string) =>
    buildHistory(WITH_PULLED, only).map((n) => `${n.kind}:${n.name}<-${n.parent ?? "root"}`);
  assert.deepEqual(linked(), [
    "branch:c<-p/remotes/origin/main@r2",
    "snapshot:origin/r2<-p/remotes/origin/main@r1",
    "snapshot:origin/r1<-root",
    "branch:main<-p/data@s1",
    "snapshot:s1<-root",
  ]);
  assert.deepEqual(linked("origin/main"), [
    "snapshot:origin/r2<-p/remotes/origin/main@r1",
    "snapshot:origin/r1<-root",
  ]);
  assert.deepEqual(linked("c").map((l) => l.split("<-")[0]), [
    "branch:c",
    "snapshot:origin/r2",
    "snapshot:origin/r1",
  ]);
  assert.throws(() => buildHistory(WITH_PULLED, "origin/dev"), BranchNotFoundError);
});

Deno.test("graphLines: lanes fork and join like git log --graph", () => {
  const nodes = buildHistory(INVENTORY);
  const text = graphLines(nodes).map((l) =>
    `${l.graph}${l.node === null ? "" : ` ${nodes[l.node].name}`}`
  );
  assert.deepEqual(text, [
    "* main",
    "| * b",
    "|/",
    "* s2",
    "| * a",
    "| * a1",
    "|/",
    "* s1",
  ]);
});

Deno.test("graphLines: three lanes joining one node, and a lane ending on the left", () => {
  const nodes = [
    { id: "x", parent: "r" },
    { id: "y", parent: "r" },
    { id: "z", parent: "r" },
    { id: "r", parent: null },
  ];
  assert.deepEqual(graphLines(nodes).map((l) => l.graph), [
    "*",
    "| *",
    "| | *",
    "| |/",
    "|/",
    "*",
  ]);
  const roots = [{ id: "a", parent: null }, { id: "b", parent: null }];
  assert.deepEqual(graphLines(roots).map((l) => l.graph), ["*", "*"]);
});
