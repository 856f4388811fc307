/**
 * Snapshots pulled from a remote (`zvpg pull`), as `branch create --from <remote>/<name>`
 * finds them: in the remote-tracking datasets `<pool>/remotes/<remote>/<branch>`, which
 * the inventory never reads (they are not branches).
 *
 * @module
 */
import { ZvpgError } from "../../errors.ts";
import { decodeMessage, type SnapshotRecord } from "../../domain/inventory.ts";
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
  const found = entries.filter((e) =>
    e.type === "snapshot" && e.name.endsWith(`@${snapshot}`) &&
    e.name.slice(0, e.name.indexOf("@")).lastIndexOf("/") === root.length
  );
  if (found.length !== 1) {
    throw new ZvpgError(
      found.length === 0
        ? `snapshot '${snapshot}' of remote '${remote}' is not here`
        : `snapshot '${snapshot}' of remote '${remote}' is here ${found.length} times (${
          found.map((e) => e.name).join(", ")
        })`,
      {
        hint: found.length === 0
          ? `pull it first: zvpg pull ${remote} ${snapshot}`
          : "destroy the ones you do not need (zfs destroy)",
      },
    );
  }
  const [entry] = found;
  const p = entry.props;
  const taken = p[PROPS.taken] ? new Date(p[PROPS.taken]) : new Date(Number(p.creation) * 1000);
  const encodedBranch = entry.name.slice(root.length + 1, entry.name.indexOf("@"));
  return {
    name: `${remote}/${snapshot}`,
    zfsName: entry.name,
    branch: `${remote}/${p[PROPS.branch] ?? encodedBranch}`,
    created: taken,
    message: p[PROPS.message] ? decodeMessage(p[PROPS.message]) : "",
    used: Number(p.used) || 0,
    referenced: Number(p.referenced) || 0,
    dependents: [],
    tool: null,
    auto: false,
  };
}
