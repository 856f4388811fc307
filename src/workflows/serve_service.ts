/**
 * The server side of remotes: the answers `zvpg serve --stdio` gives another zvpg about
 * this host's pool, and the streams it receives and sends. Every answer and every ZFS
 * name comes from this pool; a request only picks among them, by name and GUID.
 *
 * - A push lands under `<pool>/remotes/<source>/<branch>` (read-only, as a pull's
 *   snapshots do), where `source` is the name the client goes by, or the server's
 *   `serve --as` when the key is bound to one. Nothing else of the pool is ever written.
 * - Nothing held is overwritten: a receive must go on from the newest snapshot held of
 *   that branch (the base the client read with `tracked`), and a name held with another
 *   GUID is refused.
 * - A send resumes only a token that names the very snapshot asked for (read by this
 *   host's ZFS, `send -nvP -t`): a token is the client's, so it is untrusted.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { StateError, ZvpgError } from "../errors.ts";
import { findSnapshot } from "../domain/inventory.ts";
import {
  type Answer,
  PROTOCOL_VERSION,
  type ReceiveAnswer,
  type RemoteRef,
  type Request,
  type SendAnswer,
  type TrackedAnswer,
  zfsCapabilities,
} from "../domain/remote_protocol.ts";
import { loadInitializedInventory, requireInitialized } from "../ops/store/load_inventory.ts";
import {
  completeTracking,
  discardPartial,
  finishReceived,
  prepareTracking,
  readTracking,
  receiveChecked,
  refuseDivergedName,
  setAsideTracking,
  type Tracking,
} from "../ops/remote_receive.ts";
import { snapshotLineage } from "../ops/snapshot_lineage.ts";
import { moveBaseHold } from "../ops/remote_holds.ts";
import { withLock } from "../runtime/lock.ts";
import { PipeEnd } from "../runtime/os_pipe.ts";
import { VERSION } from "../version.ts";

type Op<K extends Request["op"]> = Extract<Request, { op: K }>;

/** A send the server agreed to: its answer line, then its stream. */
export interface ServedSend {
  answer: SendAnswer;
  /** Writes the stream into `out`. */
  stream: (out: WritableStream<Uint8Array> | PipeEnd) => Promise<void>;
}

/** Answers protocol requests from this host's pool. */
export class ServeService {
  /** `as`: the name every push is filed under (`serve --as`), whatever the client says. */
  constructor(private readonly ctx: Context, private readonly as?: string) {}

  /** The answer to one valid request without a stream. */
  async answer(request: Op<"hello" | "list" | "tracked">): Promise<Answer> {
    switch (request.op) {
      case "hello":
        return {
          ok: true,
          zvpg: PROTOCOL_VERSION,
          version: VERSION,
          zfs: zfsCapabilities(this.ctx.zfs.flavor),
        };
      case "list":
        return { ok: true, zvpg: PROTOCOL_VERSION, refs: await this.refs() };
      case "tracked":
        return await this.tracked(request);
    }
  }

  /** Every listed snapshot of the pool, oldest first, with its GUID and its branch's origin. */
  async refs(): Promise<RemoteRef[]> {
    const inventory = await loadInitializedInventory(this.ctx, "serve", { containers: false });
    const { guids, origins } = await this.tree();
    return inventory.snapshots.flatMap((s) => {
      const guid = guids.get(s.zfsName);
      // a snapshot destroyed between the two reads is not offered
      if (guid === undefined) return [];
      const origin = origins.get(s.zfsName.slice(0, s.zfsName.indexOf("@")));
      return [{
        name: s.name,
        guid,
        branch: s.branch,
        created: s.created.toISOString(),
        message: s.message,
        referenced: s.referenced,
        origin: origin === undefined ? null : guids.get(origin) ?? null,
      }];
    });
  }

  /**
   * The GUID of every snapshot of the pool's data, branches and remote-tracking datasets,
   * and the origin snapshot of each clone among them (one `zfs get -r`).
   */
  private async tree(): Promise<{ guids: Map<string, string>; origins: Map<string, string> }> {
    const { layout } = this.ctx;
    const entries = await this.ctx.zfs.getTree(
      [layout.dataDataset, layout.clonesDataset, layout.remotesDataset],
      ["guid", "origin"],
    );
    const guids = new Map<string, string>();
    const origins = new Map<string, string>();
    for (const e of entries) {
      if (e.name.includes("@")) {
        if (e.props.guid !== undefined) guids.set(e.name, e.props.guid);
      } else if (e.props.origin?.includes("@")) origins.set(e.name, e.props.origin);
    }
    return { guids, origins };
  }

  /** Which of `candidates` (GUIDs) this pool holds, anywhere. */
  private async held(candidates: readonly string[]): Promise<string[]> {
    if (candidates.length === 0) return [];
    const here = new Set((await this.tree()).guids.values());
    return candidates.filter((g) => here.has(g));
  }

  /** What this pool holds of the client's branch: the base of its next push. */
  async tracked(request: Op<"tracked">): Promise<TrackedAnswer> {
    await this.requirePool();
    const source = this.sourceOf(request);
    const tracking = await readTracking(
      this.ctx,
      this.ctx.layout.remoteBranchDataset(source, request.branch),
    );
    return {
      ok: true,
      zvpg: PROTOCOL_VERSION,
      source,
      snapshots: tracking.snapshots.map((s) => ({ name: s.name, guid: s.guid })),
      resumeToken: tracking.resumeToken,
      held: await this.held(request.candidates),
    };
  }

  /** Receives the pushed snapshot `request.ref` from `stream`, under the pool lock. */
  async receive(
    request: Op<"receive">,
    stream: ReadableStream<Uint8Array> | PipeEnd,
  ): Promise<ReceiveAnswer> {
    const { ctx } = this;
    const source = this.sourceOf(request);
    const { ref } = request;
    const answer: ReceiveAnswer = {
      ok: true,
      zvpg: PROTOCOL_VERSION,
      source,
      snapshot: `${source}/${ref.name}`,
      keptAs: null,
    };
    const meta = { message: ref.message, time: ref.created, branch: ref.branch };
    return await withLock(ctx.layout, async () => {
      await this.requirePool();
      const dataset = ctx.layout.remoteBranchDataset(source, ref.branch);
      let tracking = await readTracking(ctx, dataset);
      if (tracking.snapshots.some((s) => s.guid === ref.guid)) {
        if (!(stream instanceof PipeEnd)) await stream.cancel().catch(() => {});
        await completeTracking(ctx, tracking, (g) => g === ref.guid ? meta : undefined);
        return answer;
      }
      const inTheWay = (t: Tracking) => {
        const newest = t.snapshots.at(-1)?.guid ?? null;
        return t.snapshots.some((s) => s.name === ref.name && s.guid !== ref.guid) ||
          (newest !== null && request.base !== newest);
      };
      if (request.force && inTheWay(tracking)) {
        answer.keptAs = await setAsideTracking(ctx, source, ref.branch, tracking);
        tracking = await readTracking(ctx, dataset);
      }
      refuseDivergedName(
        tracking,
        ref.name,
        ref.guid,
        `'${source}'`,
        `delete ${source}/${ref.name} on this host (zvpg snapshot delete), or push under another name`,
      );
      const newest = tracking.snapshots.at(-1)?.guid ?? null;
      // a branch's first snapshot may come as a clone of its origin, held elsewhere here
      const cloned = newest === null && request.base !== null &&
        (await this.held([request.base])).length === 1;
      if (request.base !== newest && !cloned) {
        throw new StateError(
          `${tracking.dataset} holds ${
            newest === null ? "no snapshot" : `snapshot GUID ${newest} as its newest`
          }, and the push is ${
            request.base === null ? "whole" : `an increment from GUID ${request.base}`
          }`,
          { hint: "push again: zvpg reads what the remote holds first" },
        );
      }
      const ready = await this.readyForStream(source, tracking, request.resume);
      await receiveChecked(
        ctx,
        ready.dataset,
        { name: ref.name, guid: ref.guid, base: request.base },
        stream,
        `'${source}'`,
        { resumable: ctx.zfs.flavor === "openzfs" },
      );
      await finishReceived(ctx, ready.dataset, ref.name, meta, {
        first: ready.snapshots.length === 0,
      });
      // the base of the next push from `source`: held, so no delete here breaks it unasked
      await moveBaseHold(ctx, source, `${tracking.dataset}@${ref.name}`);
      return answer;
    });
  }

  /**
   * Agrees to send snapshot `request.name` (it must have the GUID asked for): whole, as an
   * increment from `request.base` (a GUID of its lineage), or the rest of a partial
   * receive whose token names it.
   */
  async send(request: Op<"send">): Promise<ServedSend> {
    const { ctx } = this;
    const inventory = await loadInitializedInventory(ctx, "serve", { containers: false });
    const snapshot = findSnapshot(inventory, request.name);
    const lineage = await snapshotLineage(ctx, inventory.snapshots, snapshot);
    const own = lineage.at(-1);
    if (own?.name !== snapshot.name || own.guid !== request.guid) {
      throw new StateError(
        `snapshot '${request.name}' here is not the one asked for (GUID ${
          own?.name === snapshot.name ? own.guid : "unknown"
        }, not ${request.guid})`,
        { hint: "run 'zvpg fetch' again to see what the remote holds now" },
      );
    }
    const ref = (await this.refs()).find((r) => r.guid === own.guid);
    if (!ref) throw new StateError(`snapshot '${request.name}' is gone`);
    const answer = (resumed: boolean, base: string | null, size?: number): SendAnswer => ({
      ok: true,
      zvpg: PROTOCOL_VERSION,
      ref,
      base,
      resumed,
      size: size ?? null,
    });
    if (request.resumeToken !== null) {
      await this.checkToken(request.resumeToken, snapshot.zfsName, own.guid);
      const token = request.resumeToken;
      return {
        answer: answer(true, request.base),
        stream: (out) => ctx.zfs.sendStream(snapshot.zfsName, out, { token }),
      };
    }
    if (request.base === null) {
      return {
        answer: answer(false, null, await ctx.zfs.sendSize(snapshot.zfsName)),
        stream: (out) => ctx.zfs.sendStream(snapshot.zfsName, out),
      };
    }
    const base = lineage.slice(0, -1).find((s) => s.guid === request.base);
    if (!base) {
      throw new StateError(
        `snapshot '${request.name}' does not go on from the snapshot GUID ${request.base}`,
        {
          hint:
            "the copy that asked went another way: delete it (zvpg snapshot delete) and pull again",
        },
      );
    }
    const from = base.zfsName;
    return {
      answer: answer(false, base.guid, await ctx.zfs.sendSize(snapshot.zfsName, { from })),
      stream: (out) => ctx.zfs.sendStream(snapshot.zfsName, out, { from }),
    };
  }

  /** Refuses a resume token that does not name `zfsName` with `guid`. */
  private async checkToken(token: string, zfsName: string, guid: string): Promise<void> {
    const target = await this.ctx.zfs.resumeTokenTarget(token);
    if (target?.toname !== zfsName || target.toguid !== guid) {
      throw new ZvpgError(
        `the resume token does not name snapshot ${zfsName}${
          target ? ` (it names ${target.toname})` : ""
        }`,
        { hint: "the receiver discards its partial receive and asks again whole" },
      );
    }
  }

  /**
   * Readies a tracking dataset for the stream: a partial receive is kept to resume, or
   * discarded for a fresh stream (the client's ZFS found that its token names another
   * snapshot, or it cannot resume); a whole receive gets its parents. Returns the tracking
   * dataset as it is then.
   */
  private async readyForStream(
    source: string,
    tracking: Tracking,
    resume: boolean,
  ): Promise<Tracking> {
    if (resume) {
      if (tracking.resumeToken === null) {
        throw new StateError(`${tracking.dataset} has no partial receive to resume`, {
          hint: "push again: zvpg reads what the remote holds first",
        });
      }
      return tracking;
    }
    const fresh = tracking.resumeToken === null
      ? tracking
      : await discardPartial(this.ctx, tracking);
    if (fresh.snapshots.length === 0) await prepareTracking(this.ctx, source, fresh);
    return fresh;
  }

  private sourceOf(request: { source: string }): string {
    return this.as ?? request.source;
  }

  private async requirePool(): Promise<void> {
    await requireInitialized(
      this.ctx,
      await this.ctx.zfs.exists(this.ctx.layout.dataDataset),
      "serve",
    );
  }
}
