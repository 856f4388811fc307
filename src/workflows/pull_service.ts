/**
 * `zvpg pull <remote> <snapshot>`: receives a snapshot from a remote into its
 * remote-tracking dataset `<pool>/remotes/<remote>/<encoded branch>` (read-only, mounted
 * nowhere, no container; see ops/remote_receive.ts), under the pool lock.
 *
 * - From a file remote: the streams this host lacks only, oldest first (planPull: by
 *   GUID, never by name).
 * - From an ssh remote: one stream its `zvpg serve --stdio` sends, an increment from the
 *   newest snapshot this host holds of that branch (the server checks it is of the
 *   snapshot's lineage), else whole; a partial receive kept by OpenZFS is resumed (the
 *   server checks the token names that snapshot), or discarded when the server refuses it.
 * - A receive that fails or is killed leaves the snapshots received before it, which the
 *   next pull goes on from.
 *
 * @module
 */
import { GIT_BRANCH_PATTERN } from "../config/schema.ts";
import { ConfigError, StateError, ZvpgError } from "../errors.ts";
import {
  branchNameProblem,
  printable,
  validateRemoteName,
  validateSnapshotName,
} from "../domain/names.ts";
import {
  AnswerSchemas,
  PROTOCOL_VERSION,
  type RemoteRef as ServedRef,
} from "../domain/remote_protocol.ts";
import { chainOf, planPull, type RemoteRef } from "../domain/remote_refs.ts";
import { checkRemoteDir, loadRefs, refsFile } from "../ops/remote_dir.ts";
import {
  completeTracking,
  discardPartial,
  finishReceived,
  prepareTracking,
  readTracking,
  receiveFileStreams,
  receiveSshSnapshot,
  refuseDivergedName,
  setAsideTracking,
  type Tracking,
} from "../ops/remote_receive.ts";
import { fileRemoteDir, findRemote } from "../ops/remote_store.ts";
import {
  askRemote,
  RemoteRefusedError,
  type SshRemote,
  sshRemote,
} from "../ops/remote_transport.ts";
import { moveBaseHold } from "../ops/remote_holds.ts";
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
  /** The snapshot its stream was an increment from; null for a whole stream (or none). */
  base: string | null;
  /** Whether the stream resumed a partial receive. */
  resumed: boolean;
  /** The remote-tracking ZFS snapshot that holds it. */
  zfsName: string;
  /**
   * With `--force`: the remote-tracking branch what was in the way is kept as
   * (`<remote>/<branch>.pre-<time>`); null when nothing was.
   */
  keptAs: string | null;
  /** How long the pull took, in milliseconds. */
  durationMs: number;
}

type Pulled = Omit<PullResult, "remote" | "snapshot" | "durationMs">;

/** The pull command. */
export class PullService {
  private force = false;

  constructor(private readonly ctx: Context) {}

  /**
   * Pulls snapshot `name` from remote `remoteName`. With `force`, a remote-tracking
   * dataset that holds another snapshot of that name, or went another way, is kept aside
   * first (setAsideTracking) and the snapshot comes whole.
   */
  async pull(
    remoteName: string,
    name: string,
    options: { force?: boolean } = {},
  ): Promise<PullResult> {
    this.force = options.force === true;
    const started = this.ctx.now().getTime();
    validateRemoteName(remoteName);
    validateSnapshotName(name);
    const remote = findRemote(this.ctx, remoteName);
    const ssh = sshRemote(remote);
    const pulled = ssh
      ? await this.fromSsh(ssh, name)
      : await this.fromDir(remoteName, fileRemoteDir(remote, "pull"), name);
    return {
      remote: remoteName,
      snapshot: name,
      ...pulled,
      durationMs: this.ctx.now().getTime() - started,
    };
  }

  /** Receives the streams of `name` from a file remote's directory `dir`. */
  private async fromDir(remoteName: string, dir: string, name: string): Promise<Pulled> {
    checkRemoteDir(dir, "pull");
    return await this.underPoolLock(async () => {
      const { ctx } = this;
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
      let tracking = await readTracking(ctx, dataset);
      const describe = (guid: string) => refs.find((r) => r.guid === guid);
      const zfsName = `${tracking.dataset}@${name}`;
      const planFor = async (t: Tracking) =>
        planPull(
          refs,
          name,
          t.snapshots.map((s) => s.guid),
          t.snapshots.length === 0 && isCloneChain(refs, ref)
            ? await this.heldElsewhere(t)
            : new Set(),
        );
      let plan = await planFor(tracking);
      let keptAs: string | null = null;
      const result = { branch: ref.branch, guid: ref.guid, base: null, resumed: false };
      if (plan.kind === "missing") throw new Error("pull: the ref vanished");
      if (plan.kind === "present") {
        await completeTracking(ctx, tracking, describe);
        const here = tracking.snapshots.find((s) => s.guid === ref.guid)!;
        return { ...result, pulled: false, streams: 0, bytes: 0, zfsName: here.zfsName, keptAs };
      }
      if (this.force && (plan.kind === "diverged" || namedOtherwise(tracking, name, ref.guid))) {
        keptAs = await setAsideTracking(ctx, remoteName, ref.branch, tracking);
        tracking = await readTracking(ctx, dataset);
        plan = await planFor(tracking);
        if (plan.kind !== "receive") throw new Error("pull: nothing to receive after set-aside");
      }
      refuseDivergedName(
        tracking,
        name,
        ref.guid,
        `remote '${remoteName}'`,
        `delete it (zvpg snapshot delete ${remoteName}/${name}) or pull with --force, then pull again`,
      );
      if (plan.kind === "diverged") throw diverged(tracking.dataset, plan.newest, name, remoteName);
      if (plan.kind !== "receive") throw new Error("pull: an unexpected plan");
      await completeTracking(ctx, tracking, describe);
      if (tracking.snapshots.length === 0) await prepareTracking(ctx, remoteName, tracking);
      const bytes = await receiveFileStreams(
        ctx,
        remoteName,
        dir,
        plan.streams,
        tracking.dataset,
        async (stream, i) => {
          // received whole but not yet described: the next pull describes it
          faultPoint("pull.after-receive");
          await finishReceived(ctx, tracking.dataset, stream.name, stream, {
            first: i === 0 && tracking.snapshots.length === 0,
          });
        },
        "pull again",
      );
      await moveBaseHold(ctx, remoteName, zfsName);
      const base = plan.streams[0].base;
      return {
        ...result,
        base: refs.find((r) => r.guid === base)?.name ?? null,
        pulled: true,
        streams: plan.streams.length,
        bytes,
        zfsName,
        keptAs,
      };
    });
  }

  /** Receives `name` from an ssh remote's `zvpg serve --stdio`. */
  private async fromSsh(remote: SshRemote, name: string): Promise<Pulled> {
    const { ctx } = this;
    const zvpg = PROTOCOL_VERSION;
    const { refs } = await askRemote(ctx, remote, { zvpg, op: "list" }, AnswerSchemas.list);
    const ref = refs.find((r) => r.name === name);
    if (!ref) {
      throw new ZvpgError(`remote '${remote.name}' has no snapshot '${name}'`, {
        hint: `'zvpg fetch ${remote.name}' lists what it holds`,
      });
    }
    const describe = (guid: string) => {
      const r = refs.find((r) => r.guid === guid);
      return r && metaOf(r);
    };
    return await this.underPoolLock(async () => {
      const dataset = ctx.layout.remoteBranchDataset(remote.name, ref.branch);
      let tracking = await readTracking(ctx, dataset);
      let keptAs: string | null = null;
      const result = { branch: ref.branch, guid: ref.guid };
      const here = tracking.snapshots.find((s) => s.guid === ref.guid);
      if (here) {
        await completeTracking(ctx, tracking, describe);
        return {
          ...result,
          pulled: false,
          streams: 0,
          bytes: 0,
          base: null,
          resumed: false,
          zfsName: here.zfsName,
          keptAs,
        };
      }
      if (this.force && namedOtherwise(tracking, name, ref.guid)) {
        keptAs = await setAsideTracking(ctx, remote.name, ref.branch, tracking);
        tracking = await readTracking(ctx, dataset);
      }
      refuseDivergedName(
        tracking,
        name,
        ref.guid,
        `remote '${remote.name}'`,
        `delete it (zvpg snapshot delete ${remote.name}/${name}) or pull with --force, then pull again`,
      );
      await completeTracking(ctx, tracking, describe);
      // nothing of the branch here yet, but its origin is: it comes as a clone of it
      const baseOf = async (t: Tracking) => {
        const newest = t.snapshots.at(-1)?.guid ?? null;
        return newest === null && ref.origin !== null &&
            (await this.heldElsewhere(t)).has(ref.origin)
          ? ref.origin
          : newest;
      };
      let base = await baseOf(tracking);
      let received: { bytes: number; resumed: boolean };
      try {
        received = await this.receiveFromSsh(remote, ref, tracking, base, tracking.resumeToken);
      } catch (error) {
        // went another way than the server's lineage: with --force, kept aside, then whole
        if (
          this.force && error instanceof RemoteRefusedError &&
          /does not go on from/.test(error.reason)
        ) {
          keptAs = await setAsideTracking(ctx, remote.name, ref.branch, tracking);
          tracking = await readTracking(ctx, dataset);
          base = await baseOf(tracking);
          received = await this.receiveFromSsh(remote, ref, tracking, base, null);
        } else {
          const again = await this.withoutToken(error, remote, ref, tracking, base);
          if (!again) throw error;
          received = again;
        }
      }

      faultPoint("pull.after-receive");
      await finishReceived(ctx, tracking.dataset, name, metaOf(ref), {
        first: tracking.snapshots.length === 0,
      });
      // the base of the next pull: held, so no delete breaks it unasked
      await moveBaseHold(ctx, remote.name, `${tracking.dataset}@${name}`);
      return {
        ...result,
        pulled: true,
        streams: 1,
        bytes: received.bytes,
        base: refs.find((r) => r.guid === base)?.name ?? null,
        resumed: received.resumed,
        zfsName: `${tracking.dataset}@${name}`,
        keptAs,
      };
    });
  }

  /**
   * After a refused send: when the sender refused this host's resume token, the partial
   * receive is discarded and the stream asked for again from its start (its outcome
   * returned); any other error is not this one's to handle (undefined).
   */
  private async withoutToken(
    error: unknown,
    remote: SshRemote,
    ref: ServedRef,
    tracking: Tracking,
    base: string | null,
  ): Promise<{ bytes: number; resumed: boolean } | undefined> {
    if (!(error instanceof RemoteRefusedError) || tracking.resumeToken === null) return undefined;
    if (!/resume token/.test(error.reason)) return undefined;
    log.warn(`remote '${remote.name}' refused to resume: ${error.reason}; starting over`);
    // a whole receive's partial state goes with its dataset: what is left decides the base
    const fresh = await discardPartial(this.ctx, tracking);
    const again = fresh.snapshots.at(-1)?.guid ?? (base === ref.origin ? base : null);
    return await this.receiveFromSsh(remote, ref, fresh, again, null);
  }

  /**
   * One stream of `ref` from the server into `tracking`: an increment from `base` (a GUID),
   * else whole; resuming `token` if given.
   */
  private async receiveFromSsh(
    remote: SshRemote,
    ref: ServedRef,
    tracking: Tracking,
    base: string | null,
    token: string | null,
  ): Promise<{ bytes: number; resumed: boolean }> {
    const { ctx } = this;
    if (tracking.snapshots.length === 0 && token === null) {
      await prepareTracking(ctx, remote.name, tracking);
    }
    return await receiveSshSnapshot(ctx, remote, ref, tracking.dataset, {
      base,
      token,
      resumable: ctx.zfs.flavor === "openzfs",
    });
  }

  /** The GUIDs of this pool's snapshots outside `tracking` (its own and other pulls). */
  private async heldElsewhere(tracking: Tracking): Promise<Set<string>> {
    const { layout } = this.ctx;
    const guids = await this.ctx.zfs.snapshotGuids(
      [layout.dataDataset, layout.clonesDataset, layout.remotesDataset],
    );
    const prefix = `${tracking.dataset}@`;
    return new Set([...guids].filter(([name]) => !name.startsWith(prefix)).map(([, g]) => g));
  }

  private async underPoolLock<T>(action: () => Promise<T>): Promise<T> {
    const { ctx } = this;
    return await withLock(ctx.layout, async () => {
      await requireInitialized(ctx, await ctx.zfs.exists(ctx.layout.dataDataset), "pull");
      return await action();
    });
  }
}

/** Whether `tracking` holds a snapshot named `name` with another GUID than `guid`. */
function namedOtherwise(tracking: Tracking, name: string, guid: string): boolean {
  return tracking.snapshots.some((s) => s.name === name && s.guid !== guid);
}

/** Whether `ref`'s chain of streams holds a clone stream (a ref of another branch). */
function isCloneChain(refs: readonly RemoteRef[], ref: RemoteRef): boolean {
  return (chainOf(refs, ref) ?? []).some((r) => r.branch !== ref.branch);
}

/** The metadata a snapshot the server listed gets here. */
function metaOf(ref: ServedRef): { message: string; time: string; branch: string } {
  return { message: ref.message, time: ref.created, branch: ref.branch };
}

/** The tracking dataset went on from a snapshot the one pulled does not follow. */
function diverged(dataset: string, newest: string, name: string, remote: string): StateError {
  return new StateError(
    `${dataset} went on from a snapshot (GUID ${newest}) that '${name}' of remote '${remote}' does not follow`,
    { hint: "pull with --force to keep that copy aside and pull this one whole" },
  );
}
