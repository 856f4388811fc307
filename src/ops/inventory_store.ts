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
 * - port allocation and snapshot naming read the claims index (src/domain/claims.ts): one
 *   `zfs get` of one dataset, plus the few branches whose port claim no container covers;
 *   only on a pool whose index is not complete do they read every branch slot (the
 *   children of the clones dataset, one level deep), whose cost grows with the branches;
 * - every claim is written before what it claims exists, and verified when read.
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
import type { Context } from "../context.ts";
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
import { INDEX_PROPS, LABELS, PROPS } from "../domain/layout.ts";
import {
  type ClaimIndex,
  type IndexDrift,
  indexDrift,
  parseClaims,
  portClaimKey,
  portClaimValue,
  snapshotClaimKey,
} from "../domain/claims.ts";
import { log } from "../runtime/log.ts";
import type { PortHolder } from "./ports.ts";

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

/**
 * Writes a transition on a branch's dataset, keeping the claims index in step: a port the
 * transition records is claimed before it is written (so it is never held unclaimed), and
 * a branch recorded stopped or deleting releases its claim after (a crash in between leaves
 * a stale claim, which readers verify and ignore).
 */
export async function record(ctx: Context, dataset: string, transition: Transition) {
  const port = transition[PROPS.port];
  if (port !== undefined) await claimPort(ctx, dataset, Number(port));
  await ctx.zfs.set(dataset, transition);
  const state = transition[PROPS.state];
  if (state === "stopped" || state === "deleting") await releasePort(ctx, dataset);
}

/** Claims `port` for branch dataset `dataset` in the index (before it is recorded there). */
export async function claimPort(ctx: Context, dataset: string, port: number): Promise<void> {
  await ctx.zfs.set(ctx.layout.indexDataset, {
    [portClaimKey(dataset)]: portClaimValue(port, dataset),
  });
}

/** Releases the port claim of `dataset` (a failure leaves a stale claim: harmless). */
async function releasePort(ctx: Context, dataset: string): Promise<void> {
  await ctx.zfs.inherit(ctx.layout.indexDataset, portClaimKey(dataset))
    .catch((e) => log.debug(`index: port claim of ${dataset} kept: ${e.message}`));
}

/**
 * Releases the claims of snapshot names that were destroyed (a failure leaves stale
 * claims: harmless, repair prunes them).
 */
export async function releaseSnapshotNames(ctx: Context, names: string[]): Promise<void> {
  for (const name of names) {
    await ctx.zfs.inherit(ctx.layout.indexDataset, snapshotClaimKey(name))
      .catch((e) => log.debug(`index: claim of snapshot '${name}' kept: ${e.message}`));
  }
}

/** Reads the claims index (one `zfs get`); undefined when its dataset does not exist. */
export async function loadClaims(ctx: Context): Promise<ClaimIndex | undefined> {
  const props = await ctx.zfs.userProps(ctx.layout.indexDataset);
  return props && parseClaims(props);
}

/**
 * Makes the index hold exactly the claims of `inventory` (a full read) and marks it
 * complete: adds what is missing, prunes stale claims. Returns what it changed.
 */
export async function rebuildIndex(
  ctx: Context,
  inventory: Inventory,
  index: ClaimIndex,
): Promise<IndexDrift> {
  const drift = indexDrift(inventory, index);
  const dataset = ctx.layout.indexDataset;
  for (const s of drift.snapshots) {
    await ctx.zfs.set(dataset, { [snapshotClaimKey(s.name)]: s.branch });
  }
  for (const p of drift.ports) await claimPort(ctx, p.dataset, p.port);
  for (const key of drift.stale) await ctx.zfs.inherit(dataset, key);
  if (drift.incomplete) await ctx.zfs.set(dataset, { [INDEX_PROPS.complete]: "1" });
  return drift;
}

/** The properties of a branch slot that ports and snapshot names need. */
const SLOT_PROPS = [PROPS.branch, PROPS.state, PROPS.port];

/**
 * How snapshot names are checked: by the claims index, or, on a pool whose index is not
 * complete, on every branch slot.
 */
export type SnapshotNames = { index: ClaimIndex } | {
  slots: Pick<BranchRecord, "name" | "dataset">[];
};

/** What an operation on a few named branches knows. */
export interface BranchScope {
  /** The named branches that exist, with their containers. */
  branches: BranchRecord[];
  /** How snapshot names are checked (when asked for with `claims`). */
  names: SnapshotNames | undefined;
  /**
   * What holds ports (with `claims` and the pool's containers): every container of the
   * pool and every branch whose port claim verifies, or every branch slot without an index.
   */
  ports: { branches: PortHolder[] } | undefined;
  containers: ContainerScope;
}

/** Which containers a {@link loadBranchScope} lists. */
export type ContainerScope = "branch" | "pool";

/**
 * Reads the branches `names` (full records) of an initialised pool. `containers: "branch"`
 * lists only the one named branch's containers; `"pool"` lists all of the pool's, which
 * ports need. `claims: true` reads the claims index too, for snapshot names and (with the
 * pool's containers) ports; only on a pool whose index is not complete does it read every
 * branch slot. `known`: the branch's containers as the caller knows them for certain (it
 * made or kept them itself under the lock), instead of the engine's listing. Throws
 * {@link NotInitializedError} before `init env`, naming `what`.
 */
export async function loadBranchScope(
  ctx: Context,
  what: string,
  names: string[],
  options: { containers: ContainerScope; claims?: boolean; known?: ContainerInfo[] },
): Promise<BranchScope> {
  const { layout } = ctx;
  const datasets = [...new Set([layout.dataDataset, ...names.map((n) => layout.branchDataset(n))])];
  const labels: Record<string, string> = { [LABELS.pool]: layout.pool };
  if (options.containers === "branch" && names.length === 1) labels[LABELS.branch] = names[0];
  const [entries, index, containers] = await Promise.all([
    ctx.zfs.get(datasets, inventoryProps(ctx.zfs.flavor)),
    options.claims ? loadClaims(ctx) : undefined,
    options.known ?? ctx.runtime.list(labels),
  ]);
  const read = buildInventory(ctx, entries, containers);
  await requireInitialized(ctx, read.initialized, what);
  const scope: BranchScope = {
    branches: read.branches.filter((b) => names.includes(b.name)),
    names: undefined,
    ports: undefined,
    containers: options.containers,
  };
  if (!options.claims) return scope;
  const pool = options.containers === "pool";
  if (index?.complete) {
    scope.names = { index };
    if (pool) scope.ports = { branches: await portHolders(ctx, index, read.branches, containers) };
  } else {
    const slots = await readSlots(ctx, entries, containers);
    scope.names = { slots };
    if (pool) scope.ports = { branches: slots };
  }
  return scope;
}

/**
 * Every container of the pool (each holds its port), and the branches whose port claim
 * no container covers, read by name (`known` are read already) so their record decides.
 */
async function portHolders(
  ctx: Context,
  index: ClaimIndex,
  known: BranchRecord[],
  containers: ContainerInfo[],
): Promise<PortHolder[]> {
  const covered = new Set(containers.map((c) => c.labels[LABELS.dataset]));
  const claimants = [...index.ports.keys()].filter((d) => !covered.has(d));
  const read = new Set(known.map((b) => b.dataset));
  const unread = claimants.filter((d) => !read.has(d)).sort();
  const others = unread.length === 0
    ? []
    : buildInventory(ctx, await ctx.zfs.get(unread, SLOT_PROPS), []).branches;
  const byContainer: PortHolder[] = containers.map((c) => ({
    name: c.labels[LABELS.branch] ?? "",
    container: c,
    state: "running",
    lastPort: null,
  }));
  const byRecord = [...known, ...others].filter((b) => !b.container && index.ports.has(b.dataset));
  return [...byContainer, ...byRecord];
}

/**
 * Every branch slot (the default branch's entry from `entries`, the clones dataset's
 * children one level deep), with the few properties ports and names need: the read a
 * pool without a complete index falls back to. Its cost grows with the branches.
 */
async function readSlots(
  ctx: Context,
  entries: ZfsEntry[],
  containers: ContainerInfo[],
): Promise<BranchRecord[]> {
  const slotEntries = await ctx.zfs.get([ctx.layout.clonesDataset], SLOT_PROPS, 1);
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

/** What holds ports ({@link heldPorts}); needs a scope read with claims and the pool's containers. */
export function portView(scope: BranchScope): { branches: PortHolder[] } {
  if (!scope.ports || scope.containers !== "pool") {
    throw new Error("ports need the claims and the pool's containers");
  }
  return scope.ports;
}

/** How snapshot names are checked in a scope read with claims. */
export function snapshotNames(scope: BranchScope): SnapshotNames {
  if (!scope.names) throw new Error("snapshot names need the claims");
  return scope.names;
}

/**
 * How snapshot names are checked by an operation that read the whole inventory: by the
 * index when it is complete (so new names get claimed), else on every branch.
 */
export async function snapshotNamesOfInventory(
  ctx: Context,
  inventory: Inventory,
): Promise<SnapshotNames> {
  const index = await loadClaims(ctx);
  return index?.complete ? { index } : { slots: inventory.branches };
}

/**
 * The snapshots named `name` on any branch (zvpg's snapshot names are unique across
 * branches, so at most one unless something else made one). With the index it reads the
 * one snapshot its claim names: the cost does not grow with the pool. Without, it reads
 * `<dataset>@name` for each branch's dataset in one `zfs get`.
 */
export async function snapshotsNamed(
  ctx: Context,
  name: string,
  names: SnapshotNames,
): Promise<SnapshotRecord[]> {
  if ("slots" in names) return await snapshotsOn(ctx, name, names.slots);
  const claimant = names.index.snapshots.get(name);
  if (claimant === undefined) return [];
  return await snapshotsOn(ctx, name, [{
    name: claimant,
    dataset: ctx.layout.branchDataset(claimant),
  }]);
}

/** The snapshots `<dataset>@name` of `slots`, read in one `zfs get`. */
async function snapshotsOn(
  ctx: Context,
  name: string,
  slots: Pick<BranchRecord, "name" | "dataset">[],
): Promise<SnapshotRecord[]> {
  const branchOf = new Map(slots.map((b) => [`${b.dataset}@${name}`, b.name]));
  // sorted: one argv whatever order the branches were read in
  const entries = await ctx.zfs.get([...branchOf.keys()].sort(), inventoryProps(ctx.zfs.flavor));
  return entries.flatMap((e) => {
    const branch = branchOf.get(e.name);
    return branch === undefined ? [] : [snapshotRecord(e, branch)];
  });
}

/**
 * The snapshot `name` of any branch, or the errors of {@link findSnapshot}. A name the
 * index does not know is looked for on every branch slot before it is declared missing
 * (a snapshot made outside zvpg is found as before; only this error path reads them all).
 */
export async function findSnapshotNamed(
  ctx: Context,
  name: string,
  names: SnapshotNames,
): Promise<SnapshotRecord> {
  let found = await snapshotsNamed(ctx, name, names);
  if (found.length === 0 && "index" in names) {
    const data = await ctx.zfs.get([ctx.layout.dataDataset], SLOT_PROPS);
    found = await snapshotsOn(ctx, name, await readSlots(ctx, data, []));
  }
  return findSnapshot({ snapshots: found }, name);
}

/** Throws {@link AlreadyExistsError} when a snapshot `name` exists on any branch. */
export async function assertSnapshotNameFree(
  ctx: Context,
  name: string,
  names: SnapshotNames,
): Promise<void> {
  const [existing] = await snapshotsNamed(ctx, name, names);
  if (existing === undefined) return;
  throw new AlreadyExistsError(
    `snapshot '${name}' already exists (on branch '${existing.branch}')`,
    { hint: "snapshot names are unique across all branches: pick another name" },
  );
}

/**
 * Claims snapshot name `name` for `branch` in the index, before the snapshot is taken (a
 * crash before it is leaves a stale claim, which {@link snapshotsNamed} verifies away).
 */
export async function claimSnapshotName(
  ctx: Context,
  names: SnapshotNames,
  name: string,
  branch: string,
): Promise<void> {
  if (!("index" in names)) return;
  await ctx.zfs.set(ctx.layout.indexDataset, { [snapshotClaimKey(name)]: branch });
  names.index.snapshots.set(name, branch);
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
