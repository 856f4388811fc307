/**
 * What an operation that destroys snapshots (and with them the branches made from them)
 * would lose, planned before anything goes: the dependent branches, deepest first; the
 * refusal of a protected one; the datasets zvpg did not make inside what goes; the
 * snapshots someone named; the bases of pushes to remotes among the destroyed snapshots;
 * and, without `--force`, the refusal that names all of them (a base first, naming its
 * remote). `branch delete`, `branch reset` (both kinds) and `snapshot delete` plan with it;
 * the destroy step is `destroyLosses` (src/ops/branch_removal.ts), which releases the
 * bases' holds first.
 *
 * @module
 */
import type { BranchRecord, Inventory, SnapshotRecord } from "./inventory.ts";
import { foreignDatasetsIn } from "./inventory.ts";
import { assertNotProtected, type Losses, refuseLosses } from "./lifecycle.ts";
import { type RemoteBase, remoteBaseError, remoteBasesAmong } from "./remote_bases.ts";

/** What an operation loses beyond its own data, once allowed. */
export interface LossPlan extends Losses {
  /** Branches made from the destroyed snapshots (and from theirs), deepest first. */
  dependents: BranchRecord[];
  /** The destroyed snapshots someone named. */
  named: SnapshotRecord[];
  /** The snapshots the dependents' recursive destroys take with them. */
  removedSnapshots: string[];
  /** The destroyed snapshots that are bases of pushes (allowed: their holds are released). */
  remoteBases: RemoteBase[];
}

/** What {@link planLosses} is asked about. */
export interface LossRequest {
  /** The snapshots the operation destroys: the branches made from them go too. */
  snapshots: SnapshotRecord[];
  /** The branch whose whole data goes (its datasets zvpg did not make go with it). */
  branch?: BranchRecord;
  /** How a dependent is said to go, for the refusal of a protected one ("deleted with 'x'"). */
  dependentsGo: string;
  /** Refuse any loss, naming it (without `--force`): what failed and what to do. */
  refuse?: { branch: string; verb: string; hint: string };
  /**
   * Destroy the bases of pushes among the snapshots (`--force`); without it they are
   * refused, naming the snapshot and its remote, before any other loss.
   */
  releaseRemoteBases?: boolean;
}

/** Plans (and without `--force` refuses) what an operation would lose. */
export function planLosses(inventory: Inventory, request: LossRequest): LossPlan {
  const dependents = orderDependents(inventory, request.snapshots.map((s) => s.zfsName));
  for (const b of dependents) assertNotProtected(b, request.dependentsGo);
  // a recursive destroy would take datasets the user made inside these branches
  const gone = request.branch ? [...dependents, request.branch] : dependents;
  const foreign = gone.flatMap((b) => foreignDatasetsIn(inventory, b));
  const named = request.snapshots.filter((s) => !s.auto);
  // every snapshot destroyed: the requested ones and those of the branches that go
  const goneNames = new Set(gone.map((b) => b.name));
  const remoteBases = remoteBasesAmong([
    ...request.snapshots,
    ...inventory.snapshots.filter((s) => goneNames.has(s.branch) && !request.snapshots.includes(s)),
  ]);
  if (remoteBases.length > 0 && !request.releaseRemoteBases) throw remoteBaseError(remoteBases);
  if (request.refuse) {
    const { branch, verb, hint } = request.refuse;
    refuseLosses(branch, verb, { named, dependents, foreign }, { hint });
  }
  return {
    dependents,
    named,
    foreign,
    removedSnapshots: snapshotNamesOf(inventory, dependents),
    remoteBases,
  };
}

/**
 * Branches cloned from any of `snapshotZfsNames`, and recursively from their snapshots,
 * deepest first (so each can be destroyed in turn).
 */
export function orderDependents(inventory: Inventory, snapshotZfsNames: string[]): BranchRecord[] {
  const ordered: BranchRecord[] = [];
  const seen = new Set<string>();
  const visit = (zfsNames: string[]) => {
    for (const zfsName of zfsNames) {
      const snapshot = inventory.snapshots.find((s) => s.zfsName === zfsName);
      for (const dependent of snapshot?.dependents ?? []) {
        if (seen.has(dependent)) continue;
        seen.add(dependent);
        const branch = inventory.branches.find((b) => b.name === dependent);
        if (!branch) continue;
        visit(snapshotsOf(inventory, branch));
        ordered.push(branch);
      }
    }
  };
  visit(snapshotZfsNames);
  return ordered;
}

/** The names of the snapshots of `branches`: a recursive destroy of them takes these too. */
export function snapshotNamesOf(inventory: Inventory, branches: BranchRecord[]): string[] {
  const names = new Set(branches.map((b) => b.name));
  return inventory.snapshots.filter((s) => names.has(s.branch)).map((s) => s.name);
}

/** The ZFS names of a branch's snapshots. */
export function snapshotsOf(inventory: Inventory, branch: BranchRecord): string[] {
  return inventory.snapshots.filter((s) => s.branch === branch.name).map((s) => s.zfsName);
}
