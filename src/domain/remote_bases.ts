/**
 * The base of the next push to a remote: the newest snapshot of a lineage both sides
 * hold (by GUID). While it lives, the next push sends only what changed since it; once it
 * is destroyed, the next push sends everything again. So zvpg keeps it alive:
 *
 * - It is held with `zfs hold zvpg-remote-<remote>` (ZFS refuses to destroy it), and
 *   recorded in its user property `zvpg:remote-bases` (the remotes, comma-separated):
 *   zfs-fuse has no `zfs holds` (it needs a Python module Debian does not ship), so the
 *   record is what names the remotes; the inventory reads it with every snapshot.
 * - Every command that destroys snapshots refuses one that is a base, naming it and the
 *   remote ({@link remoteBaseError}); with `--force` it releases the hold and goes on.
 *   `gc` keeps it and says why.
 *
 * The steps that act are in src/ops/remote_holds.ts.
 *
 * @module
 */
import { StateError } from "../errors.ts";

/** The prefix of the hold tags zvpg puts on the bases of pushes. */
export const REMOTE_HOLD_PREFIX = "zvpg-remote-";

/** The `zfs hold` tag on the base of the next push to `remote`. */
export function remoteHoldTag(remote: string): string {
  return `${REMOTE_HOLD_PREFIX}${remote}`;
}

/** The remote a hold tag is for, or undefined when it is no tag of a remote. */
export function remoteOfHoldTag(tag: string): string | undefined {
  return tag.startsWith(REMOTE_HOLD_PREFIX) && tag.length > REMOTE_HOLD_PREFIX.length
    ? tag.slice(REMOTE_HOLD_PREFIX.length)
    : undefined;
}

/** The remotes a `zvpg:remote-bases` value names (none for undefined or empty). */
export function parseRemoteBases(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(",").map((r) => r.trim()).filter((r) => r !== ""))].sort();
}

/** The `zvpg:remote-bases` value for `remotes`, or undefined for none (the property goes). */
export function remoteBasesValue(remotes: Iterable<string>): string | undefined {
  const sorted = [...new Set(remotes)].sort();
  return sorted.length === 0 ? undefined : sorted.join(",");
}

/** A snapshot and the remotes whose next push goes on from it. */
export interface RemoteBase {
  /** Its bare name. */
  name: string;
  /** Its ZFS name `dataset@name`. */
  zfsName: string;
  remotes: string[];
}

/** The snapshots among `snapshots` that are bases of pushes. */
export function remoteBasesAmong(
  snapshots: { name: string; zfsName: string; remotes?: string[] }[],
): RemoteBase[] {
  return snapshots
    .filter((s) => (s.remotes ?? []).length > 0)
    .map((s) => ({ name: s.name, zfsName: s.zfsName, remotes: [...s.remotes!] }));
}

/** "remote 'a'" or "remotes 'a', 'b'". */
export function remotesPhrase(remotes: string[]): string {
  const quoted = remotes.map((r) => `'${r}'`).join(", ");
  return remotes.length === 1 ? `remote ${quoted}` : `remotes ${quoted}`;
}

/** What a base is to its remotes: "the base of the next push to remote 'a'". */
export function baseOfPushes(remotes: string[]): string {
  return `the base of the next push to ${remotesPhrase(remotes)}`;
}

/** Why a snapshot is kept: "snapshot 's' is the base of the next push to remote 'a'". */
export function remoteBaseReason(base: Pick<RemoteBase, "name" | "remotes">): string {
  // a received snapshot (`<remote>/<name>`) is the base of the next transfer with its remote
  return base.name.includes("/")
    ? `snapshot '${base.name}' is the base of the next transfer with ${remotesPhrase(base.remotes)}`
    : `snapshot '${base.name}' is ${baseOfPushes(base.remotes)}`;
}

/** The refusal to destroy the first of `bases` (without `--force`). */
export function remoteBaseError(bases: RemoteBase[]): StateError {
  const [first] = bases;
  const more = bases.length > 1
    ? ` (and ${bases.length - 1} more: ${bases.slice(1).map((b) => `'${b.name}'`).join(", ")})`
    : "";
  return new StateError(`${remoteBaseReason(first)}${more}`, {
    hint: first.name.includes("/")
      ? "pass --force to delete it anyway (the next transfer sends it whole)"
      : "push again first, or pass --force to delete it anyway (the next push sends it whole)",
  });
}
