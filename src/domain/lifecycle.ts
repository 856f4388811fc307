/**
 * The branch lifecycle: the states recorded on a branch dataset, the transitions between
 * them (as the ZFS user properties each one writes), and the guards every command applies
 * before it touches a branch.
 *
 * Invariants:
 * - intent is recorded before acting: `creating`/`deleting` carry the pid of the zvpg
 *   process doing it, so a crash leaves a state that repair can finish or roll back;
 * - a branch is `running` only once its PostgreSQL accepted connections, and records the
 *   port and the engine that serve it; `stopped` is recorded before its container stops;
 * - a reset records `resetting`, the pid and the state to return to (`zvpg:resume`) on the
 *   branch before it clones anything; its new clone carries `zvpg:reset-of` until the old
 *   data is destroyed: while the old data exists a crashed reset is rolled back, after
 *   that it is finished (see `src/ops/reset_swap.ts`);
 * - the engine that runs a branch is recorded on it: a zvpg configured for another engine
 *   never treats that branch as missing, and never starts a second server on it.
 *
 * @module
 */
import { DependencyError, StateError } from "../errors.ts";
import type { BranchRecord, Inventory, SnapshotRecord } from "./inventory.ts";
import { PROPS } from "./layout.ts";

/** ZFS user properties a transition writes. */
export type Transition = Record<string, string>;

/** A create starts: the clone is made already marked, with the port it will run on. */
export function markCreating(port: number): Transition {
  return {
    [PROPS.state]: "creating",
    [PROPS.pid]: String(Deno.pid),
    [PROPS.port]: String(port),
  };
}

/**
 * The branch's container runs on `port` under `runtime` (recorded before the server is
 * ready, so the port is held and the engine known even if zvpg dies now).
 */
export function markPort(port: number, runtime: string): Transition {
  return { [PROPS.port]: String(port), [PROPS.runtime]: runtime };
}

/** Its PostgreSQL accepts connections (after {@link markPort}). */
export function markRunning(): Transition {
  return { [PROPS.state]: "running" };
}

/** The branch is (about to be) stopped. */
export function markStopped(): Transition {
  return { [PROPS.state]: "stopped" };
}

/** A delete starts. */
export function markDeleting(): Transition {
  return { [PROPS.state]: "deleting", [PROPS.pid]: String(Deno.pid) };
}

/** A reset starts: the branch returns to `resume` when it is done or rolled back. */
export function markResetting(resume: "running" | "stopped"): Transition {
  return {
    [PROPS.state]: "resetting",
    [PROPS.pid]: String(Deno.pid),
    [PROPS.resume]: resume,
  };
}

/** Whether a create, delete or reset is recorded on the branch (in flight, or interrupted). */
export function isInFlight(b: Pick<BranchRecord, "state">): boolean {
  return b.state === "creating" || b.state === "deleting" || b.state === "resetting";
}

/** The refusal for a branch another zvpg process is creating or deleting right now. */
export function inFlightError(b: Pick<BranchRecord, "name" | "state" | "operationPid">) {
  const doing = b.state === "creating" ? "created" : b.state === "resetting" ? "reset" : "deleted";
  const by = b.operationPid === null ? "another zvpg process" : `zvpg process ${b.operationPid}`;
  return new StateError(
    `branch '${b.name}' is being ${doing} by ${by}`,
    { hint: "wait for it to finish, or run 'zvpg status health --repair' if that process died" },
  );
}

/** The refusal for a protected branch (`what`: "deleted", "reset", ...). */
export function assertNotProtected(b: Pick<BranchRecord, "name" | "protected">, what: string) {
  if (!b.protected) return;
  throw new StateError(`branch '${b.name}' is protected and cannot be ${what}`, {
    hint: `run 'zvpg branch unprotect ${b.name}' first if you mean it`,
  });
}

/**
 * Refuses a branch recorded as running under another engine than the configured one:
 * its container is invisible from here, so it must be managed from its own engine.
 */
export function assertOwnEngine(engine: string, b: BranchRecord): void {
  if (b.status !== "other-runtime") return;
  throw new StateError(
    `branch '${b.name}' is running under ${b.runtime}, but zvpg is set to use ${engine}`,
    {
      hint:
        `manage it with ${b.runtime} (unset ZVPG_CONTAINER_RUNTIME or set containerRuntime to ${b.runtime}), or stop it there first`,
    },
  );
}

/**
 * Refuses a branch a crashed reset left half-swapped (its old data may be beside it): only
 * `status health --repair` knows which of the two to keep. A live reset is refused as in
 * flight by {@link inFlightError} before this.
 */
export function assertNoUnfinishedReset(
  inventory: Pick<Inventory, "resetParts">,
  branch: Pick<BranchRecord, "name" | "state">,
): void {
  const parts = (inventory.resetParts ?? []).some((p) => p.branch === branch.name);
  if (!parts && branch.state !== "resetting") return;
  throw new StateError(`branch '${branch.name}' has an unfinished reset`, {
    hint: "run 'zvpg status health --repair' to finish or undo it first",
  });
}

/** What an operation on a branch would destroy beyond the branch's own data. */
export interface Losses {
  /** Snapshots someone named (automatic ones go with their branch). */
  named: Pick<SnapshotRecord, "name">[];
  /** Branches made from the branch's snapshots. */
  dependents: Pick<BranchRecord, "name">[];
  /** Datasets zvpg did not make, inside the branch or its dependents. */
  foreign: string[];
}

/**
 * Refuses an operation (`deleted`, `reset`) that would destroy what `losses` names, naming
 * each: nothing someone made is lost without --force.
 */
export function refuseLosses(
  branch: string,
  verb: string,
  { named, dependents, foreign }: Losses,
  { hint }: { hint: string },
): void {
  if (named.length === 0 && dependents.length === 0 && foreign.length === 0) return;
  const parts: string[] = [];
  if (named.length > 0) {
    parts.push(`it holds snapshot(s) ${named.map((s) => `'${s.name}'`).join(", ")}`);
  }
  if (dependents.length > 0) {
    parts.push(
      `branch(es) ${dependents.map((b) => `'${b.name}'`).join(", ")} depend on its snapshots`,
    );
  }
  if (foreign.length > 0) parts.push(`it holds datasets zvpg did not make: ${foreign.join(", ")}`);
  throw new DependencyError(
    `branch '${branch}' was not ${verb}: ${parts.join(", and ")}`,
    [...named.map((s) => s.name), ...dependents.map((b) => b.name), ...foreign],
    hint,
  );
}
