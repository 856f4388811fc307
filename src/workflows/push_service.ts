/**
 * `zvpg push <remote> <snapshot>`: puts a snapshot on a file remote as a `zfs send`
 * stream, an increment from the newest snapshot of its branch the remote holds (matched
 * by GUID), else whole. Nothing in the pool changes: it reads the inventory, the GUIDs
 * and sends; the remote directory is changed under its own lock.
 *
 * @module
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { StateError, ZvpgError } from "../errors.ts";
import { findSnapshot, type SnapshotRecord } from "../domain/inventory.ts";
import { validateRemoteName, validateSnapshotName } from "../domain/names.ts";
import { type LocalSnapshot, planPush, streamFileName } from "../domain/remote_refs.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import { addRef, loadRefs, withRemoteDir } from "../ops/remote_dir.ts";
import { fileRemoteDir, findRemote } from "../ops/remote_store.ts";
import type { Context } from "../context.ts";

/** What a push did. */
export interface PushResult {
  remote: string;
  snapshot: string;
  branch: string;
  /** The snapshot's ZFS GUID. */
  guid: string;
  /** false when the remote held it already (same GUID). */
  pushed: boolean;
  /** The snapshot its stream is an increment from; null for a whole stream (or none). */
  base: string | null;
  /** The bytes of the stream written (0 when nothing was pushed). */
  bytes: number;
}

/** The push command. */
export class PushService {
  constructor(private readonly ctx: Context) {}

  /** Pushes snapshot `name` to remote `remoteName`. */
  async push(remoteName: string, name: string): Promise<PushResult> {
    validateRemoteName(remoteName);
    validateSnapshotName(name);
    const dir = fileRemoteDir(findRemote(this.ctx, remoteName), "push");
    const inventory = await loadInitializedInventory(this.ctx, "push", { containers: false });
    const snapshot = findSnapshot(inventory, name);
    const lineage = await this.lineage(inventory.snapshots, snapshot);
    const guid = lineage.at(-1)?.name === name ? lineage.at(-1)!.guid : undefined;
    if (guid === undefined) {
      throw new ZvpgError(`cannot read the GUID of snapshot '${name}' (${snapshot.zfsName})`, {
        hint: "run 'zvpg status health' to check the pool",
      });
    }
    const result = { remote: remoteName, snapshot: name, branch: snapshot.branch, guid };
    return await withRemoteDir(dir, "push", async () => {
      const plan = planPush(lineage, loadRefs(dir));
      if (plan.kind === "present") return { ...result, pushed: false, base: null, bytes: 0 };
      if (plan.kind === "conflict") {
        throw new StateError(
          `remote '${remoteName}' holds another snapshot named '${name}' (from branch '${plan.ref.branch}')`,
          { hint: "snapshot names are unique on a remote: rename one of them" },
        );
      }
      const base = plan.base;
      const ref = {
        name,
        guid,
        message: snapshot.message,
        time: snapshot.created.toISOString(),
        branch: snapshot.branch,
        base: base?.guid ?? null,
        stream: streamFileName(guid),
      };
      const from = base ? { from: zfsNameOf(snapshot, base) } : {};
      await addRef(dir, ref, (file) => this.ctx.zfs.sendToFile(snapshot.zfsName, file, from));
      const bytes = statSync(join(dir, ref.stream)).size;
      return { ...result, pushed: true, base: base?.name ?? null, bytes };
    });
  }

  /**
   * The snapshot and the earlier ones of its dataset, oldest first, with their GUIDs (one
   * `zfs get`).
   */
  private async lineage(
    snapshots: SnapshotRecord[],
    snapshot: SnapshotRecord,
  ): Promise<LocalSnapshot[]> {
    const dataset = datasetOf(snapshot);
    const upTo = snapshots.indexOf(snapshot);
    const own = snapshots.slice(0, upTo + 1).filter((s) => datasetOf(s) === dataset);
    const entries = await this.ctx.zfs.get(own.map((s) => s.zfsName), ["guid"]);
    const guids = new Map(entries.map((e) => [e.name, e.props.guid]));
    return own.flatMap((s) => {
      const guid = guids.get(s.zfsName);
      return guid === undefined ? [] : [{ name: s.name, guid }];
    });
  }
}

function datasetOf(snapshot: SnapshotRecord): string {
  return snapshot.zfsName.slice(0, snapshot.zfsName.indexOf("@"));
}

/** The full ZFS name of `base`, a snapshot of the same dataset as `snapshot`. */
function zfsNameOf(snapshot: SnapshotRecord, base: LocalSnapshot): string {
  return `${datasetOf(snapshot)}@${base.name}`;
}
