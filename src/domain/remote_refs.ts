/**
 * The refs of a file remote and the plans of push and pull over them. Pure: the index's
 * text, and which stream to send or receive, decided by GUID, never by name.
 *
 * - A remote directory holds one `zfs send` stream file per snapshot pushed, and an index
 *   of refs: for each snapshot its name, ZFS GUID, message, time, branch, the GUID of the
 *   snapshot its stream is an increment from (`base`, null for a whole stream) and its
 *   stream file.
 * - The index is read as untrusted input: a stream file name is a GUID and `.zstream`,
 *   never a path; every `base` is a ref of the index; a chain of bases never loops.
 * - push sends an increment from the newest snapshot of the lineage the remote already
 *   holds (matched by GUID, so a renamed snapshot still counts), else the whole snapshot.
 * - pull receives, oldest first, the streams from the newest snapshot the local copy
 *   holds to the one asked for; a local copy whose newest snapshot is not on that chain
 *   cannot take an increment and is refused.
 *
 * @module
 */
import { printable, remoteNameProblem, snapshotNameProblem } from "./names.ts";

/** One snapshot a remote holds. */
export interface RemoteRef {
  /** The snapshot's name. */
  name: string;
  /** Its ZFS GUID (decimal digits): its identity, kept by send and receive. */
  guid: string;
  message: string;
  /** When it was taken (RFC 3339). */
  time: string;
  /** The branch it was taken on. */
  branch: string;
  /** The GUID of the snapshot its stream is an increment from; null for a whole stream. */
  base: string | null;
  /** Its stream file, in the remote directory. */
  stream: string;
}

/** The index file of a file remote. */
export interface RefsIndex {
  version: 1;
  refs: RemoteRef[];
}

/** A snapshot on this side: its name, GUID and ZFS name. */
export interface LocalSnapshot {
  name: string;
  guid: string;
  zfsName: string;
}

/**
 * The remote and snapshot of a pulled snapshot's name, `<remote>/<snapshot>` (as
 * `branch create --from` takes it); undefined for any other name (a local snapshot's
 * name never contains `/`).
 */
export function parsePulledName(name: string): { remote: string; snapshot: string } | undefined {
  const parts = name.split("/");
  if (parts.length !== 2) return undefined;
  const [remote, snapshot] = parts;
  if (remoteNameProblem(remote) || snapshotNameProblem(snapshot)) return undefined;
  return { remote, snapshot };
}

/** The stream file of the snapshot with `guid`: a plain name, never a path. */
export function streamFileName(guid: string): string {
  return `${guid}.zstream`;
}

/** The text of the index holding `refs`. */
export function refsIndexText(refs: readonly RemoteRef[]): string {
  const index: RefsIndex = { version: 1, refs: [...refs] };
  return JSON.stringify(index, null, 2) + "\n";
}

const GUID = /^[0-9]{1,20}$/;

/** Reads the index text: every ref, or the first problem found (naming the ref). */
export function readRefsIndex(text: string): RemoteRef[] | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return { problem: `it is not valid JSON: ${(error as Error).message.replace(/\s+/g, " ")}` };
  }
  const index = doc as Partial<RefsIndex> | null;
  if (typeof index !== "object" || index === null || !Array.isArray(index.refs)) {
    return { problem: `it is not an object with a "refs" list` };
  }
  if (index.version !== 1) return { problem: `its version ${index.version} is not 1` };
  const refs: RemoteRef[] = [];
  for (const [i, entry] of index.refs.entries()) {
    const ref = readRef(entry);
    if (typeof ref === "string") return { problem: `ref #${i + 1}: ${ref}` };
    if (refs.some((r) => r.name === ref.name)) {
      return { problem: `ref '${ref.name}' is there twice` };
    }
    if (refs.some((r) => r.guid === ref.guid)) {
      return { problem: `GUID ${ref.guid} is there twice` };
    }
    refs.push(ref);
  }
  for (const ref of refs) {
    if (ref.base !== null && !refs.some((r) => r.guid === ref.base)) {
      return { problem: `ref '${ref.name}' is an increment from GUID ${ref.base}, not a ref` };
    }
    if (chainOf(refs, ref) === undefined) {
      return { problem: `ref '${ref.name}': its chain of bases loops` };
    }
  }
  return refs;
}

/** One ref, or why it is not one. */
function readRef(entry: unknown): RemoteRef | string {
  if (typeof entry !== "object" || entry === null) return "it is not an object";
  const e = entry as Record<string, unknown>;
  for (const key of ["name", "guid", "message", "time", "branch", "stream"]) {
    if (typeof e[key] !== "string") return `it has no "${key}" string`;
  }
  const ref = e as unknown as RemoteRef;
  const nameProblem = snapshotNameProblem(ref.name);
  if (nameProblem) return `name '${printable(ref.name)}': ${nameProblem}`;
  if (!GUID.test(ref.guid)) return `'${ref.name}' has GUID '${printable(ref.guid)}'`;
  if (ref.base !== null && (typeof ref.base !== "string" || !GUID.test(ref.base))) {
    return `'${ref.name}' has base '${printable(String(ref.base))}' (a GUID or null)`;
  }
  if (ref.stream !== streamFileName(ref.guid)) {
    return `'${ref.name}' names stream '${printable(ref.stream)}', not ${streamFileName(ref.guid)}`;
  }
  if (Number.isNaN(Date.parse(ref.time))) return `'${ref.name}' has time '${ref.time}'`;
  return {
    name: ref.name,
    guid: ref.guid,
    message: ref.message,
    time: ref.time,
    branch: ref.branch,
    base: ref.base ?? null,
    stream: ref.stream,
  };
}

/**
 * The refs whose streams rebuild `ref`, oldest (a whole stream) first; undefined when the
 * bases loop or leave the index.
 */
export function chainOf(refs: readonly RemoteRef[], ref: RemoteRef): RemoteRef[] | undefined {
  const chain = [ref];
  const seen = new Set([ref.guid]);
  for (let at = ref; at.base !== null;) {
    const base = refs.find((r) => r.guid === at.base);
    if (!base || seen.has(base.guid)) return undefined;
    seen.add(base.guid);
    chain.unshift(base);
    at = base;
  }
  return chain;
}

/** A snapshot a remote holds, as push plans over it. */
export type HeldRef = Pick<RemoteRef, "name" | "guid" | "branch">;

/** What push does with one snapshot. */
export type PushPlan<R extends HeldRef = RemoteRef> =
  /** The remote has this snapshot already (same GUID), under the name `ref.name`. */
  | { kind: "present"; ref: R }
  /** The remote has another snapshot of this name: pushing would replace it. */
  | { kind: "conflict"; ref: R }
  /** Send it: an increment from `base`, or whole when `base` is null. */
  | { kind: "send"; base: LocalSnapshot | null };

/**
 * What push does to put `lineage`'s last snapshot on a remote holding `refs`: `lineage`
 * is the snapshot pushed and the earlier snapshots of its dataset, oldest first.
 */
export function planPush<R extends HeldRef>(
  lineage: readonly LocalSnapshot[],
  refs: readonly R[],
): PushPlan<R> {
  const snapshot = lineage.at(-1);
  if (!snapshot) throw new Error("planPush: an empty lineage");
  const same = refs.find((r) => r.guid === snapshot.guid);
  if (same) return { kind: "present", ref: same };
  const named = refs.find((r) => r.name === snapshot.name);
  if (named) return { kind: "conflict", ref: named };
  const held = new Set(refs.map((r) => r.guid));
  const base = lineage.slice(0, -1).findLast((s) => held.has(s.guid)) ?? null;
  return { kind: "send", base };
}

/** What pull does for one ref. */
export type PullPlan =
  /** No ref of this name. */
  | { kind: "missing" }
  /** The local copy holds it already. */
  | { kind: "present"; ref: RemoteRef }
  /** The local copy's newest snapshot (GUID `newest`) is not on the ref's chain. */
  | { kind: "diverged"; ref: RemoteRef; newest: string }
  /** Receive these refs' streams, oldest first. */
  | { kind: "receive"; ref: RemoteRef; streams: RemoteRef[] };

/**
 * What pull receives to get ref `name` from `refs` into a local copy whose snapshots
 * have the GUIDs `local`, oldest first (none: no local copy yet). With no local copy, a
 * branch whose origin this host holds `elsewhere` (GUIDs of its other datasets) starts
 * from its clone stream: it arrives as a clone of that origin, not whole.
 */
export function planPull(
  refs: readonly RemoteRef[],
  name: string,
  local: readonly string[],
  elsewhere: ReadonlySet<string> = new Set(),
): PullPlan {
  const ref = refs.find((r) => r.name === name);
  if (!ref) return { kind: "missing" };
  if (local.includes(ref.guid)) return { kind: "present", ref };
  const chain = chainOf(refs, ref);
  if (!chain) throw new Error(`planPull: ref '${name}' has no chain (a checked index has one)`);
  const newest = local.at(-1);
  if (newest === undefined) {
    const origin = chain.findLastIndex((r, i) =>
      i + 1 < chain.length && elsewhere.has(r.guid) && chain[i + 1].branch !== r.branch
    );
    return { kind: "receive", ref, streams: chain.slice(origin + 1) };
  }
  const at = chain.findIndex((r) => r.guid === newest);
  if (at < 0) return { kind: "diverged", ref, newest };
  return { kind: "receive", ref, streams: chain.slice(at + 1) };
}

/** A snapshot a remote holds, as clone picks among them. */
export interface CloneCandidate {
  name: string;
  branch: string;
  /** When it was taken (RFC 3339). */
  time: string;
}

/**
 * The snapshot `zvpg clone` copies from a remote holding `refs`: `name` when given (of any
 * branch), else the newest of branch `main` (by time; of equal times, the last listed);
 * or why there is none, and what to do.
 */
export function cloneTarget<R extends CloneCandidate>(
  refs: readonly R[],
  main: string,
  name?: string,
): R | { problem: string; hint: string } {
  if (name !== undefined) {
    return refs.find((r) => r.name === name) ??
      {
        problem: `has no snapshot '${name}'`,
        hint: "name one it holds, or leave --snapshot out for the newest of main",
      };
  }
  const ofMain = refs.filter((r) => r.branch === main);
  if (ofMain.length === 0) {
    return {
      problem: `has no snapshot of branch '${main}'`,
      hint:
        `snapshot its ${main} there first (to a file remote: push one), or name one with --snapshot`,
    };
  }
  return ofMain.reduce((newest, r) => Date.parse(r.time) >= Date.parse(newest.time) ? r : newest);
}
