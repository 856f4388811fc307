/**
 * A snapshot's lineage: what a transfer's increment can start from, with GUIDs (both when
 * this host sends and when it serves a send).
 *
 * - The earlier snapshots of its dataset, oldest first, then the snapshot itself.
 * - For a branch (a clone), its origin snapshot comes first: `zfs send -i <origin>` of a
 *   clone's snapshot is a clone stream, which a receiver holding the origin (any dataset,
 *   found by GUID) receives as a clone — a branch travels as its own blocks only.
 *
 * @module
 */
import type { SnapshotRecord } from "../domain/inventory.ts";
import type { LocalSnapshot } from "../domain/remote_refs.ts";
import type { Context } from "../context.ts";

/** The dataset a snapshot is of (its ZFS name before `@`). */
export function datasetOf(snapshot: { zfsName: string }): string {
  return snapshot.zfsName.slice(0, snapshot.zfsName.indexOf("@"));
}

/**
 * `snapshot`'s lineage among `snapshots` (the inventory's, oldest first): its dataset's
 * origin when it is a clone, the earlier snapshots of its dataset, then it; each with its
 * GUID (one `zfs get`). A snapshot destroyed meanwhile is left out; the last entry is
 * `snapshot` only when it is still there.
 */
export async function snapshotLineage(
  ctx: Context,
  snapshots: readonly SnapshotRecord[],
  snapshot: SnapshotRecord,
): Promise<LocalSnapshot[]> {
  const dataset = datasetOf(snapshot);
  const upTo = snapshots.indexOf(snapshot);
  const own = snapshots.slice(0, upTo + 1).filter((s) => datasetOf(s) === dataset);
  const entries = await ctx.zfs.get([dataset, ...own.map((s) => s.zfsName)], ["guid", "origin"]);
  const origin = entries.find((e) => e.name === dataset)?.props.origin;
  const guids = new Map(entries.map((e) => [e.name, e.props.guid]));
  const lineage = own.flatMap((s) => {
    const guid = guids.get(s.zfsName);
    return guid === undefined ? [] : [{ name: s.name, guid, zfsName: s.zfsName }];
  });
  if (origin === undefined || !origin.includes("@")) return lineage;
  const originGuid = await ctx.zfs.guid(origin);
  if (originGuid === undefined) return lineage;
  return [
    { name: origin.slice(origin.indexOf("@") + 1), guid: originGuid, zfsName: origin },
    ...lineage,
  ];
}
