/**
 * The inventory: every branch and snapshot of the pool with its containers, read with
 * one `zfs get` call and one runtime `ps` call however many there are.
 *
 * @module
 */
import type { ContainerInfo } from "../adapters/container_runtime.ts";
import type { ZfsEntry, ZfsFlavor } from "../adapters/zfs.ts";
import { AlreadyExistsError, BranchNotFoundError, SnapshotNotFoundError } from "../errors.ts";
import type { Context } from "../context.ts";
import { isHiddenSnapshot, LABELS, type Layout, PROPS } from "./layout.ts";
import { decodeBranchName } from "./names.ts";
import { parseRemoteBases } from "./remote_bases.ts";

/** Lifecycle state recorded on a branch dataset. */
export type BranchState = "creating" | "running" | "stopped" | "deleting" | "resetting";

/** What a branch is doing, from its recorded state and its container. */
export type BranchStatus =
  | "running" // container running
  | "stopped" // no container, recorded stopped
  | "failed" // container exists but is not running
  | "missing" // recorded running, but the container is gone
  | "other-runtime" // recorded running under another engine than the configured one
  | "creating" // a create is in progress (or crashed: see status health)
  | "deleting" // a delete is in progress (or crashed: see status health)
  | "resetting"; // a reset is in progress (or crashed: see status health)

/** One snapshot. */
export interface SnapshotRecord {
  name: string;
  /** The full ZFS name `dataset@name`. */
  zfsName: string;
  branch: string;
  created: Date;
  message: string;
  used: number;
  referenced: number;
  /** Branches cloned from this snapshot. */
  dependents: string[];
  tool: string | null;
  /** Taken by zvpg for itself (a branch of a parent's current state): goes when unused. */
  auto: boolean;
  /**
   * The remote it was pulled from, for a remote-tracking snapshot (named `<remote>/<name>`
   * on branch `<remote>/<branch>`); null or absent for one of this pool's branches.
   */
  remote?: string | null;
  /**
   * The remotes whose next push goes on from it (held for them: see
   * src/domain/remote_bases.ts); absent or empty when none.
   */
  remotes?: string[];
  /**
   * `sha256:<hex>` of the masking rules its data was masked with (a masked import, a
   * snapshot of a masked main or of a branch of one); absent when not masked.
   */
  masked?: string;
}

/** One branch. */
export interface BranchRecord {
  name: string;
  dataset: string;
  mountpoint: string;
  parent: string | null;
  /** The snapshot it was cloned from (bare name), null for the default branch. */
  origin: string | null;
  created: Date;
  used: number;
  referenced: number;
  /** Bytes used by the branch's own data, not counting its snapshots. */
  usedByDataset: number;
  /** Bytes held only by the branch's snapshots. */
  usedBySnapshots: number;
  /**
   * Bytes written since its latest snapshot, or since its origin when it has none
   * (OpenZFS `written`); null where ZFS does not report it (zfs-fuse).
   */
  written: number | null;
  state: BranchState;
  /** The zvpg process that is creating or deleting it (see {@link BranchState}). */
  operationPid: number | null;
  status: BranchStatus;
  /** The port it serves on now: set only while its container runs. */
  port: number | null;
  /** The port it was last started on (kept while stopped; never a live claim). */
  lastPort: number | null;
  /** The engine flavor that runs or last ran it (docker, podman, nerdctl), if recorded. */
  runtime: string | null;
  container: ContainerInfo | null;
  isDefault: boolean;
  /** When it expires (`zvpg gc` deletes it after), or null. */
  expiresAt?: Date | null;
  /** Its TTL in seconds when it was set with one (a reset restarts it), or null. */
  ttlSeconds?: number | null;
  /** Whether it is protected (refuses delete, reset, expiry and gc). */
  protected?: boolean;
  /** `sha256:<hex>` of the masking rules its data was masked with (main), or null. */
  masked?: string | null;
  /** During a reset: the state it returns to. */
  resume?: "running" | "stopped" | null;
  /** Whether this dataset is the new one of an unfinished reset (still marked `zvpg:reset-of`). */
  resetNew?: boolean;
  /** For a temporary branch of a `branch diff`/`merge`: the pid of its process, else null. */
  temporaryPid?: number | null;
  /**
   * Its birth snapshot (ZFS name: its data as its origin had it, see
   * `Layout.birthSnapshot`), or null when it has none (made by an older zvpg).
   */
  birth?: string | null;
}

/** A dataset of an unfinished reset beside its branch (see `Layout.resetDataset`). */
export interface ResetPart {
  branch: string;
  dataset: string;
  role: "new" | "old";
}

/** Everything zvpg knows about a pool. */
export interface Inventory {
  branches: BranchRecord[];
  /** Oldest first. */
  snapshots: SnapshotRecord[];
  /**
   * Datasets in zvpg's tree that zvpg did not make: anything below a branch's dataset,
   * and children of the clones dataset without zvpg metadata of their own. Reported,
   * never changed.
   */
  foreignDatasets: string[];
  /** zvpg containers of this pool whose branch dataset does not exist. */
  orphanContainers: ContainerInfo[];
  /** Datasets of unfinished resets (a reset's new clone, or a branch's old data). */
  resetParts?: ResetPart[];
  /** Whether the default branch's dataset exists. */
  initialized: boolean;
  /**
   * The snapshots pulled from remotes (`zvpg pull`), by remote, oldest first: read only
   * when asked for (`loadInventory(ctx, { tracking: true })`), else empty. Never part of
   * {@link snapshots}: they belong to no branch of this pool.
   */
  tracking?: SnapshotRecord[];
}

/** The properties every inventory read asks `zfs get` for. */
export const ZFS_PROPS = [
  "type",
  "used",
  "referenced",
  "creation",
  "createtxg",
  "origin",
  "mountpoint",
  "usedbydataset",
  "usedbysnapshots",
  ...Object.values(PROPS),
];

/** {@link ZFS_PROPS}, and what this flavor of ZFS reports beyond them. */
export function inventoryProps(flavor: ZfsFlavor): string[] {
  return flavor === "openzfs" ? [...ZFS_PROPS, "written"] : ZFS_PROPS;
}

/** Assembles the inventory from raw ZFS entries and containers (pure; unit-tested). */
export function buildInventory(
  ctx: Pick<Context, "layout" | "config">,
  entries: ZfsEntry[],
  containers: ContainerInfo[],
): Inventory {
  const { layout } = ctx;
  const datasets = entries.filter((e) => e.type === "filesystem" && layout.inTree(e.name));
  const branchOfDataset = new Map<string, string>();
  const foreignDatasets: string[] = [];
  const resetParts: ResetPart[] = [];
  for (const d of datasets) {
    const part = layout.resetPartOf(d.name);
    const partOf = d.props[PROPS.branch] ?? d.props[PROPS.resetOf];
    if (part && partOf) {
      resetParts.push({ branch: partOf, dataset: d.name, role: part.role });
      continue;
    }
    // getTree keeps only locally set zvpg properties: a user's dataset inside a branch
    // inherits none, and zvpg never makes a branch deeper than its slot
    const name = d.props[PROPS.branch];
    if (name && layout.isBranchSlot(d.name)) branchOfDataset.set(d.name, name);
    else foreignDatasets.push(d.name);
  }

  // zvpg's own hidden snapshots (a branch's birth) are no snapshot of the user's
  const hidden = new Set(
    entries.filter((e) => e.type === "snapshot" && isHiddenSnapshot(e.name.split("@")[1] ?? ""))
      .map((e) => e.name),
  );
  const snapshots: SnapshotRecord[] = entries
    .filter((e) =>
      e.type === "snapshot" && !hidden.has(e.name) && branchOfDataset.has(e.name.split("@")[0])
    )
    .map((e) => ({
      ...snapshotRecord(e, branchOfDataset.get(e.name.split("@")[0])!),
      txg: num(e.props.createtxg),
    }))
    .sort((a, b) =>
      a.txg - b.txg || a.created.getTime() - b.created.getTime() || a.name.localeCompare(b.name)
    )
    .map(({ txg: _txg, ...rest }) => rest);
  const tracking = trackedSnapshots(layout, entries);
  const snapshotByZfsName = new Map([...snapshots, ...tracking].map((s) => [s.zfsName, s]));

  const containerByBranch = new Map<string, ContainerInfo>();
  const orphanContainers: ContainerInfo[] = [];
  const branchNames = new Set(branchOfDataset.values());
  for (const c of containers) {
    const branch = c.labels[LABELS.branch];
    if (branch !== undefined && branchNames.has(branch)) {
      const previous = containerByBranch.get(branch);
      if (!previous || c.state === "running") containerByBranch.set(branch, c);
    } else orphanContainers.push(c);
  }

  const branches: BranchRecord[] = [];
  for (const d of datasets) {
    const name = branchOfDataset.get(d.name);
    if (name === undefined) continue;
    const originSnapshot = d.props.origin ? snapshotByZfsName.get(d.props.origin) : undefined;
    originSnapshot?.dependents.push(name);
    const container = containerByBranch.get(name) ?? null;
    const state = (d.props[PROPS.state] ?? "stopped") as BranchState;
    const runtime = d.props[PROPS.runtime] ?? null;
    branches.push({
      name,
      dataset: d.name,
      mountpoint: d.props.mountpoint ?? "",
      parent: d.props[PROPS.parent] ?? null,
      origin: d.props.origin ? originName(layout, d.props.origin) : null,
      created: parseTime(d.props[PROPS.created], d.props.creation),
      used: num(d.props.used),
      referenced: num(d.props.referenced),
      usedByDataset: num(d.props.usedbydataset ?? d.props.used),
      usedBySnapshots: num(d.props.usedbysnapshots),
      written: d.props.written === undefined ? null : num(d.props.written),
      state,
      operationPid: d.props[PROPS.pid] ? Number(d.props[PROPS.pid]) : null,
      status: statusOf(state, container, runtime !== null && runtime !== ctx.config.runtimeFlavor),
      port: container?.state === "running" ? containerPort(container) : null,
      lastPort: positive(d.props[PROPS.port]) ?? (container ? containerPort(container) : null),
      runtime,
      container,
      isDefault: layout.isDefault(name),
      expiresAt: d.props[PROPS.expires] ? parseTime(d.props[PROPS.expires], undefined) : null,
      ttlSeconds: positive(d.props[PROPS.ttl]),
      protected: d.props[PROPS.protected] === "on",
      masked: maskedOf(d.props[PROPS.masked]),
      resume: resumeOf(d.props[PROPS.resume]),
      resetNew: d.props[PROPS.resetOf] !== undefined,
      temporaryPid: positive(d.props[PROPS.temporary]),
      birth: hidden.has(layout.birthSnapshot(d.name)) ? layout.birthSnapshot(d.name) : null,
    });
  }
  branches.sort((a, b) =>
    Number(b.isDefault) - Number(a.isDefault) || a.created.getTime() - b.created.getTime() ||
    a.name.localeCompare(b.name)
  );
  return {
    branches,
    snapshots,
    foreignDatasets,
    orphanContainers,
    resetParts,
    initialized: branchOfDataset.has(layout.dataDataset),
    tracking,
  };
}

/**
 * The name a branch's origin snapshot goes by: its bare name, or `<remote>/<name>` for a
 * snapshot pulled from a remote (as `branch create --from` takes it).
 */
function originName(layout: Layout, zfsName: string): string | null {
  const tracked = layout.trackedSnapshotOf(zfsName);
  if (tracked) return `${tracked.remote}/${tracked.snapshot}`;
  return zfsName.split("@")[1] ?? null;
}

/** The remote-tracking snapshots among `entries`, by remote, then oldest first. */
function trackedSnapshots(layout: Layout, entries: ZfsEntry[]): SnapshotRecord[] {
  return entries
    .filter((e) => e.type === "snapshot" && !isHiddenSnapshot(e.name.split("@")[1] ?? ""))
    .flatMap((e) => {
      const record = trackedSnapshotRecord(layout, e);
      return record ? [{ ...record, txg: num(e.props.createtxg) }] : [];
    })
    .sort((a, b) =>
      a.remote.localeCompare(b.remote) || a.txg - b.txg ||
      a.created.getTime() - b.created.getTime() || a.name.localeCompare(b.name)
    )
    .map(({ txg: _txg, ...rest }) => rest);
}

/**
 * The record of a snapshot of a remote-tracking dataset (see `Layout.trackedSnapshotOf`):
 * named `<remote>/<name>`, on the branch `<remote>/<branch>` ({@link PROPS}.branch, which
 * `pull` sets, else the dataset's decoded name); undefined for any other entry.
 */
export function trackedSnapshotRecord(
  layout: Layout,
  e: ZfsEntry,
): (SnapshotRecord & { remote: string }) | undefined {
  const tracked = layout.trackedSnapshotOf(e.name);
  if (!tracked) return undefined;
  const encoded = tracked.dataset.slice(tracked.dataset.lastIndexOf("/") + 1);
  const branch = e.props[PROPS.branch] ?? decodeBranchName(encoded) ?? encoded;
  return {
    ...snapshotRecord(e, `${tracked.remote}/${branch}`),
    name: `${tracked.remote}/${tracked.snapshot}`,
    tool: null,
    auto: false,
    remote: tracked.remote,
  };
}

/** The record of one snapshot entry of `branch` (its dependents are not known here). */
export function snapshotRecord(e: ZfsEntry, branch: string): SnapshotRecord {
  const name = e.name.split("@")[1] ?? "";
  return {
    name,
    zfsName: e.name,
    branch,
    created: parseTime(e.props[PROPS.taken], e.props.creation),
    message: decodeMessage(e.props[PROPS.message] ?? ""),
    used: num(e.props.used),
    referenced: num(e.props.referenced),
    dependents: [],
    tool: e.props[PROPS.tool] ?? null,
    auto: isAutoSnapshot(name, e.props),
    ...remotesOf(e.props[PROPS.remoteBases]),
    ...(maskedOf(e.props[PROPS.masked]) ? { masked: maskedOf(e.props[PROPS.masked])! } : {}),
  };
}

/** `{remotes}` for a snapshot that is the base of pushes, else nothing. */
function remotesOf(value: string | undefined): Pick<SnapshotRecord, "remotes"> {
  const remotes = parseRemoteBases(value);
  return remotes.length > 0 ? { remotes } : {};
}

function statusOf(
  state: BranchState,
  container: ContainerInfo | null,
  otherEngine: boolean,
): BranchStatus {
  if (state === "creating" || state === "deleting" || state === "resetting") return state;
  if (container) return container.state === "running" ? "running" : "failed";
  if (state !== "running") return "stopped";
  return otherEngine ? "other-runtime" : "missing";
}

function resumeOf(value: string | undefined): "running" | "stopped" | null {
  return value === "running" || value === "stopped" ? value : null;
}

/** The host port a zvpg container publishes (its label), or null. */
export function containerPort(container: ContainerInfo): number | null {
  return positive(container.labels[LABELS.port]);
}

/**
 * The port a branch serves (or, its container exited, last served) on: its container's,
 * which its URI names, else the one it records. A start killed after its container ran
 * leaves another port recorded; this one tells the truth.
 */
export function servedPort(branch: Pick<BranchRecord, "container" | "lastPort">): number | null {
  return (branch.container ? containerPort(branch.container) : null) ?? branch.lastPort;
}

function positive(value: string | undefined): number | null {
  const n = Number(value);
  return value !== undefined && Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * Whether zvpg took a snapshot for itself: marked `zvpg:auto`, or (before that mark
 * existed) named `auto-…` with zvpg's automatic message.
 */
function isAutoSnapshot(name: string, props: Record<string, string>): boolean {
  if (props[PROPS.auto]) return true;
  return name.startsWith("auto-") &&
    decodeMessage(props[PROPS.message] ?? "").startsWith("automatic snapshot of");
}

/** Foreign datasets inside a branch's dataset, which a recursive destroy would take. */
export function foreignDatasetsIn(inventory: Inventory, branch: BranchRecord): string[] {
  return inventory.foreignDatasets.filter((d) => d.startsWith(`${branch.dataset}/`));
}

/** Finds a branch or throws {@link BranchNotFoundError}. */
export function findBranch(inventory: Pick<Inventory, "branches">, name: string): BranchRecord {
  const branch = inventory.branches.find((b) => b.name === name);
  if (!branch) throw new BranchNotFoundError(name);
  return branch;
}

/**
 * Finds the remote-tracking snapshot `<remote>/<snapshot>` among `inventory.tracking`, or
 * throws {@link SnapshotNotFoundError} (it was never pulled, or was deleted).
 */
export function findTrackedSnapshot(
  inventory: Pick<Inventory, "tracking">,
  name: string,
): SnapshotRecord & { remote: string } {
  const matches = (inventory.tracking ?? []).filter((s) => s.name === name);
  if (matches.length === 0) throw new SnapshotNotFoundError(name);
  if (matches.length > 1) {
    throw new AlreadyExistsError(
      `snapshot name '${name}' is ambiguous: it was pulled on branches ${
        matches.map((s) => `'${s.branch}'`).join(", ")
      }`,
      { hint: `delete the ones you do not need by their ZFS name (zfs destroy)` },
    );
  }
  return matches[0] as SnapshotRecord & { remote: string };
}

/** Finds a snapshot by bare name or throws {@link SnapshotNotFoundError}. */
export function findSnapshot(
  inventory: Pick<Inventory, "snapshots">,
  name: string,
): SnapshotRecord {
  const matches = inventory.snapshots.filter((s) => s.name === name);
  if (matches.length === 0) throw new SnapshotNotFoundError(name);
  if (matches.length > 1) {
    throw new AlreadyExistsError(
      `snapshot name '${name}' is ambiguous: it exists on branches ${
        matches.map((s) => `'${s.branch}'`).join(", ")
      }`,
    );
  }
  return matches[0];
}

/** Encodes a message for a ZFS user property (no tabs or newlines, which break parsing). */
export function encodeMessage(message: string): string {
  const encoded = JSON.stringify(message).slice(1, -1);
  // `zfs get` prints "-" for an unset property: store a lone "-" escaped
  return encoded === "-" ? "\\u002d" : encoded;
}

/** Inverse of {@link encodeMessage}; returns the raw text when it is not an encoding. */
export function decodeMessage(value: string): string {
  try {
    return JSON.parse(`"${value}"`);
  } catch {
    return value;
  }
}

function parseTime(iso: string | undefined, creationSeconds: string | undefined): Date {
  if (iso) {
    const date = new Date(iso);
    if (!Number.isNaN(date.getTime())) return date;
  }
  const seconds = Number(creationSeconds);
  return new Date(Number.isFinite(seconds) ? seconds * 1000 : 0);
}

function num(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** A recorded masking rules hash, or null (absent, inherited `-`, or anything else). */
export function maskedOf(value: string | undefined): string | null {
  return value !== undefined && /^sha256:[0-9a-f]{64}$/.test(value) ? value : null;
}
