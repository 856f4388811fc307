/**
 * Snapshots pulled from a remote (`zvpg pull`), as `branch create --from <remote>/<name>`
 * finds them: in the remote-tracking datasets `<pool>/remotes/<remote>/<branch>`, read
 * here alone (the inventory reads them only when asked: they are not branches).
 *
 * @module
 */
import { ZvpgError } from "../../errors.ts";
import { type SnapshotRecord, trackedSnapshotRecord } from "../../domain/inventory.ts";
import { PROPS } from "../../domain/layout.ts";
import type { Context } from "../../context.ts";

/**
 * The snapshot `snapshot` pulled from `remote`, named `<remote>/<snapshot>` on the branch
 * `<remote>/<its branch>`: one `zfs get` of that remote's tracking datasets and their
 * snapshots. Throws when it was not pulled.
 */
export async function findPulledSnapshot(
  ctx: Context,
  remote: string,
  snapshot: string,
): Promise<SnapshotRecord> {
  const root = ctx.layout.remoteDataset(remote);
  const props = [PROPS.branch, PROPS.message, PROPS.taken, "creation", "used", "referenced"];
  const entries = await ctx.zfs.get([root], props, 2);
  const found = entries.flatMap((e) => {
    const record = e.type === "snapshot" ? trackedSnapshotRecord(ctx.layout, e) : undefined;
    return record?.name === `${remote}/${snapshot}` ? [record] : [];
  });
  if (found.length !== 1) {
    throw new ZvpgError(
      found.length === 0
        ? `snapshot '${snapshot}' of remote '${remote}' is not here`
        : `snapshot '${snapshot}' of remote '${remote}' is here ${found.length} times (${
          found.map((e) => e.zfsName).join(", ")
        })`,
      {
        hint: found.length === 0
          ? `pull it first: zvpg pull ${remote} ${snapshot}`
          : "destroy the ones you do not need (zfs destroy)",
      },
    );
  }
  return found[0];
}
