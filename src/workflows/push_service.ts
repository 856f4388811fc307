/**
 * `zvpg push <remote> <snapshot|branch>`: puts a snapshot on a remote, an increment from
 * the newest snapshot of its lineage the remote holds (matched by GUID), else whole. A
 * branch is pushed as a snapshot taken now (`push-<time>`, CHECKPOINT first).
 *
 * - A file remote gets a `zfs send` stream file; its directory is changed under its own
 *   lock.
 * - An ssh remote receives the stream with its `zvpg serve --stdio`, under its name for
 *   this host (`<source>/<snapshot>`); it first says what it holds of that branch (the
 *   base), and a partial receive it kept (OpenZFS) is resumed once this host's ZFS has
 *   read that the token names this very snapshot.
 * - In this pool only the hold on the base of the next push changes (src/ops/remote_holds.ts:
 *   the pushed snapshot, under the pool lock).
 *
 * @module
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { StateError, ZvpgError } from "../errors.ts";
import { findSnapshot, type Inventory, type SnapshotRecord } from "../domain/inventory.ts";
import { snapshotBranch } from "../ops/take_snapshot.ts";
import { validateRemoteName, validateSnapshotName } from "../domain/names.ts";
import { identityOf, type Remote } from "../domain/remote.ts";
import { AnswerSchemas, PROTOCOL_VERSION } from "../domain/remote_protocol.ts";
import { type LocalSnapshot, planPush, streamFileName } from "../domain/remote_refs.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import { addRef, loadRefs, setAsideRef, withRemoteDir } from "../ops/remote_dir.ts";
import { fileRemoteDir, findRemote } from "../ops/remote_store.ts";
import { askRemote, type SshRemote, sshRemote, streamToRemote } from "../ops/remote_transport.ts";
import { datasetOf, snapshotLineage } from "../ops/snapshot_lineage.ts";
import { TransferProgress } from "../ops/transfer_progress.ts";
import { holdPushedBase } from "../ops/remote_holds.ts";
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
  /** The bytes of the stream sent (0 when nothing was pushed). */
  bytes: number;
  /** The name the remote shows it by: `<this host's name there>/<snapshot>` over ssh. */
  remoteName: string;
  /** Whether the stream resumed a partial receive the remote kept. */
  resumed: boolean;
  /**
   * With `--force`: what was in the way on the remote is kept as this (a branch there over
   * ssh, `<branch>.pre-<time>`; a ref name in a directory, `<name>.pre-<time>`); else null.
   */
  keptAs: string | null;
  /** Whether the push took `snapshot` first (it was given a branch). */
  taken: boolean;
  /** How long the push took, in milliseconds. */
  durationMs: number;
}

type Pushed = Omit<
  PushResult,
  "remote" | "snapshot" | "branch" | "guid" | "taken" | "durationMs"
>;

/** The name of the snapshot a push of a branch takes: `push-<UTC time>`. */
export function pushSnapshotName(now: Date): string {
  return `push-${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "")}`;
}

/** The push command. */
export class PushService {
  private force = false;

  constructor(private readonly ctx: Context, private readonly hostname = Deno.hostname) {}

  /**
   * Pushes snapshot (or branch) `name` to remote `remoteName`. With `force`, what the
   * remote holds in the way (another snapshot of that name, a line that went another way)
   * is kept aside there first, and said so.
   */
  async push(
    remoteName: string,
    name: string,
    options: { force?: boolean } = {},
  ): Promise<PushResult> {
    this.force = options.force === true;
    const started = this.ctx.now().getTime();
    validateRemoteName(remoteName);
    const remote = findRemote(this.ctx, remoteName);
    const ssh = sshRemote(remote);
    const dir = ssh ? undefined : fileRemoteDir(remote, "push");
    const { inventory, snapshot, taken } = await this.snapshotToPush(remote, name);
    const lineage = await snapshotLineage(this.ctx, inventory.snapshots, snapshot);
    name = snapshot.name;
    const guid = lineage.at(-1)?.name === name ? lineage.at(-1)!.guid : undefined;
    if (guid === undefined) {
      throw new ZvpgError(`cannot read the GUID of snapshot '${name}' (${snapshot.zfsName})`, {
        hint: "run 'zvpg status health' to check the pool",
      });
    }
    const result = { remote: remoteName, snapshot: name, branch: snapshot.branch, guid };
    const pushed = ssh
      ? await this.toSsh(ssh, snapshot, lineage)
      : await this.toDir(dir!, remote, snapshot, lineage);
    return { ...result, ...pushed, taken, durationMs: this.ctx.now().getTime() - started };
  }

  /**
   * The snapshot `name` names; or, when `name` is a branch and no snapshot, a new snapshot
   * of it (`push-<time>`, after a CHECKPOINT when it runs, as `snapshot create` takes it),
   * so what is pushed is the branch as it is now.
   */
  private async snapshotToPush(
    remote: Remote,
    name: string,
  ): Promise<{ inventory: Inventory; snapshot: SnapshotRecord; taken: boolean }> {
    const { ctx } = this;
    const inventory = await loadInitializedInventory(ctx, "push", { containers: false });
    const isSnapshot = inventory.snapshots.some((s) => s.name === name);
    if (isSnapshot || !inventory.branches.some((b) => b.name === name)) {
      validateSnapshotName(name);
      const snapshot = findSnapshot(inventory, name);
      refuseUnmasked(remote, `snapshot '${name}'`, snapshot.masked);
      return { inventory, snapshot, taken: false };
    }
    const branch = inventory.branches.find((b) => b.name === name)!;
    refuseUnmasked(remote, `branch '${name}'`, branch.masked ?? undefined);
    const taken = await snapshotBranch(ctx, pushSnapshotName(ctx.now()), {
      branch: name,
      message: `pushed to '${remote.name}'`,
    });
    const after = await loadInitializedInventory(ctx, "push", { containers: false });
    return { inventory: after, snapshot: findSnapshot(after, taken.name), taken: true };
  }

  /** Adds the snapshot's stream to a file remote's directory. */
  private async toDir(
    dir: string,
    remote: Remote,
    snapshot: SnapshotRecord,
    lineage: LocalSnapshot[],
  ): Promise<Pushed> {
    const { name } = snapshot;
    const guid = lineage.at(-1)!.guid;
    const untouched = {
      pushed: false,
      base: null,
      bytes: 0,
      remoteName: name,
      resumed: false,
      keptAs: null,
    };
    return await withRemoteDir(dir, "push", async () => {
      let plan = planPush(lineage, loadRefs(dir));
      if (plan.kind === "present") {
        await holdPushedBase(this.ctx, remote.name, snapshot.zfsName, { ifNewest: true });
        return untouched;
      }
      let keptAs: string | null = null;
      if (plan.kind === "conflict") {
        if (!this.force) throw conflict(remote.name, name, plan.ref.branch);
        keptAs = setAsideRef(dir, name, this.ctx.now());
        plan = planPush(lineage, loadRefs(dir));
        if (plan.kind !== "send") throw new Error("push: nothing to send after set-aside");
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
      const from = base ? { from: base.zfsName } : {};
      await addRef(dir, ref, (file) => this.ctx.zfs.sendToFile(snapshot.zfsName, file, from));
      const bytes = statSync(join(dir, ref.stream)).size;
      await holdPushedBase(this.ctx, remote.name, snapshot.zfsName);
      return { ...untouched, pushed: true, base: base?.name ?? null, bytes, keptAs };
    });
  }

  /** Streams the snapshot to an ssh remote's `zvpg serve --stdio`. */
  private async toSsh(
    remote: SshRemote,
    snapshot: SnapshotRecord,
    lineage: LocalSnapshot[],
  ): Promise<Pushed> {
    const { ctx } = this;
    const zvpg = PROTOCOL_VERSION;
    const source = identityOf(this.hostname());
    // a branch's origin (another dataset's snapshot) leads its lineage
    const origin = lineage.length > 0 && datasetOf(lineage[0]) !== datasetOf(snapshot)
      ? lineage[0]
      : undefined;
    const held = await askRemote(
      ctx,
      remote,
      {
        zvpg,
        op: "tracked",
        source,
        branch: snapshot.branch,
        candidates: origin ? [origin.guid] : [],
      },
      AnswerSchemas.tracked,
    );
    const remoteName = `${held.source}/${snapshot.name}`;
    const untouched = {
      pushed: false,
      base: null,
      bytes: 0,
      remoteName,
      resumed: false,
      keptAs: null,
    };
    const refs = held.snapshots.map((s) => ({ ...s, branch: snapshot.branch }));
    const plan = planPush(lineage, refs);
    if (plan.kind === "present") {
      await holdPushedBase(ctx, remote.name, snapshot.zfsName, { ifNewest: true });
      return untouched;
    }
    const cloneBase = origin && held.held.includes(origin.guid) ? origin : null;
    const newest = held.snapshots.at(-1)?.guid ?? null;
    // nothing of the branch there yet, but its origin is: it goes as a clone of it
    let base = newest === null && cloneBase ? cloneBase : plan.kind === "send" ? plan.base : null;
    const inTheWay = plan.kind === "conflict" ||
      ((base?.guid ?? null) !== newest && base !== cloneBase);
    if (inTheWay && !this.force) {
      if (plan.kind === "conflict") throw conflict(remote.name, remoteName, snapshot.branch);
      throw new StateError(
        `remote '${remote.name}' went on from a snapshot (GUID ${newest}) that '${snapshot.name}' does not follow`,
        { hint: `push with --force to keep its copy aside there and push this one` },
      );
    }
    // with --force the server keeps what is in the way aside: the stream starts afresh
    if (inTheWay) base = cloneBase;
    const token = !inTheWay && held.resumeToken !== null &&
        await this.tokenNames(held.resumeToken, snapshot, lineage)
      ? held.resumeToken
      : undefined;
    const progress = new TransferProgress(`push '${snapshot.name}' to '${remote.name}'`);
    const size = token === undefined && progress.terminal
      ? await ctx.zfs.sendSize(snapshot.zfsName, base ? { from: base.zfsName } : {})
      : undefined;
    const { bytes, answer } = await streamToRemote(
      ctx,
      remote,
      {
        zvpg,
        op: "receive",
        source,
        ref: {
          name: snapshot.name,
          guid: lineage.at(-1)!.guid,
          branch: snapshot.branch,
          created: snapshot.created.toISOString(),
          message: snapshot.message,
          referenced: snapshot.referenced,
          origin: origin?.guid ?? null,
        },
        base: base?.guid ?? null,
        resume: token !== undefined,
        force: inTheWay,
      },
      (out, signal) =>
        ctx.zfs.sendStream(snapshot.zfsName, out, {
          ...(token !== undefined ? { token } : base ? { from: base.zfsName } : {}),
          signal,
        }),
      AnswerSchemas.receive,
      { onBytes: (n) => progress.bytes(n, size) },
    );
    await holdPushedBase(ctx, remote.name, snapshot.zfsName);
    return {
      pushed: true,
      base: base?.name ?? null,
      bytes,
      remoteName,
      resumed: token !== undefined,
      keptAs: answer.keptAs,
    };
  }

  /**
   * Whether the remote's resume token names this snapshot (read by this host's ZFS: the
   * token is the remote's, and the sender checks it).
   */
  private async tokenNames(
    token: string,
    snapshot: SnapshotRecord,
    lineage: LocalSnapshot[],
  ): Promise<boolean> {
    if (this.ctx.zfs.flavor !== "openzfs") return false;
    const target = await this.ctx.zfs.resumeTokenTarget(token);
    return target?.toname === snapshot.zfsName && target.toguid === lineage.at(-1)!.guid;
  }
}

/**
 * Refuses to push `what` (not masked: `masked` absent) to a remote marked
 * `--masked-only`, before anything is taken or sent.
 */
function refuseUnmasked(remote: Remote, what: string, masked: string | undefined): void {
  if (!remote.maskedOnly || masked) return;
  throw new StateError(
    `${what} is not masked, and remote '${remote.name}' takes only masked snapshots`,
    {
      hint:
        "push a snapshot of a main imported with --mask, or a branch made from one (docs/masking.md)",
    },
  );
}

/** A remote holding another snapshot under this one's name. */
function conflict(remote: string, name: string, branch: string): StateError {
  return new StateError(
    `remote '${remote}' holds another snapshot named '${name}' (from branch '${branch}')`,
    { hint: "push with --force to keep the remote's aside as <name>.pre-<time>, or rename one" },
  );
}
