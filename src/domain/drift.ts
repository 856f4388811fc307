/**
 * Drift: where ZFS, the container engine and the runtime directories disagree with what
 * zvpg recorded. Found by one pure function, so `status health` (which reports it) and
 * `status health --repair` (which plans from it) can never classify it differently.
 *
 * @module
 */
import type { ContainerInfo } from "../adapters/container_runtime.ts";
import type { BranchRecord, Inventory } from "./inventory.ts";
import { LABELS } from "./layout.ts";
import { isInFlight } from "./lifecycle.ts";
import { describeIndexDrift, type IndexDrift, indexMisses } from "./claims.ts";
import type { TakeOver } from "./datadir_adoption.ts";
import { describeLeftover, type TransferLeftover } from "./transfer_leftovers.ts";

/** One disagreement. Warnings need no repair (or none zvpg may do). */
export type Drift =
  /** A zvpg container whose branch dataset is gone. */
  | { kind: "orphan-container"; container: ContainerInfo }
  /** Recorded running, but its container is gone. */
  | { kind: "missing"; branch: BranchRecord }
  /** Its container exists but does not run. */
  | { kind: "failed"; branch: BranchRecord }
  /** A create or delete whose zvpg process died. */
  | { kind: "interrupted"; branch: BranchRecord; operation: "create" | "delete" }
  /**
   * A reset whose zvpg process died: undone while the branch's old data exists, else
   * finished (see src/ops/reset_swap.ts). Its branch record may be missing mid-swap.
   */
  | { kind: "interrupted-reset"; name: string; direction: "undo" | "finish" }
  /** A create or delete another zvpg process is doing now (warning). */
  | { kind: "in-flight"; branch: BranchRecord }
  /** Recorded running under another engine than the configured one (warning). */
  | { kind: "other-runtime"; branch: BranchRecord }
  /** A runtime directory that belongs to no branch (warning; repair removes it). */
  | { kind: "stray-dir"; dir: string }
  /** A temporary branch of a `branch diff`/`merge` whose process died (repair deletes it). */
  | { kind: "stale-temporary"; branch: BranchRecord }
  /** The claims index misses snapshot names or ports of the pool (repair rebuilds it). */
  | { kind: "index"; index: IndexDrift }
  /**
   * A take-over of a user's dataset (`init env --from`) whose zvpg process died before its
   * point of no return: repair gives the dataset back as it was.
   */
  | { kind: "interrupted-take-over"; takeOver: TakeOver }
  /** A take-over another zvpg process is doing now (warning). */
  | { kind: "take-over-in-flight"; takeOver: TakeOver }
  /**
   * What a killed push or pull left (src/domain/transfer_leftovers.ts): repair removes it.
   * A resumable receive is a warning (it may be resumed).
   */
  | { kind: "transfer"; leftover: TransferLeftover };

/** What findDrift needs besides the inventory. */
export interface DriftFacts {
  /** Whether the zvpg process with this pid is still at work. */
  alive: (pid: number | null) => boolean;
  /** Runtime directories that belong to no branch. */
  strayDirs: string[];
  /** How the claims index differs from the pool (see src/domain/claims.ts), when read. */
  index?: IndexDrift;
  /** The take-overs recorded in the pool (see src/domain/datadir_adoption.ts). */
  takeOvers?: TakeOver[];
  /** What killed transfers left (see src/domain/transfer_leftovers.ts), when read. */
  transfers?: TransferLeftover[];
}

/**
 * Every disagreement in `inventory` (pure). An interrupted take-over is then the only one:
 * everything else zvpg has in the pool is its import's, which the give-back removes.
 */
export function findDrift(inventory: Inventory, facts: DriftFacts): Drift[] {
  const takeOvers = takeOverDrift(facts.takeOvers ?? [], facts.alive);
  if (takeOvers.some((d) => d.kind === "interrupted-take-over")) return takeOvers;
  const drift: Drift[] = [
    ...takeOvers,
    ...inventory.orphanContainers.map((container): Drift => ({
      kind: "orphan-container",
      container,
    })),
  ];
  const parts = inventory.resetParts ?? [];
  const resets = new Set([
    ...parts.map((p) => p.branch),
    ...inventory.branches.filter((b) => b.state === "resetting").map((b) => b.name),
  ]);
  for (const name of resets) {
    const branch = inventory.branches.find((b) => b.name === name);
    if (branch && branch.state === "resetting" && facts.alive(branch.operationPid)) {
      drift.push({ kind: "in-flight", branch });
      continue;
    }
    drift.push({ kind: "interrupted-reset", name, direction: resetDirection(inventory, name) });
  }
  for (const branch of inventory.branches) {
    if (resets.has(branch.name)) continue;
    if (isStaleTemporary(branch, facts)) {
      drift.push({ kind: "stale-temporary", branch });
    } else if (isInFlight(branch)) {
      drift.push(
        facts.alive(branch.operationPid) ? { kind: "in-flight", branch } : {
          kind: "interrupted",
          branch,
          operation: branch.state === "creating" ? "create" : "delete",
        },
      );
    } else if (branch.status === "missing" || branch.status === "failed") {
      drift.push({ kind: branch.status, branch });
    } else if (branch.status === "other-runtime") {
      drift.push({ kind: "other-runtime", branch });
    }
  }
  for (const dir of facts.strayDirs) drift.push({ kind: "stray-dir", dir });
  for (const leftover of facts.transfers ?? []) drift.push({ kind: "transfer", leftover });
  if (facts.index && indexMisses(facts.index)) drift.push({ kind: "index", index: facts.index });
  return drift;
}

/**
 * The drift of recorded take-overs: interrupted when their zvpg process is dead, in flight
 * while it lives (pure; also what `status health` reports before zvpg's datasets exist).
 */
export function takeOverDrift(takeOvers: TakeOver[], alive: (pid: number | null) => boolean) {
  return takeOvers.map((takeOver): Drift =>
    alive(takeOver.pid)
      ? { kind: "take-over-in-flight", takeOver }
      : { kind: "interrupted-take-over", takeOver }
  );
}

/** The user's dataset a take-over is of (the snapshot's dataset when its record is unreadable). */
export function takenOverDataset(t: TakeOver): string {
  return t.adopted?.dataset ?? t.snapshot.split("@")[0];
}

/**
 * How an interrupted reset is repaired: undone while the old data exists (renamed out, or
 * still the branch's own dataset), finished once it is destroyed (pure).
 */
export function resetDirection(inventory: Inventory, name: string): "undo" | "finish" {
  const oldExists = (inventory.resetParts ?? []).some((p) => p.branch === name && p.role === "old");
  const branch = inventory.branches.find((b) => b.name === name);
  return !oldExists && branch?.resetNew === true ? "finish" : "undo";
}

/** A diff/merge clone whose process is gone, and no other process works on it now. */
function isStaleTemporary(branch: BranchRecord, facts: DriftFacts): boolean {
  if (!branch.temporaryPid || facts.alive(branch.temporaryPid)) return false;
  return !(isInFlight(branch) && facts.alive(branch.operationPid));
}

/** Whether a drift is only worth a warning. */
export function isWarning(d: Drift): boolean {
  return d.kind === "in-flight" || d.kind === "other-runtime" || d.kind === "stray-dir" ||
    d.kind === "take-over-in-flight" ||
    (d.kind === "transfer" && d.leftover.kind === "resumable-receive");
}

/** One line for `status health`. `engine` is the configured engine's flavor. */
export function describeDrift(d: Drift, engine: string): string {
  switch (d.kind) {
    case "orphan-container":
      return `container ${d.container.name} has no branch dataset (branch '${
        d.container.labels[LABELS.branch] ?? "?"
      }')`;
    case "missing":
      return `branch '${d.branch.name}' is marked running but its container is gone`;
    case "failed":
      return `branch '${d.branch.name}': container ${d.branch.container?.name} is ${d.branch.container?.state}`;
    case "interrupted":
      return `branch '${d.branch.name}': an interrupted ${d.operation} left it half-made`;
    case "interrupted-reset":
      return `branch '${d.name}': an interrupted reset left it half-swapped (repair will ${d.direction} it)`;
    case "in-flight":
      return `branch '${d.branch.name}' is being ${
        d.branch.state === "creating"
          ? "created"
          : d.branch.state === "resetting"
          ? "reset"
          : "deleted"
      } now`;
    case "other-runtime":
      return `branch '${d.branch.name}' runs under ${d.branch.runtime}, not ${engine}: manage it with ${d.branch.runtime}`;
    case "stray-dir":
      return `runtime directory ${d.dir} belongs to no branch`;
    case "stale-temporary":
      return `branch '${d.branch.name}' is a temporary clone of a diff or merge whose zvpg process is gone`;
    case "index":
      return describeIndexDrift(d.index);
    case "interrupted-take-over":
      return d.takeOver.adopted
        ? `dataset ${
          takenOverDataset(d.takeOver)
        }: a take-over by 'init env --from' was interrupted (its zvpg process is gone); repair will give it back as it was`
        : `${d.takeOver.snapshot} records a take-over whose zvpg process is gone, in a form zvpg cannot read: give the dataset back by hand`;
    case "take-over-in-flight":
      return `dataset ${
        takenOverDataset(d.takeOver)
      } is being taken over now (zvpg pid ${d.takeOver.pid})`;
    case "transfer":
      return describeLeftover(d.leftover);
  }
}
