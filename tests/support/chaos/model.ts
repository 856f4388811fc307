/**
 * What the chaos suite believes about the system, updated only from command results:
 * the branches and snapshots that exist, the rows each must contain and the marker each
 * branch's database carries (`chaos_marker.branch`, the name of the branch it is).
 *
 * @module
 */

import type { BranchJson, SnapshotJson } from "../../../src/cli/views.ts";
/** Branches and snapshots as `branch list` and `snapshot list -f json` print them. */
export type { BranchJson, SnapshotJson };

/** A branch the suite knows. */
export interface ModelBranch {
  name: string;
  /** Rows committed in this branch (itself or before the snapshot it was made from). */
  rows: Set<string>;
  /**
   * What `chaos_marker.branch` holds in this branch's database: its own name once the
   * suite marked it, before that the marker it inherited from its snapshot.
   */
  marker: string;
}

/** A snapshot the suite knows. */
export interface ModelSnapshot {
  name: string;
  branch: string;
  /** Rows committed in `branch` before the snapshot was taken. */
  rows: Set<string>;
  /** The marker its branch held when it was taken (what branches made from it inherit). */
  marker: string;
}

/** A create or snapshot whose outcome is unknown (it was killed or interrupted). */
export interface Pending {
  kind: "branch" | "snapshot";
  name: string;
  /** For a snapshot: the branch it was taken of. For a branch: its parent. */
  source: string;
}

/** The suite's beliefs. */
export class Model {
  readonly branches = new Map<string, ModelBranch>();
  readonly snapshots = new Map<string, ModelSnapshot>();
  /** Creates whose outcome is unknown until the next listing shows them or not. */
  pending: Pending[] = [];
  /**
   * Branches and snapshots a delete was asked for (even one that failed or was killed):
   * an interrupted delete is completed by a later command or repair, so they may vanish
   * at any later step.
   */
  readonly doomed = { branches: new Set<string>(), snapshots: new Set<string>() };
  #counter = 0;

  constructor(readonly defaultBranch: string) {
    this.branches.set(defaultBranch, { name: defaultBranch, rows: new Set(), marker: "" });
  }

  /** A name never used before in this run. */
  freshName(prefix: string): string {
    return `${prefix}${++this.#counter}`;
  }

  /** Records a snapshot of `branch` taken now. */
  addSnapshot(name: string, branch: string): void {
    const source = this.branches.get(branch);
    this.snapshots.set(name, {
      name,
      branch,
      rows: new Set(source?.rows ?? []),
      marker: source?.marker ?? branch,
    });
  }

  /**
   * Records a branch made from snapshot `origin` (or, when the snapshot is unknown, from
   * the current state of `parent`): it inherits the snapshot's rows and marker.
   */
  addBranch(name: string, origin: string | null, parent: string | null): ModelBranch {
    const snapshot = origin ? this.snapshots.get(origin) : undefined;
    const from = snapshot ?? this.branches.get(parent ?? this.defaultBranch);
    const branch: ModelBranch = {
      name,
      rows: new Set(from?.rows ?? []),
      marker: from?.marker ?? "",
    };
    this.branches.set(name, branch);
    return branch;
  }

  /** Forgets a branch and the snapshots taken of it. */
  removeBranch(name: string): void {
    this.branches.delete(name);
    for (const [snap, s] of this.snapshots) if (s.branch === name) this.snapshots.delete(snap);
  }

  /**
   * Everything that may legitimately vanish when `branches` and `snapshots` are deleted
   * (forced or interrupted): their snapshots, and transitively the branches made from
   * those snapshots (read from the last listing's `origin` fields).
   */
  closure(
    branches: Iterable<string>,
    snapshots: Iterable<string>,
    listing: BranchJson[],
  ): { branches: Set<string>; snapshots: Set<string> } {
    const b = new Set(branches);
    const s = new Set(snapshots);
    for (let changed = true; changed;) {
      changed = false;
      for (const snap of this.snapshots.values()) {
        if (b.has(snap.branch) && !s.has(snap.name)) (s.add(snap.name), changed = true);
      }
      for (const branch of listing) {
        if (branch.origin && s.has(branch.origin) && !b.has(branch.name)) {
          b.add(branch.name);
          changed = true;
        }
      }
    }
    return { branches: b, snapshots: s };
  }
}
