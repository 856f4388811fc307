/**
 * What `status health --repair` will do, planned from the drift before anything acts (pure,
 * so each decision is unit-tested): give back a user's dataset an interrupted take-over
 * left (that alone: everything else is its import's, which goes with it), roll back
 * interrupted creates, complete interrupted
 * deletes, remove orphan containers and stray runtime directories, restart branches
 * recorded running whose server is gone, and every branch whose container is dead,
 * unusable or was stopped to remount its data, remove what killed transfers left, and
 * (last) rebuild the claims index when it misses something.
 *
 * Invariants: a branch another zvpg process is working on, a branch under another engine
 * and a dataset zvpg did not make are never in the plan; an interrupted branch that others
 * depend on, or that holds datasets zvpg did not make, is only marked stopped.
 *
 * @module
 */
import type { AdoptedDataset } from "./datadir_adoption.ts";
import type { Drift } from "./drift.ts";
import { type BranchRecord, foreignDatasetsIn, type Inventory } from "./inventory.ts";
import type { TransferLeftover } from "./transfer_leftovers.ts";

/** One step: what it acts on, what it does (a verb), and why. */
export type RepairStep =
  & { target: string; action: string; reason: string }
  & (
    | { do: "remove-container"; container: string }
    | { do: "mark-stopped"; branch: BranchRecord }
    | { do: "destroy"; branch: BranchRecord }
    | { do: "restart"; branch: BranchRecord; stopFirst: boolean }
    | { do: "remove-dir"; dir: string }
    | { do: "undo-reset" | "finish-reset"; name: string }
    | { do: "rebuild-index" }
    | { do: "give-back"; adopted: AdoptedDataset }
    | { do: "destroy-dataset" | "abort-receive"; dataset: string }
    | { do: "release-remote-hold"; snapshot: string; remote: string; recorded: string[] }
    | { do: "remove-file"; file: string }
  );

/** What the plan needs besides the drift. */
export interface RepairFacts {
  /** Branches recorded running whose server does not answer a query, with the reason. */
  unusable: Map<string, string>;
  /** Branches whose container a remount of a stale mount stopped. */
  remounted: Set<string>;
}

/** The steps that fix `drift`, in order (pure). */
export function planRepairs(
  inventory: Inventory,
  drift: Drift[],
  facts: RepairFacts,
): RepairStep[] {
  const steps: RepairStep[] = [];
  const takeOvers = drift.flatMap((d) => d.kind === "interrupted-take-over" ? [d.takeOver] : []);
  if (takeOvers.length > 0) {
    // a record zvpg cannot read is reported and left to the user
    return takeOvers.flatMap(({ snapshot, adopted }) => {
      if (!adopted) return [];
      const at = snapshot.split("@")[0];
      return [{
        do: "give-back",
        adopted,
        target: `dataset ${adopted.dataset}`,
        action: "give back",
        reason: at === adopted.dataset
          ? `an interrupted take-over left ${snapshot} on it`
          : `an interrupted take-over left it renamed ${at}`,
      }];
    });
  }
  for (const d of drift) {
    if (d.kind !== "orphan-container") continue;
    steps.push({
      do: "remove-container",
      container: d.container.name,
      target: `container ${d.container.name}`,
      action: "remove",
      reason: "its branch dataset is gone",
    });
  }
  for (const d of drift) {
    if (d.kind !== "interrupted-reset") continue;
    steps.push({
      do: d.direction === "undo" ? "undo-reset" : "finish-reset",
      name: d.name,
      target: `branch '${d.name}'`,
      action: d.direction === "undo" ? "undo the reset" : "finish the reset",
      reason: "an interrupted reset left it half-swapped",
    });
  }
  const resetting = new Set(drift.flatMap((d) => d.kind === "interrupted-reset" ? [d.name] : []));
  for (const branch of inventory.branches) {
    if (resetting.has(branch.name)) continue;
    const step = branchStep(inventory, branch, drift, facts);
    if (step) steps.push(step);
  }
  for (const d of drift) {
    if (d.kind !== "stray-dir") continue;
    steps.push({
      do: "remove-dir",
      dir: d.dir,
      target: `directory ${d.dir}`,
      action: "remove",
      reason: "it belongs to no branch",
    });
  }
  for (const d of drift) {
    if (d.kind === "transfer") steps.push(transferStep(d.leftover));
  }
  // last: it is rebuilt from the pool as the steps above left it
  if (drift.some((d) => d.kind === "index")) {
    steps.push({
      do: "rebuild-index",
      target: "the claims index",
      action: "rebuild",
      reason: "it misses snapshot names or ports of the pool",
    });
  }
  return steps;
}

function branchStep(
  inventory: Inventory,
  branch: BranchRecord,
  drift: Drift[],
  facts: RepairFacts,
): RepairStep | undefined {
  const target = `branch '${branch.name}'`;
  const mine = drift.find((d) => "branch" in d && d.branch.name === branch.name);
  if (mine?.kind === "interrupted") return interruptedStep(inventory, mine.branch, mine.operation);
  if (mine?.kind === "stale-temporary") {
    return {
      do: "destroy",
      branch,
      target,
      action: "delete",
      reason: "it is a temporary clone of a diff or merge whose zvpg process is gone",
    };
  }
  if (mine?.kind === "in-flight" || mine?.kind === "other-runtime") return undefined;
  const restart = (reason: string, stopFirst: boolean): RepairStep => ({
    do: "restart",
    branch,
    stopFirst,
    target,
    action: "restart",
    reason,
  });
  // the remount stopped its container: it served (or was to serve, like an exited or
  // unusable one, which are restarted whatever zvpg recorded: a start killed after its
  // container ran leaves the branch recorded stopped)
  if (facts.remounted.has(branch.name)) return restart("its mount was stale", false);
  if (mine?.kind === "missing") return restart("its container was gone", false);
  if (mine?.kind === "failed") {
    return restart(`its container was ${branch.container?.state}`, false);
  }
  const problem = facts.unusable.get(branch.name);
  if (problem !== undefined) {
    return restart(`its PostgreSQL did not answer a query: ${problem}`, true);
  }
  return undefined;
}

function interruptedStep(
  inventory: Inventory,
  branch: BranchRecord,
  operation: "create" | "delete",
): RepairStep {
  const target = `branch '${branch.name}'`;
  const markStopped = (reason: string): RepairStep => ({
    do: "mark-stopped",
    branch,
    target,
    action: "mark stopped",
    reason,
  });
  if (branch.isDefault) {
    return markStopped(`an interrupted ${operation} left it marked ${branch.state}`);
  }
  const why = operation === "create"
    ? "an interrupted create left it half-made"
    : "an interrupted delete left it half-deleted";
  const depended = inventory.snapshots.some((s) =>
    s.branch === branch.name && s.dependents.length > 0
  );
  if (depended) return markStopped(`${why}, and other branches depend on it`);
  const foreign = foreignDatasetsIn(inventory, branch);
  if (foreign.length > 0) {
    return markStopped(`${why}, and it holds datasets zvpg did not make: ${foreign.join(", ")}`);
  }
  return {
    do: "destroy",
    branch,
    target,
    action: operation === "create" ? "roll back the create" : "complete the delete",
    reason: why,
  };
}

/** The step that removes what a killed transfer left. */
function transferStep(l: TransferLeftover): RepairStep {
  switch (l.kind) {
    case "unfinished-receive":
    case "partial-receive":
      return {
        do: "destroy-dataset",
        dataset: l.dataset,
        target: `dataset ${l.dataset}`,
        action: "destroy",
        reason: l.kind === "unfinished-receive"
          ? "a receive that never finished left it without a snapshot"
          : "it is a partial receive a killed transfer left",
      };
    case "resumable-receive":
      return {
        do: "abort-receive",
        dataset: l.dataset,
        target: `dataset ${l.dataset}`,
        action: "abort its partial receive",
        reason: "a receive was cut short (receive_resume_token)",
      };
    case "orphan-remote-hold":
      return {
        do: "release-remote-hold",
        snapshot: l.snapshot,
        remote: l.remote,
        recorded: l.recorded,
        target: `snapshot ${l.snapshot}`,
        action: `release the hold of remote '${l.remote}'`,
        reason: `remote '${l.remote}' is no longer in the remotes file`,
      };
    case "stale-stream":
      return {
        do: "remove-file",
        file: l.file,
        target: `file ${l.file}`,
        action: "remove",
        reason: `the push that wrote it (pid ${l.pid}) is gone`,
      };
  }
}
