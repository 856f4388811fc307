/**
 * The history graph `zvpg log` shows: snapshots and branch heads, each linked to the node
 * it came from, built from the inventory alone (pure).
 *
 * Invariants:
 * - a snapshot's parent is the snapshot taken before it on the same branch, or, for a
 *   branch's first snapshot, the snapshot the branch was cloned from (where it forked);
 * - a branch head (the branch's current state) hangs off its latest snapshot, or off its
 *   origin when it has none; the default branch's first snapshot is the root;
 * - nodes come children first (a node before the one it came from), newest first among
 *   those ready, as `git log --graph` orders commits;
 * - a snapshot pulled from a remote (when the inventory holds them) is a node
 *   `<remote>/<name>` of branch `<remote>/<branch>`, after the one pulled before it into
 *   the same remote-tracking dataset (its first one is a root); such a branch has no
 *   head: nothing runs on it, as nothing is checked out on a git remote-tracking branch.
 *
 * @module
 */
import type { BranchRecord, Inventory, SnapshotRecord } from "./inventory.ts";
import { findBranch } from "./inventory.ts";

/** One node of the history. */
export type HistoryNode =
  & {
    /** Unique: a snapshot's full ZFS name, a branch's dataset. */
    id: string;
    /** The snapshot or branch name. */
    name: string;
    /** The branch it belongs to. */
    branch: string;
    /** A snapshot's time, a branch's creation. */
    time: Date;
    /** The node it came from; null for a root. */
    parent: string | null;
  }
  & (
    | { kind: "snapshot"; snapshot: SnapshotRecord }
    | { kind: "branch"; record: BranchRecord; origin: SnapshotRecord | null }
  );

/**
 * The history of the pool, or with `only`, of that branch: its head and everything it
 * came from (throws {@link BranchNotFoundError} for an unknown branch).
 */
export function buildHistory(
  inventory: Pick<Inventory, "branches" | "snapshots" | "tracking">,
  only?: string,
): HistoryNode[] {
  const nodes = historyNodes(inventory);
  const kept = only === undefined ? nodes : ancestry(nodes, headOf(inventory, only));
  return childrenFirst(kept, [...inventory.snapshots, ...inventory.tracking ?? []]);
}

/**
 * The id of the newest node of branch `name`: a branch of this pool's head, else a
 * remote-tracking branch's latest snapshot (a branch of this pool comes first, as git
 * takes refs/heads before refs/remotes). Throws {@link BranchNotFoundError}.
 */
function headOf(inventory: Pick<Inventory, "branches" | "tracking">, name: string): string {
  const latest = (inventory.tracking ?? []).findLast((s) => s.branch === name);
  if (latest && !inventory.branches.some((b) => b.name === name)) return latest.zfsName;
  return findBranch(inventory, name).dataset;
}

/** Every node with its parent link. */
function historyNodes(
  inventory: Pick<Inventory, "branches" | "snapshots" | "tracking">,
): HistoryNode[] {
  const tracking = inventory.tracking ?? [];
  const originOf = new Map<string, SnapshotRecord>();
  for (const s of [...inventory.snapshots, ...tracking]) {
    for (const d of s.dependents) originOf.set(d, s);
  }
  const nodes: HistoryNode[] = trackedNodes(tracking);
  for (const b of inventory.branches) {
    const origin = originOf.get(b.name) ?? null;
    // the inventory lists snapshots oldest first (by transaction group)
    let previous = origin?.zfsName ?? null;
    for (const s of inventory.snapshots.filter((s) => s.branch === b.name)) {
      nodes.push({
        kind: "snapshot",
        id: s.zfsName,
        name: s.name,
        branch: b.name,
        time: s.created,
        parent: previous,
        snapshot: s,
      });
      previous = s.zfsName;
    }
    nodes.push({
      kind: "branch",
      id: b.dataset,
      name: b.name,
      branch: b.name,
      time: b.created,
      parent: previous,
      record: b,
      origin,
    });
  }
  return nodes;
}

/**
 * The nodes of the remote-tracking snapshots (oldest first per remote): each after the
 * one received before it into the same dataset.
 */
function trackedNodes(tracking: SnapshotRecord[]): HistoryNode[] {
  const previous = new Map<string, string>();
  return tracking.map((s) => {
    const dataset = s.zfsName.split("@")[0];
    const parent = previous.get(dataset) ?? null;
    previous.set(dataset, s.zfsName);
    return {
      kind: "snapshot",
      id: s.zfsName,
      name: s.name,
      branch: s.branch,
      time: s.created,
      parent,
      snapshot: s,
    };
  });
}

/** The node `id` and every node it came from. */
function ancestry(nodes: HistoryNode[], id: string): HistoryNode[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const kept = new Set<string>();
  for (let n = byId.get(id); n && !kept.has(n.id); n = n.parent ? byId.get(n.parent) : undefined) {
    kept.add(n.id);
  }
  return nodes.filter((n) => kept.has(n.id));
}

/**
 * Orders nodes so that every node comes before its parent, picking among the ready ones
 * the newest (a head by its latest activity), then the default branch, then the later
 * snapshot, then by name.
 */
function childrenFirst(nodes: HistoryNode[], snapshots: SnapshotRecord[]): HistoryNode[] {
  const order = new Map(snapshots.map((s, i) => [s.zfsName, i]));
  const children = new Map<string, number>();
  for (const n of nodes) if (n.parent) children.set(n.parent, (children.get(n.parent) ?? 0) + 1);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const activity = (n: HistoryNode): number => {
    if (n.kind === "snapshot" || !n.parent) return n.time.getTime();
    return Math.max(n.time.getTime(), byId.get(n.parent)?.time.getTime() ?? 0);
  };
  const isDefault = (n: HistoryNode) => n.kind === "branch" && n.record.isDefault;
  const before = (a: HistoryNode, b: HistoryNode): number =>
    activity(b) - activity(a) || Number(isDefault(b)) - Number(isDefault(a)) ||
    Number(b.kind === "branch") - Number(a.kind === "branch") ||
    (order.get(b.id) ?? -1) - (order.get(a.id) ?? -1) || a.name.localeCompare(b.name);
  const ready = nodes.filter((n) => !children.has(n.id));
  const out: HistoryNode[] = [];
  while (ready.length > 0) {
    ready.sort(before);
    const next = ready.shift()!;
    out.push(next);
    if (!next.parent || !byId.has(next.parent)) continue;
    const left = children.get(next.parent)! - 1;
    children.set(next.parent, left);
    if (left === 0) ready.push(byId.get(next.parent)!);
  }
  return out;
}
