/**
 * `zvpg pull <remote> <snapshot>`: receives a snapshot from a file remote into its
 * remote-tracking dataset `<pool>/remotes/<remote>/<encoded branch>` (read-only, mounted
 * nowhere, no container), the streams this host lacks only, oldest first (planPull: by
 * GUID, never by name).
 *
 * - Under the pool lock. Each stream is received with `zfs receive -u`; ZFS makes a
 *   received snapshot visible only once its stream is whole, so a failed or killed
 *   receive leaves the snapshots received before it, which the next pull goes on from
 *   (zfs-fuse has no resumable receive: a stream cut short is received again whole).
 * - The remote's metadata (message, time, branch) goes on each received snapshot as zvpg
 *   user properties, right after its receive; a pull killed in between leaves a snapshot
 *   without them, which the next pull completes (as it does `readonly=on`).
 * - A remote-tracking dataset left without any snapshot (a whole receive that never
 *   finished, on a ZFS that kept it) is destroyed before the next whole receive.
 *
 * @module
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { GIT_BRANCH_PATTERN } from "../config/schema.ts";
import { CommandFailedError, ConfigError, StateError, tail, ZvpgError } from "../errors.ts";
import { PROPS } from "../domain/layout.ts";
import { receivedSnapshotProps } from "../domain/metadata_props.ts";
import {
  branchNameProblem,
  printable,
  validateRemoteName,
  validateSnapshotName,
} from "../domain/names.ts";
import { planPull, type RemoteRef } from "../domain/remote_refs.ts";
import { checkRemoteDir, loadRefs, refsFile } from "../ops/remote_dir.ts";
import { fileRemoteDir, findRemote } from "../ops/remote_store.ts";
import { requireInitialized } from "../ops/store/load_inventory.ts";
import { faultPoint } from "../runtime/fault.ts";
import { withLock } from "../runtime/lock.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../context.ts";

/** What a pull did. */
export interface PullResult {
  remote: string;
  snapshot: string;
  /** The branch the snapshot was taken on (on the remote's side). */
  branch: string;
  /** The snapshot's ZFS GUID. */
  guid: string;
  /** false when this host held it already (same GUID). */
  pulled: boolean;
  /** The number of streams received (0 when nothing was pulled). */
  streams: number;
  /** The bytes of the streams received. */
  bytes: number;
  /** The remote-tracking ZFS snapshot that holds it. */
  zfsName: string;
}

/** A snapshot of a remote-tracking dataset. */
interface TrackedSnapshot {
  zfsName: string;
  guid: string;
  /** Whether it carries its metadata ({@link PROPS}.taken) already. */
  described: boolean;
}

/** The pull command. */
export class PullService {
  constructor(private readonly ctx: Context) {}

  /** Pulls snapshot `name` from remote `remoteName`. */
  async pull(remoteName: string, name: string): Promise<PullResult> {
    validateRemoteName(remoteName);
    validateSnapshotName(name);
    const dir = fileRemoteDir(findRemote(this.ctx, remoteName), "pull");
    checkRemoteDir(dir, "pull");
    return await withLock(this.ctx.layout, async () => {
      const { ctx } = this;
      await requireInitialized(ctx, await ctx.zfs.exists(ctx.layout.dataDataset), "pull");
      const refs = loadRefs(dir);
      const ref = refs.find((r) => r.name === name);
      if (!ref) {
        throw new ZvpgError(`remote '${remoteName}' has no snapshot '${name}'`, {
          hint: `push it there first; ${refsFile(dir)} lists what it holds`,
        });
      }
      const problem = branchNameProblem(ref.branch, GIT_BRANCH_PATTERN);
      if (problem) {
        throw new ConfigError(
          `remote index ${refsFile(dir)}: '${name}' names branch '${
            printable(ref.branch)
          }': ${problem}`,
          { hint: "fix it or pull from another directory: zvpg does not guess what it holds" },
        );
      }
      const dataset = ctx.layout.remoteBranchDataset(remoteName, ref.branch);
      const { exists, readonly, snapshots } = await this.tracked(dataset);
      const zfsName = `${dataset}@${name}`;
      const result = { remote: remoteName, snapshot: name, branch: ref.branch, guid: ref.guid };
      const plan = planPull(refs, name, snapshots.map((s) => s.guid));
      if (plan.kind === "missing") throw new Error("pull: the ref vanished");
      if (plan.kind === "present") {
        await this.complete(dataset, readonly, snapshots, refs);
        const here = snapshots.find((s) => s.guid === ref.guid)!;
        return { ...result, pulled: false, streams: 0, bytes: 0, zfsName: here.zfsName };
      }
      const named = snapshots.find((s) => s.zfsName === zfsName);
      if (named) {
        throw new StateError(
          `${zfsName} is another snapshot than '${name}' of remote '${remoteName}' (GUID ${named.guid}, not ${ref.guid})`,
          { hint: `destroy or rename ${zfsName} (zfs), then pull again` },
        );
      }
      if (plan.kind === "diverged") {
        throw new StateError(
          `${dataset} went on from a snapshot (GUID ${plan.newest}) that '${name}' of remote '${remoteName}' does not follow`,
          { hint: `destroy ${dataset} (zfs destroy -r) to pull it again whole` },
        );
      }
      await this.complete(dataset, readonly, snapshots, refs);
      if (snapshots.length === 0) await this.prepare(remoteName, dataset, exists);
      let bytes = 0;
      for (const [i, stream] of plan.streams.entries()) {
        const file = join(dir, stream.stream);
        bytes += statSync(file).size;
        log.info(
          `receiving '${stream.name}' from '${remoteName}' (${i + 1}/${plan.streams.length})`,
        );
        await receive(ctx, dataset, file, stream.name, remoteName);
        // received whole but not yet described: the next pull describes it
        faultPoint("pull.after-receive");
        if (i === 0 && snapshots.length === 0) await ctx.zfs.set(dataset, { readonly: "on" });
        await ctx.zfs.set(`${dataset}@${stream.name}`, receivedSnapshotProps(stream));
      }
      return { ...result, pulled: true, streams: plan.streams.length, bytes, zfsName };
    });
  }

  /** The remote-tracking dataset `dataset`: whether it exists, and its snapshots, oldest first. */
  private async tracked(
    dataset: string,
  ): Promise<{ exists: boolean; readonly: boolean; snapshots: TrackedSnapshot[] }> {
    const entries = await this.ctx.zfs.get([dataset], [
      "guid",
      "createtxg",
      "readonly",
      PROPS.taken,
    ], 1);
    const own = entries.find((e) => e.name === dataset);
    const snapshots = entries
      .filter((e) => e.type === "snapshot" && e.props.guid !== undefined)
      .sort((a, b) => Number(a.props.createtxg) - Number(b.props.createtxg))
      .map((e) => ({
        zfsName: e.name,
        guid: e.props.guid,
        described: e.props[PROPS.taken] !== undefined,
      }));
    return { exists: own !== undefined, readonly: own?.props.readonly === "on", snapshots };
  }

  /**
   * Completes what a killed pull left undone: `readonly=on` on the dataset, the metadata
   * of its snapshots that lack it (from the remote's refs, by GUID).
   */
  private async complete(
    dataset: string,
    readonly: boolean,
    snapshots: TrackedSnapshot[],
    refs: RemoteRef[],
  ): Promise<void> {
    if (snapshots.length > 0 && !readonly) await this.ctx.zfs.set(dataset, { readonly: "on" });
    for (const s of snapshots.filter((s) => !s.described)) {
      const ref = refs.find((r) => r.guid === s.guid);
      if (ref) await this.ctx.zfs.set(s.zfsName, receivedSnapshotProps(ref));
    }
  }

  /**
   * Makes `<pool>/remotes` (mounted nowhere) and `<pool>/remotes/<remote>` when missing,
   * and destroys a `dataset` left without snapshots by a whole receive that never finished.
   */
  private async prepare(remote: string, dataset: string, exists: boolean): Promise<void> {
    const { zfs, layout } = this.ctx;
    if (exists) {
      log.warn(`${dataset} holds no snapshot (an unfinished receive): destroying it`);
      await zfs.destroy(dataset);
      return;
    }
    const parent = layout.remoteDataset(remote);
    if (await zfs.exists(parent)) return;
    if (!(await zfs.exists(layout.remotesDataset))) {
      await zfs.create(layout.remotesDataset, { mountpoint: "none" });
    }
    await zfs.create(parent);
  }
}

/** Receives one stream into `dataset`; a stream ZFS refuses is named with what to do. */
async function receive(
  ctx: Context,
  dataset: string,
  file: string,
  name: string,
  remote: string,
): Promise<void> {
  try {
    await ctx.zfs.receiveFromFile(dataset, file);
  } catch (error) {
    if (!(error instanceof CommandFailedError)) throw error;
    throw new ZvpgError(
      `cannot receive snapshot '${name}' of remote '${remote}' from ${file}: ${tail(error.stderr)}`,
      { hint: "nothing of it was kept; push it to the remote again, then pull again" },
    );
  }
}
