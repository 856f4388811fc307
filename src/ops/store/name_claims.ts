/**
 * Snapshot names, unique across all branches: finding a snapshot by name, refusing a
 * taken name, claiming a new one. Behind {@link NameClaims} they are checked by the claims
 * index when it is complete (one `zfs get` of the one snapshot a claim names: the cost
 * does not grow with the pool), else on every branch slot. Callers never choose: they get
 * theirs from a loader (`loadForSnapshot`, `loadForCreate`, {@link loadNameClaims}).
 *
 * Invariant: a name is claimed before its snapshot is taken (a crash before it is leaves a
 * stale claim, which the reads here verify away).
 *
 * @module
 */
import { AlreadyExistsError } from "../../errors.ts";
import type { Context } from "../../context.ts";
import {
  type BranchRecord,
  findSnapshot,
  type Inventory,
  inventoryProps,
  type SnapshotRecord,
  snapshotRecord,
} from "../../domain/inventory.ts";
import type { ClaimIndex } from "../../domain/claims.ts";
import { claimSnapshotName, loadClaims } from "./claims_index.ts";
import { readSlots, type Slot, SLOT_PROPS } from "./read_slots.ts";

/** How an operation checks and claims snapshot names, whichever way the store reads them. */
export interface NameClaims {
  /** The snapshot `name` of any branch, or the errors of {@link findSnapshot}. */
  find(name: string): Promise<SnapshotRecord>;
  /** Throws {@link AlreadyExistsError} when a snapshot `name` exists on any branch. */
  assertFree(name: string): Promise<void>;
  /** Claims `name` for branch `branch`, before its snapshot is taken. */
  claim(name: string, branch: string): Promise<void>;
}

/**
 * The name claims of an operation that read the whole inventory: by the index when it is
 * complete (so new names get claimed), else on every branch of `inventory`.
 */
export async function loadNameClaims(ctx: Context, inventory: Inventory): Promise<NameClaims> {
  const index = await loadClaims(ctx);
  return index?.complete ? namesByIndex(ctx, index) : namesBySlots(ctx, inventory.branches);
}

/**
 * Names checked by a complete claims index. A name it does not know is looked for on
 * every branch slot before it is declared missing (a snapshot made outside zvpg is found;
 * only this error path reads them all).
 */
export function namesByIndex(ctx: Context, index: ClaimIndex): NameClaims {
  const named = async (name: string) => {
    const claimant = index.snapshots.get(name);
    if (claimant === undefined) return [];
    return await snapshotsOn(ctx, name, [{
      name: claimant,
      dataset: ctx.layout.branchDataset(claimant),
    }]);
  };
  return {
    find: async (name) => {
      let found = await named(name);
      if (found.length === 0) {
        const data = await ctx.zfs.get([ctx.layout.dataDataset], SLOT_PROPS);
        found = await snapshotsOn(ctx, name, await readSlots(ctx, data, []));
      }
      return findSnapshot({ snapshots: found }, name);
    },
    assertFree: async (name) => refuseTaken(name, await named(name)),
    claim: async (name, branch) => {
      await claimSnapshotName(ctx, name, branch);
      index.snapshots.set(name, branch);
    },
  };
}

/** Names checked on every branch slot `slots` (a pool whose index is not complete). */
export function namesBySlots(ctx: Context, slots: Slot[]): NameClaims {
  const named = (name: string) => snapshotsOn(ctx, name, slots);
  return {
    find: async (name) => findSnapshot({ snapshots: await named(name) }, name),
    assertFree: async (name) => refuseTaken(name, await named(name)),
    // no claim without a complete index (its dataset may not even exist): the repair
    // that completes it claims every snapshot then
    claim: () => Promise.resolve(),
  };
}

/** Throws {@link AlreadyExistsError} naming the branch of `existing`, when there is one. */
function refuseTaken(name: string, [existing]: SnapshotRecord[]): void {
  if (existing === undefined) return;
  throw new AlreadyExistsError(
    `snapshot '${name}' already exists (on branch '${existing.branch}')`,
    { hint: "snapshot names are unique across all branches: pick another name" },
  );
}

/** The snapshots `<dataset>@name` of `slots`, read in one `zfs get`. */
async function snapshotsOn(
  ctx: Context,
  name: string,
  slots: Slot[],
): Promise<SnapshotRecord[]> {
  const branchOf = new Map(slots.map((b) => [`${b.dataset}@${name}`, b.name]));
  // sorted: one argv whatever order the branches were read in
  const entries = await ctx.zfs.get([...branchOf.keys()].sort(), inventoryProps(ctx.zfs.flavor));
  return entries.flatMap((e) => {
    const branch = branchOf.get(e.name);
    return branch === undefined ? [] : [snapshotRecord(e, branch)];
  });
}

/** The snapshot `name` of `branch`, read alone (its dependents are not filled). */
export async function loadSnapshotOf(
  ctx: Context,
  branch: BranchRecord,
  name: string,
): Promise<SnapshotRecord | undefined> {
  const zfsName = `${branch.dataset}@${name}`;
  const [entry] = (await ctx.zfs.get([zfsName], inventoryProps(ctx.zfs.flavor))).filter((e) =>
    e.name === zfsName
  );
  return entry && snapshotRecord(entry, branch.name);
}
