/**
 * The inventory store: every read and write of zvpg's metadata in ZFS. Listings and
 * graph-wide operations load the whole inventory ({@link loadInventory}); the narrow reads serve the operations about one branch or one snapshot
 * (`branch create/start/stop`, `snapshot create`): each reads the datasets it names, never
 * every snapshot of the pool. Listings and graph-wide operations use {@link loadInventory}.
 *
 * Invariants:
 * - a branch is read by its dataset name (`layout.branchDataset`, injective in the branch
 *   name), always together with the default branch's dataset, whose presence says that
 *   zvpg is initialised; a dataset whose recorded `zvpg:branch` differs is not that branch;
 * - records are made by {@link buildInventory} from the same entries a full read would
 *   return for them, so both reads agree on every field, except the `dependents` of
 *   snapshots, which a narrow read never fills;
 * - the branch slots (the default branch and the children of the clones dataset) are read
 *   with the few properties that port allocation and snapshot naming need, one level deep:
 *   their cost grows with the number of branches, never with the number of snapshots.
 *
 * @module
 */
import type { ContainerInfo } from "../adapters/container_runtime.ts";
import type { ZfsEntry } from "../adapters/zfs.ts";
import {
  AlreadyExistsError,
  BranchNotFoundError,
  NotInitializedError,
  PoolNotImportedError,
} from "../errors.ts";
import type { Context } from "../runtime/context.ts";
import { commandName } from "../runtime/interrupt.ts";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import type { Transition } from "../domain/lifecycle.ts";
import {
  type BranchRecord,
  buildInventory,
  findSnapshot,
  type Inventory,
  inventoryProps,
  type SnapshotRecord,
  snapshotRecord,
} from "../domain/inventory.ts";
import { LABELS, PROPS } from "../domain/layout.ts";

/** Reads the inventory. `containers: false` skips the runtime call. */
export async function loadInventory(
  ctx: Context,
  options: { containers?: boolean } = {},
): Promise<Inventory> {
  const { layout } = ctx;
  const [entries, containers] = await Promise.all([
    ctx.zfs.getTree([layout.dataDataset, layout.clonesDataset], inventoryProps(ctx.zfs.flavor)),
    options.containers === false
      ? Promise.resolve([] as ContainerInfo[])
      : ctx.runtime.list({ [LABELS.pool]: layout.pool }),
  ]);
  return buildInventory(ctx, entries, containers);
}

/**
 * Loads the inventory of an initialised pool; throws {@link NotInitializedError} (naming
 * `what`) before `init env`, rather than answer as if the pool were empty, and
 * {@link PoolNotImportedError} when the pool is only exported (e.g. after `zpool export`).
 */
export async function loadInitializedInventory(
  ctx: Context,
  what: string,
  options?: { containers?: boolean },
): Promise<Inventory> {
  const inventory = await loadInventory(ctx, options);
  await requireInitialized(ctx, inventory.initialized, what);
  return inventory;
}

/**
 * Throws {@link NotInitializedError} (or {@link PoolNotImportedError}) unless
 * `initialized`: whether the default branch's dataset was found. The message names the
 * command the user ran; `what` only where none was named (a library call, a test).
 */
export async function requireInitialized(
  ctx: Context,
  initialized: boolean,
  what: string,
): Promise<void> {
  if (initialized) return;
  what = commandName() ?? what;
  await throwIfPoolNotImported(ctx, what);
  throw new NotInitializedError(what);
}

/**
 * Throws {@link PoolNotImportedError} when the configured pool is not imported but can be:
 * its file `<mountDir>/<pool>.img` exists, or `zpool import` finds it beside its device.
 */
async function throwIfPoolNotImported(ctx: Context, what: string): Promise<void> {
  const { zfs, layout, config } = ctx;
  if (await zfs.poolStatus(layout.pool)) return;
  if (config.zfsPoolDevice) {
    const dir = dirname(config.zfsPoolDevice);
    if ((await zfs.importablePools(dir)).includes(layout.pool)) {
      throw new PoolNotImportedError(what, layout.pool, dir);
    }
  } else if (existsSync(layout.poolImage)) {
    throw new PoolNotImportedError(what, layout.pool, dirname(layout.poolImage));
  }
}

/** Writes a transition on a branch's dataset. */
export async function record(ctx: Context, dataset: string, transition: Transition) {
  await ctx.zfs.set(dataset, transition);
}

/** The properties of a branch slot that ports and snapshot names need. */
const SLOT_PROPS = [PROPS.branch, PROPS.state, PROPS.port];

/** What an operation on a few named branches knows. */
export interface BranchScope {
  /** The named branches that exist, with their containers. */
  branches: BranchRecord[];
  /**
   * Every branch, with its state and recorded port only (when asked for), and its
   * container when the pool's containers were listed.
   */
  slots: BranchRecord[] | undefined;
  containers: ContainerScope;
}

/** Which containers a {@link loadBranchScope} lists. */
export type ContainerScope = "branch" | "pool";

/**
 * Reads the branches `names` (full records) of an initialised pool. `containers: "branch"`
 * lists only the one named branch's containers; `"pool"` lists all of the pool's, which
 * `slots: true` needs for the ports they hold. Throws {@link NotInitializedError} before
 * `init env`, naming `what`.
 */
export async function loadBranchScope(
  ctx: Context,
  what: string,
  names: string[],
  options: { containers: ContainerScope; slots?: boolean },
): Promise<BranchScope> {
  const { layout } = ctx;
  const datasets = [...new Set([layout.dataDataset, ...names.map((n) => layout.branchDataset(n))])];
  const labels: Record<string, string> = { [LABELS.pool]: layout.pool };
  if (options.containers === "branch" && names.length === 1) labels[LABELS.branch] = names[0];
  const [entries, slotEntries, containers] = await Promise.all([
    ctx.zfs.get(datasets, inventoryProps(ctx.zfs.flavor)),
    options.slots ? ctx.zfs.get([layout.clonesDataset], SLOT_PROPS, 1) : undefined,
    ctx.runtime.list(labels),
  ]);
  const read = buildInventory(ctx, entries, containers);
  await requireInitialized(ctx, read.initialized, what);
  return {
    branches: read.branches.filter((b) => names.includes(b.name)),
    slots: slotEntries && slotsOf(ctx, entries, slotEntries, containers),
    containers: options.containers,
  };
}

/** Every branch from the slot read plus the default branch's entry (its full read). */
function slotsOf(
  ctx: Context,
  entries: ZfsEntry[],
  slotEntries: ZfsEntry[],
  containers: ContainerInfo[],
): BranchRecord[] {
  const data = entries.filter((e) => e.name === ctx.layout.dataDataset);
  // the snapshots of the clones dataset itself (depth 1) are not zvpg's
  const children = slotEntries.filter((e) => e.type === "filesystem");
  return buildInventory(ctx, [...data, ...children], containers).branches;
}

/** The named branch of a scope, or {@link BranchNotFoundError}. */
export function scopeBranch(scope: BranchScope, name: string): BranchRecord {
  const branch = scope.branches.find((b) => b.name === name);
  if (!branch) throw new BranchNotFoundError(name);
  return branch;
}

/**
 * The branches as port allocation sees them ({@link heldPorts}: containers and recorded
 * ports); needs a scope read with the slots and the pool's containers.
 */
export function portView(scope: BranchScope): Pick<Inventory, "branches"> {
  if (!scope.slots || scope.containers !== "pool") {
    throw new Error("ports need the slots and the pool's containers");
  }
  return { branches: scope.slots };
}

/**
 * The snapshots named `name` on any branch (zvpg's snapshot names are unique across
 * branches, so at most one unless something else made one). It reads `<dataset>@name`
 * for each branch's dataset in one `zfs get`: the cost grows with the branches, never
 * with the snapshots. `slots` are every branch ({@link BranchScope.slots}).
 */
export async function snapshotsNamed(
  ctx: Context,
  name: string,
  slots: BranchRecord[],
): Promise<SnapshotRecord[]> {
  const branchOf = new Map(slots.map((b) => [`${b.dataset}@${name}`, b.name]));
  // sorted: one argv whatever order the branches were read in
  const entries = await ctx.zfs.get([...branchOf.keys()].sort(), inventoryProps(ctx.zfs.flavor));
  return entries.flatMap((e) => {
    const branch = branchOf.get(e.name);
    return branch === undefined ? [] : [snapshotRecord(e, branch)];
  });
}

/** The snapshot `name` of any branch, or the errors of {@link findSnapshot}. */
export async function findSnapshotNamed(
  ctx: Context,
  name: string,
  slots: BranchRecord[],
): Promise<SnapshotRecord> {
  return findSnapshot({ snapshots: await snapshotsNamed(ctx, name, slots) }, name);
}

/** Throws {@link AlreadyExistsError} when a snapshot `name` exists on any branch. */
export async function assertSnapshotNameFree(
  ctx: Context,
  name: string,
  slots: BranchRecord[],
): Promise<void> {
  const [existing] = await snapshotsNamed(ctx, name, slots);
  if (existing === undefined) return;
  throw new AlreadyExistsError(
    `snapshot '${name}' already exists (on branch '${existing.branch}')`,
    { hint: "snapshot names are unique across all branches: pick another name" },
  );
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
