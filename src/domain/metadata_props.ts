/**
 * The ZFS user properties a new snapshot or a new branch dataset is made with, and a
 * branch's expiry: the one schema the services write and the benchmarks reuse to build
 * crowded pools.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import { encodeMessage } from "./inventory.ts";
import type { Expiry } from "./duration.ts";
import { type Layout, PROPS } from "./layout.ts";

/** The properties of a snapshot zvpg takes (`autoFor`: taken for that branch's create). */
export function snapshotProps(
  message: string,
  taken: Date,
  autoFor?: string,
): Record<string, string> {
  return {
    [PROPS.message]: encodeMessage(message),
    [PROPS.taken]: taken.toISOString(),
    [PROPS.tool]: `zvpg/${VERSION}`,
    ...(autoFor === undefined ? {} : { [PROPS.auto]: autoFor }),
  };
}

/**
 * The properties of a snapshot received from a remote: its message, time and branch as the
 * remote's index records them ({@link PROPS}.branch names the branch it was taken on).
 */
export function receivedSnapshotProps(
  ref: { message: string; time: string; branch: string },
): Record<string, string> {
  return {
    [PROPS.message]: encodeMessage(ref.message),
    [PROPS.taken]: new Date(ref.time).toISOString(),
    [PROPS.branch]: ref.branch,
  };
}

/**
 * The properties of a branch's clone: its mount point, name, parent and creation time.
 * The caller adds its lifecycle state (`markCreating` while it starts the branch).
 */
export function branchProps(
  layout: Layout,
  name: string,
  parent: string,
  created: Date,
): Record<string, string> {
  return {
    mountpoint: layout.branchMount(name),
    [PROPS.branch]: name,
    [PROPS.parent]: parent,
    [PROPS.created]: created.toISOString(),
  };
}

/**
 * The name of an automatic snapshot taken at `now` (`auto-<time>-<4 hex>`): the parent
 * snapshot of a new branch or of a `reset --parent`.
 */
export function autoSnapshotName(now: Date): string {
  return `auto-${now.toISOString().replace(/[-:.]/g, "")}-${crypto.randomUUID().slice(0, 4)}`;
}

/** The expiry properties to write for `expiry` (null: never expires). */
export function expiryProps(expiry: Expiry): Record<string, string> {
  return {
    [PROPS.expires]: expiry.expiresAt.toISOString(),
    ...(expiry.ttlSeconds === null ? {} : { [PROPS.ttl]: String(expiry.ttlSeconds) }),
  };
}
