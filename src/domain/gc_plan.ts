/**
 * What `zvpg gc` removes, planned from the inventory before anything acts (pure, so each
 * decision is unit-tested): expired branches, and automatic snapshots (`zvpg:auto`) nothing
 * depends on any more (such as the one a killed create left behind).
 *
 * Invariants: never the default branch, a protected branch (or its snapshots), a branch
 * others depend on, a branch holding snapshots someone named or datasets zvpg did not
 * make, the base of the next push to a remote (nor the branch holding it: see
 * src/domain/remote_bases.ts), nor anything while a create, delete or reset is
 * unfinished on it. Branches are
 * listed in an order that never destroys an origin before its clones.
 *
 * @module
 */
import { isExpired } from "./duration.ts";
import {
  type BranchRecord,
  foreignDatasetsIn,
  type Inventory,
  type SnapshotRecord,
} from "./inventory.ts";
import { isInFlight } from "./lifecycle.ts";
import { baseOfPushes, remoteBasesAmong } from "./remote_bases.ts";

/** Something gc leaves, and why. */
export interface GcSkip {
  kind: "branch" | "snapshot";
  name: string;
  reason: string;
  /** The remotes whose next push goes on from it (or from a snapshot of the branch). */
  remotes?: string[];
}

/** What gc does. */
export interface GcPlan {
  /** Expired branches to delete, in a safe order (clones before their origins). */
  branches: BranchRecord[];
  /** Automatic snapshots to destroy once those branches are gone. */
  snapshots: SnapshotRecord[];
  skipped: GcSkip[];
}

/** Plans a gc at `now` (pure). */
export function planGc(inventory: Inventory, now: Date): GcPlan {
  const skipped: GcSkip[] = [];
  const expired = inventory.branches.filter((b) => isExpired(b.expiresAt, now));
  const candidates: BranchRecord[] = [];
  for (const b of expired) {
    const skip = branchSkip(inventory, b);
    if (skip) skipped.push(skip);
    else candidates.push(b);
  }
  // a branch goes once every branch made from its snapshots goes too (deepest first)
  const removed: BranchRecord[] = [];
  const gone = new Set<string>();
  for (let progress = true; progress;) {
    progress = false;
    for (const b of candidates) {
      if (gone.has(b.name) || dependentsOf(inventory, b).some((d) => !gone.has(d))) continue;
      removed.push(b);
      gone.add(b.name);
      progress = true;
    }
  }
  for (const b of candidates) {
    if (gone.has(b.name)) continue;
    const kept = dependentsOf(inventory, b).filter((d) => !gone.has(d));
    skipped.push({
      kind: "branch",
      name: b.name,
      reason: `branch(es) ${kept.map((d) => `'${d}'`).join(", ")} depend on its snapshots`,
    });
  }
  return { branches: removed, snapshots: unusedAutoSnapshots(inventory, gone, skipped), skipped };
}

/** Why an expired branch is never removed, whatever else goes (a base of pushes first). */
function branchSkip(inventory: Inventory, b: BranchRecord): GcSkip | undefined {
  const [base] = remoteBasesAmong(inventory.snapshots.filter((s) => s.branch === b.name));
  if (base) {
    const reason = `its snapshot '${base.name}' is ${baseOfPushes(base.remotes)}`;
    return { kind: "branch", name: b.name, reason, remotes: base.remotes };
  }
  const reason = fixedRefusal(inventory, b);
  return reason === undefined ? undefined : { kind: "branch", name: b.name, reason };
}

/** Why an expired branch is never removed, whatever else goes. */
function fixedRefusal(inventory: Inventory, b: BranchRecord): string | undefined {
  if (b.isDefault) return "it is the default branch";
  if (b.protected) return "it is protected";
  if (isInFlight(b)) {
    const op =
      ({ creating: "create", deleting: "delete", resetting: "reset" } as Record<string, string>)[
        b.state
      ];
    return `a ${op} is unfinished on it (run 'zvpg status health --repair')`;
  }
  if (b.status === "other-runtime") return `it runs under ${b.runtime}`;
  const named = inventory.snapshots.filter((s) => s.branch === b.name && !s.auto);
  if (named.length > 0) {
    return `it holds named snapshot(s) ${named.map((s) => `'${s.name}'`).join(", ")}`;
  }
  const foreign = foreignDatasetsIn(inventory, b);
  if (foreign.length > 0) return `it holds datasets zvpg did not make: ${foreign.join(", ")}`;
  return undefined;
}

/** Branches cloned from `b`'s snapshots. */
function dependentsOf(inventory: Inventory, b: BranchRecord): string[] {
  return inventory.snapshots.filter((s) => s.branch === b.name).flatMap((s) => s.dependents);
}

/**
 * Automatic snapshots of branches that stay, with no dependent left once `gone` are
 * deleted. While any create, delete or reset is unfinished none is touched: its half-made
 * clone may be the one depending on it.
 */
function unusedAutoSnapshots(
  inventory: Inventory,
  gone: Set<string>,
  skipped: GcSkip[],
): SnapshotRecord[] {
  const unused = inventory.snapshots.filter((s) =>
    s.auto && !gone.has(s.branch) && s.dependents.every((d) => gone.has(d))
  );
  const unfinished = inventory.branches.some(isInFlight) || (inventory.resetParts ?? []).length > 0;
  const protectedBranches = new Set(
    inventory.branches.filter((b) => b.protected).map((b) => b.name),
  );
  return unused.filter((s) => {
    if (s.remotes?.length) {
      const { name, remotes } = s;
      skipped.push({ kind: "snapshot", name, reason: `it is ${baseOfPushes(remotes)}`, remotes });
      return false;
    }
    const reason = unfinished
      ? "an operation is unfinished: run 'zvpg status health --repair' first"
      : protectedBranches.has(s.branch)
      ? `branch '${s.branch}' is protected`
      : undefined;
    if (reason) skipped.push({ kind: "snapshot", name: s.name, reason });
    return reason === undefined;
  });
}
