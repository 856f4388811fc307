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

/** What a branch's database holds: the rows the suite committed and its marker. */
export interface BranchState {
  rows: Set<string>;
  marker: string;
}

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
  /**
   * Set when an interrupted reset left the branch either as it was or reset (at least two
   * states): `rows` is then what all of them hold and `marker` their common marker, or ""
   * (unknown). The first look at its database picks the one it holds
   * ({@link Model.resolve}).
   */
  candidates?: BranchState[];
  /**
   * Rows a reset in place threw away (committed in the branch after the snapshot it went
   * back to): they must not be in its database any more.
   */
  absent?: Set<string>;
}

/** A snapshot the suite knows. */
export interface ModelSnapshot {
  name: string;
  branch: string;
  /** Rows committed in `branch` before the snapshot was taken. */
  rows: Set<string>;
  /** The marker its branch held when it was taken (what branches made from it inherit). */
  marker: string;
  /**
   * Taken while its branch was in several possible states: `rows` is what they all hold,
   * it may hold more.
   */
  uncertain?: boolean;
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
      uncertain: source?.candidates !== undefined,
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

  /** The states branch `name` may be in: its candidates, or its one known state. */
  statesOf(name: string): BranchState[] {
    const b = this.branches.get(name);
    if (!b) return [];
    return b.candidates ?? [{ rows: new Set(b.rows), marker: b.marker }];
  }

  /** The state of snapshot `name` (what a branch reset to it holds), if known. */
  snapshotState(name: string): BranchState | undefined {
    const s = this.snapshots.get(name);
    return s ? { rows: new Set(s.rows), marker: s.marker } : undefined;
  }

  /**
   * Records that branch `name` is in one of `states` (one: known). With several, its
   * `rows` and `marker` become what every one of them has (so that every check on them
   * holds whichever it is) until {@link resolve} picks one.
   */
  setStates(name: string, states: BranchState[]): void {
    const b = this.branches.get(name);
    if (!b || states.length === 0) return;
    b.absent = undefined;
    const distinct = states.filter((s, i) =>
      states.findIndex((t) => t.marker === s.marker && sameRows(t.rows, s.rows)) === i
    );
    if (distinct.length === 1) {
      b.rows = new Set(distinct[0].rows);
      b.marker = distinct[0].marker;
      b.candidates = undefined;
      return;
    }
    b.rows = new Set([...distinct[0].rows].filter((r) => distinct.every((s) => s.rows.has(r))));
    b.marker = distinct.every((s) => s.marker === distinct[0].marker) ? distinct[0].marker : "";
    b.candidates = distinct.map((s) => ({ rows: new Set(s.rows), marker: s.marker }));
  }

  /**
   * Records that branch `name` went back in place to snapshot `target` (its origin or one
   * of its own), from its one known state `before`: the rows it committed since are gone.
   * Not for a snapshot taken in an uncertain state (it may hold rows the model lacks).
   */
  resetInPlace(name: string, before: BranchState[], target: string): void {
    const b = this.branches.get(name);
    const snapshot = this.snapshots.get(target);
    if (!b || !snapshot || snapshot.uncertain || before.length !== 1) return;
    b.absent = new Set([...before[0].rows].filter((r) => !snapshot.rows.has(r)));
  }

  /** Records row `v` committed in branch `name` (in every state it may be in). */
  addRow(name: string, v: string): void {
    const b = this.branches.get(name);
    if (!b) return;
    b.rows.add(v);
    for (const s of b.candidates ?? []) s.rows.add(v);
  }

  /**
   * Picks, for a branch in several possible states, the first one its database shows
   * (`marker` and `rows` as read from it): that one is then known. Returns false when
   * none matches (the branch is left as it was: a finding).
   */
  resolve(name: string, seen: { marker: string; rows: Set<string> }): boolean {
    const b = this.branches.get(name);
    if (!b?.candidates) return true;
    const match = b.candidates.find((s) =>
      (s.marker === "" || s.marker === seen.marker) && [...s.rows].every((r) => seen.rows.has(r))
    );
    if (match) this.setStates(name, [match]);
    return match !== undefined;
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

function sameRows(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((r) => b.has(r));
}
