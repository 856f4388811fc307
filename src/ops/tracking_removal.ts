/**
 * Removing snapshots pulled from a remote (`snapshot delete <remote>/<name>`, `remote
 * remove`): the `zvpg-remote-*` holds that keep a remote's incremental base are released
 * first, then ZFS destroys them. The caller holds the pool lock and has refused when a
 * branch is cloned from one of them: ZFS would refuse too, and a user's branch never goes
 * unnamed.
 *
 * @module
 */
import { CommandFailedError, tail, ZvpgError } from "../errors.ts";
import { REMOTE_HOLD_PREFIX, remoteHoldTag } from "../domain/layout.ts";
import type { SnapshotRecord } from "../domain/inventory.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../context.ts";

/** A remote-tracking snapshot: its ZFS name and the remote it came from. */
type Tracked = Pick<SnapshotRecord, "name" | "zfsName"> & { remote: string };

/**
 * Releases every `zvpg-remote-*` hold on `snapshots`. Where ZFS cannot list the tags
 * (zfs-fuse), the tag of the snapshot's own remote is released; a hold of another tag is
 * left for ZFS to refuse the destroy with.
 */
export async function releaseRemoteHolds(ctx: Context, snapshots: Tracked[]): Promise<void> {
  if (snapshots.length === 0) return;
  const held = await ctx.zfs.holds(snapshots.map((s) => s.zfsName));
  for (const s of snapshots) {
    const holds = held.get(s.zfsName);
    if (!holds) continue;
    const tags = holds.tags?.filter((t) => t.startsWith(REMOTE_HOLD_PREFIX)) ??
      [remoteHoldTag(s.remote)];
    for (const tag of tags) await ctx.zfs.release(tag, s.zfsName);
  }
}

/**
 * Destroys the remote-tracking snapshot `snapshot`, its holds released first, and its
 * dataset after it when it was its last snapshot (`last`). Returns the datasets
 * destroyed.
 */
export async function destroyTrackedSnapshot(
  ctx: Context,
  snapshot: Tracked,
  last: boolean,
): Promise<string[]> {
  await releaseRemoteHolds(ctx, [snapshot]);
  await destroyOrExplain(ctx, snapshot.zfsName, `snapshot '${snapshot.name}'`);
  if (!last) return [];
  const dataset = snapshot.zfsName.split("@")[0];
  // not recursive: a dataset that still holds anything (a user's snapshot) stays
  await destroyOrExplain(ctx, dataset, `remote-tracking dataset ${dataset}`);
  log.info(`destroyed ${dataset}: it held no other snapshot`);
  return [dataset];
}

/**
 * Destroys every remote-tracking dataset of `remote` (`<pool>/remotes/<remote>`, with
 * `snapshots`, its snapshots, whose holds are released first).
 */
export async function destroyRemoteTracking(
  ctx: Context,
  remote: string,
  snapshots: Tracked[],
): Promise<void> {
  await releaseRemoteHolds(ctx, snapshots);
  const root = ctx.layout.remoteDataset(remote);
  await destroyOrExplain(ctx, root, `the remote-tracking datasets of '${remote}' (${root})`, {
    recursive: true,
  });
}

/** `zfs destroy`; a refusal is one line naming what stays and what to do. */
async function destroyOrExplain(
  ctx: Context,
  name: string,
  what: string,
  options: { recursive?: boolean } = {},
): Promise<void> {
  try {
    await ctx.zfs.destroy(name, options);
  } catch (error) {
    if (!(error instanceof CommandFailedError)) throw error;
    const reason = tail(error.stderr);
    throw new ZvpgError(`cannot destroy ${what}: ${reason}`, {
      hint: /clone/i.test(reason)
        ? "a dataset zvpg did not make is cloned from it: destroy or promote that one (zfs), then run this again"
        : /busy/i.test(reason)
        ? "a hold zvpg did not put keeps it (see 'zfs holds'): release it (zfs release), then run this again"
        : "see 'zfs list -t all' for what is left, then run this again",
    });
  }
}
