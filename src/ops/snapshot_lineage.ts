/**
 * A snapshot's lineage: it and the earlier snapshots of its dataset, with their GUIDs,
 * what a transfer's increment is planned over (both when this host sends and when it
 * serves a send).
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
 * `snapshot` and the earlier snapshots of its dataset among `snapshots` (the inventory's,
 * oldest first), oldest first, with their GUIDs (one `zfs get`). A snapshot destroyed
 * meanwhile is left out; the last entry is `snapshot` only when it is still there.
 */
export async function snapshotLineage(
  ctx: Context,
  snapshots: readonly SnapshotRecord[],
  snapshot: SnapshotRecord,
): Promise<LocalSnapshot[]> {
  const dataset = datasetOf(snapshot);
  const upTo = snapshots.indexOf(snapshot);
  const own = snapshots.slice(0, upTo + 1).filter((s) => datasetOf(s) === dataset);
  const entries = await ctx.zfs.get(own.map((s) => s.zfsName), ["guid"]);
  const guids = new Map(entries.map((e) => [e.name, e.props.guid]));
  return own.flatMap((s) => {
    const guid = guids.get(s.zfsName);
    return guid === undefined ? [] : [{ name: s.name, guid }];
  });
}
