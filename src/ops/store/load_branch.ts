/**
 * The narrow reads of the operations about one branch or snapshot (`branch create`,
 * `start`, `stop`, `info`, `snapshot create`, an import): each reads the datasets it
 * names, never every snapshot of the pool, and returns only what its operation needs.
 *
 * Invariants:
 * - a branch is read by its dataset name (`layout.branchDataset`, injective in the branch
 *   name), always together with the default branch's dataset, whose presence says that
 *   zvpg is initialised; a dataset whose recorded `zvpg:branch` differs is not that branch;
 * - records are made by `buildInventory` from the same entries a full read would return
 *   for them, so both reads agree on every field, except the `dependents` of snapshots,
 *   which a narrow read never fills;
 * - ports and snapshot names are read from the claims index: one `zfs get` of one dataset,
 *   plus the few branches whose port claim no container covers; only on a pool whose index
 *   is not complete is every branch slot read ({@link readSlots}).
 *
 * @module
 */
import type { ContainerInfo } from "../../adapters/container_runtime.ts";
import type { ZfsEntry } from "../../adapters/zfs.ts";
import { BranchNotFoundError } from "../../errors.ts";
import type { Context } from "../../context.ts";
import { type BranchRecord, buildInventory, inventoryProps } from "../../domain/inventory.ts";
import { LABELS } from "../../domain/layout.ts";
import type { ClaimIndex } from "../../domain/claims.ts";
import type { PortHolder, PortView } from "../ports.ts";
import { loadClaims } from "./claims_index.ts";
import { requireInitialized } from "./load_inventory.ts";
import { type NameClaims, namesByIndex, namesBySlots } from "./name_claims.ts";
import { readSlots, SLOT_PROPS } from "./read_slots.ts";

/**
 * Branch `name` with its containers, or {@link BranchNotFoundError}. `known`: its
 * containers as the caller knows them for certain (it made or kept them itself under the
 * lock), instead of the engine's listing. Throws {@link NotInitializedError} before
 * `init env`, naming `what`.
 */
export async function loadBranch(
  ctx: Context,
  what: string,
  name: string,
  options: { known?: ContainerInfo[] } = {},
): Promise<BranchRecord> {
  const read = await readNamed(ctx, what, [name], { pool: false, ...options });
  return required(read, name);
}

/** Branch `name` with its containers, or undefined when there is none (see {@link loadBranch}). */
export async function loadBranchIfExists(
  ctx: Context,
  what: string,
  name: string,
): Promise<BranchRecord | undefined> {
  return named(await readNamed(ctx, what, [name], { pool: false }), name);
}

/** What taking a snapshot of a branch reads. */
export interface SnapshotScope {
  /** The branch, with its container (a running one gets a CHECKPOINT). */
  branch: BranchRecord;
  names: NameClaims;
}

/** Reads branch `name` and the snapshot names, for a snapshot of it (`what`: see {@link loadBranch}). */
export async function loadForSnapshot(
  ctx: Context,
  what: string,
  name: string,
): Promise<SnapshotScope> {
  const read = await readNamed(ctx, what, [name], { pool: false, claims: true });
  const names = read.index?.complete
    ? namesByIndex(ctx, read.index)
    : namesBySlots(ctx, await readSlots(ctx, read.entries, read.containers));
  return { branch: required(read, name), names };
}

/** What `branch start` reads. */
export interface StartScope {
  branch: BranchRecord;
  /** What holds ports: every container of the pool, and every branch whose claim holds. */
  ports: PortView;
}

/** Reads branch `name` and what holds ports, for a start. */
export async function loadForStart(ctx: Context, name: string): Promise<StartScope> {
  const read = await readNamed(ctx, "branch start", [name], { pool: true, claims: true });
  const { ports } = await claimsOf(ctx, read);
  return { branch: required(read, name), ports };
}

/** What `branch create` reads. */
export interface CreateScope {
  /** The branch of the new name, when one exists (maybe the leftover of a create). */
  branch?: BranchRecord;
  /** The parent, when one was asked for and exists. */
  parent?: BranchRecord;
  ports: PortView;
  names: NameClaims;
}

/**
 * Reads what a create of branch `name` needs: that name (a leftover of an interrupted
 * create), `parent` when its current state is snapshotted, and the ports and snapshot
 * names (the pool's containers, for ports and the parent's CHECKPOINT).
 */
export async function loadForCreate(
  ctx: Context,
  name: string,
  parent: string | undefined,
): Promise<CreateScope> {
  const names = parent === undefined ? [name] : [name, parent];
  const read = await readNamed(ctx, "branch create", names, { pool: true, claims: true });
  return {
    branch: named(read, name),
    parent: parent === undefined ? undefined : named(read, parent),
    ...await claimsOf(ctx, read),
  };
}

/** What a narrow read found. */
interface NamedRead {
  /** The named branches that exist, with their containers. */
  branches: BranchRecord[];
  /** Every branch read: the named ones and the default branch. */
  all: BranchRecord[];
  entries: ZfsEntry[];
  containers: ContainerInfo[];
  /** The claims index, when asked for and it exists. */
  index: ClaimIndex | undefined;
}

/**
 * Reads the branches `names` of an initialised pool (full records), with the one named
 * branch's containers, or all of the pool's with `pool` (ports need them), or `known`;
 * and the claims index with `claims`.
 */
async function readNamed(
  ctx: Context,
  what: string,
  names: string[],
  options: { pool: boolean; claims?: boolean; known?: ContainerInfo[] },
): Promise<NamedRead> {
  const { layout } = ctx;
  const datasets = [...new Set([layout.dataDataset, ...names.map((n) => layout.branchDataset(n))])];
  const labels: Record<string, string> = { [LABELS.pool]: layout.pool };
  if (!options.pool && names.length === 1) labels[LABELS.branch] = names[0];
  const [entries, index, containers] = await Promise.all([
    ctx.zfs.get(datasets, inventoryProps(ctx.zfs.flavor)),
    options.claims ? loadClaims(ctx) : undefined,
    options.known ?? ctx.runtime.list(labels),
  ]);
  const read = buildInventory(ctx, entries, containers);
  await requireInitialized(ctx, read.initialized, what);
  const branches = read.branches.filter((b) => names.includes(b.name));
  return { branches, all: read.branches, entries, containers, index };
}

/** The ports and names of a read with claims and the pool's containers. */
async function claimsOf(
  ctx: Context,
  read: NamedRead,
): Promise<{ ports: PortView; names: NameClaims }> {
  const { index } = read;
  if (index?.complete) {
    const branches = await portHolders(ctx, index, read.all, read.containers);
    return { ports: { branches }, names: namesByIndex(ctx, index) };
  }
  const slots = await readSlots(ctx, read.entries, read.containers);
  return { ports: { branches: slots }, names: namesBySlots(ctx, slots) };
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

function named(read: NamedRead, name: string): BranchRecord | undefined {
  return read.branches.find((b) => b.name === name);
}

function required(read: NamedRead, name: string): BranchRecord {
  const branch = named(read, name);
  if (!branch) throw new BranchNotFoundError(name);
  return branch;
}
