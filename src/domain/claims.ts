/**
 * zvpg's claims index: who holds each snapshot name, and which port each branch holds by
 * record, as user properties of one leaf dataset ({@link INDEX_PROPS}). It lets the
 * operations about one branch or snapshot check a name and pick a port with one `zfs get`
 * of that dataset, instead of reading every branch of the pool.
 *
 * Invariants:
 * - a snapshot name is claimed before its snapshot is taken, and a port before a branch
 *   records it while being created or started; so once the index is complete (marked by
 *   `init env` on a new pool, or by repair), every snapshot zvpg took and every recorded
 *   port claim is in it. What is made by hand outside zvpg is not: `status health` reports
 *   it ({@link indexDrift}) and `status health --repair` adds it;
 * - a claim is a hint, verified against the snapshot or dataset it names before it refuses
 *   a name or holds a port: a claim left by a crash between claim and act, or by a destroy
 *   that did not release it, refuses and holds nothing (repair prunes it);
 * - keys are injective: a snapshot name is encoded to the lower-case alphabet of property
 *   names (`_` → `__`, `A` → `_a`); a dataset by a SHA-256 prefix, its name in the value.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Inventory } from "./inventory.ts";
import { INDEX_PROPS } from "./layout.ts";

/** The index as read from its dataset. */
export interface ClaimIndex {
  /** Whether it holds every claim of the pool (else readers fall back to reading all). */
  complete: boolean;
  /** Snapshot name → the branch that holds it. */
  snapshots: Map<string, string>;
  /** Branch dataset → the port it records. */
  ports: Map<string, number>;
}

/** The property that claims snapshot name `name`. */
export function snapshotClaimKey(name: string): string {
  const encoded = name.replace(/[A-Z_]/g, (c) => c === "_" ? "__" : `_${c.toLowerCase()}`);
  return `${INDEX_PROPS.snapshotPrefix}${encoded}`;
}

/** The snapshot name a {@link snapshotClaimKey} claims, or undefined for another key. */
export function snapshotOfKey(key: string): string | undefined {
  if (!key.startsWith(INDEX_PROPS.snapshotPrefix)) return undefined;
  return key.slice(INDEX_PROPS.snapshotPrefix.length).replace(
    /_(_|[a-z])/g,
    (_, c: string) => c === "_" ? "_" : c.toUpperCase(),
  );
}

/** The property that claims a port for branch dataset `dataset`. */
export function portClaimKey(dataset: string): string {
  const hash = createHash("sha256").update(dataset).digest("hex").slice(0, 24);
  return `${INDEX_PROPS.portPrefix}${hash}`;
}

/** The value of a port claim: the port, then the dataset (which may hold spaces). */
export function portClaimValue(port: number, dataset: string): string {
  return `${port} ${dataset}`;
}

/** Parses the user properties of the index dataset. */
export function parseClaims(props: Record<string, string>): ClaimIndex {
  const index: ClaimIndex = {
    complete: props[INDEX_PROPS.complete] === "1",
    snapshots: new Map(),
    ports: new Map(),
  };
  for (const [key, value] of Object.entries(props)) {
    const name = snapshotOfKey(key);
    if (name !== undefined && snapshotClaimKey(name) === key) index.snapshots.set(name, value);
    if (!key.startsWith(INDEX_PROPS.portPrefix)) continue;
    const m = /^([0-9]+) (.+)$/.exec(value);
    // a value that does not match its key is no claim (repair prunes it)
    if (m && portClaimKey(m[2]) === key) index.ports.set(m[2], Number(m[1]));
  }
  return index;
}

/** How the index differs from the pool (see {@link indexDrift}). */
export interface IndexDrift {
  /** The index was never completed (a pool made before it existed). */
  incomplete: boolean;
  /** Snapshots whose name no claim gives to their branch (made outside zvpg). */
  snapshots: { name: string; branch: string }[];
  /** Branches recorded creating or running on a port the index does not hold for them. */
  ports: { branch: string; dataset: string; port: number }[];
  /** Claims of snapshots or ports that no longer exist (harmless; repair prunes them). */
  stale: string[];
}

/** The port claim a branch's record makes: its port while recorded creating or running. */
export function recordedPortClaim(
  b: Inventory["branches"][number],
): number | null {
  return b.state === "running" || b.state === "creating" ? b.lastPort : null;
}

/** Where `index` disagrees with `inventory` (pure). */
export function indexDrift(inventory: Inventory, index: ClaimIndex): IndexDrift {
  const byName = new Map<string, Set<string>>();
  for (const s of inventory.snapshots) {
    byName.set(s.name, (byName.get(s.name) ?? new Set()).add(s.branch));
  }
  const snapshots: IndexDrift["snapshots"] = [];
  for (const [name, branches] of byName) {
    const claimant = index.snapshots.get(name);
    // one claim per name: a name on two branches (made by hand) keeps its claim
    if (claimant !== undefined && branches.has(claimant)) continue;
    snapshots.push({ name, branch: [...branches][0] });
  }
  const ports: IndexDrift["ports"] = [];
  const claimed = new Map<string, number>();
  for (const b of inventory.branches) {
    const port = recordedPortClaim(b);
    if (port === null) continue;
    claimed.set(b.dataset, port);
    if (index.ports.get(b.dataset) !== port) {
      ports.push({ branch: b.name, dataset: b.dataset, port });
    }
  }
  const stale = [
    ...[...index.snapshots].filter(([name, branch]) => !byName.get(name)?.has(branch))
      .map(([name]) => snapshotClaimKey(name)),
    ...[...index.ports].filter(([dataset, port]) => claimed.get(dataset) !== port)
      .map(([dataset]) => portClaimKey(dataset)),
  ];
  return { incomplete: !index.complete, snapshots, ports, stale };
}

/** Whether the index misses something (stale claims are harmless and do not count). */
export function indexMisses(d: IndexDrift): boolean {
  return d.incomplete || d.snapshots.length > 0 || d.ports.length > 0;
}

/** One line for `status health`. */
export function describeIndexDrift(d: IndexDrift): string {
  if (d.incomplete) {
    return "zvpg's claims index (snapshot names, ports) is not built (a pool from an older zvpg)";
  }
  const parts = [
    ...d.snapshots.map((s) => `snapshot '${s.name}' of branch '${s.branch}'`),
    ...d.ports.map((p) => `port ${p.port} of branch '${p.branch}'`),
  ];
  return `zvpg's claims index misses ${parts.join(", ")} (made outside zvpg?)`;
}
