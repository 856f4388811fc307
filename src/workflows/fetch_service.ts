/**
 * `zvpg fetch <remote>`: what a remote holds, and which of it this pool has, matched by
 * ZFS GUID (a snapshot renamed on either side still counts). Read-only on both sides: it
 * reads a file remote's index, or asks an ssh remote's `zvpg serve --stdio`.
 *
 * @module
 */
import type { Context } from "../context.ts";
import type { Remote } from "../domain/remote.ts";
import { validateRemoteName } from "../domain/names.ts";
import {
  AnswerSchemas,
  PROTOCOL_VERSION,
  type ZfsCapabilities,
} from "../domain/remote_protocol.ts";
import { checkRemoteDir, loadRefs } from "../ops/remote_dir.ts";
import { findRemote } from "../ops/remote_store.ts";
import { askRemote, sshRemote } from "../ops/remote_transport.ts";
import { requireInitialized } from "../ops/store/load_inventory.ts";

/** One snapshot a remote holds. */
export interface FetchedRef {
  name: string;
  guid: string;
  branch: string;
  /** When it was taken (RFC 3339). */
  created: string;
  message: string;
  /** The ZFS name of this pool's snapshot with that GUID; null when this pool lacks it. */
  here: string | null;
}

/** What a fetch found. */
export interface FetchResult {
  remote: string;
  url: string;
  kind: "ssh" | "file";
  /** The remote zvpg's version and ZFS (ssh remotes); null for a directory. */
  server: { version: string; zfs: ZfsCapabilities } | null;
  /** Oldest first, as the remote lists them. */
  refs: FetchedRef[];
}

type RefSeen = Omit<FetchedRef, "here">;

/** The fetch command. */
export class FetchService {
  constructor(private readonly ctx: Context) {}

  /** Lists what remote `remoteName` holds, each ref with the snapshot here that has its GUID. */
  async fetch(remoteName: string): Promise<FetchResult> {
    validateRemoteName(remoteName);
    const remote = findRemote(this.ctx, remoteName);
    const { layout } = this.ctx;
    await requireInitialized(this.ctx, await this.ctx.zfs.exists(layout.dataDataset), "fetch");
    const { server, refs } = remote.url.kind === "file"
      ? { server: null, refs: this.fileRefs(remote.url.path) }
      : await this.sshRefs(remote);
    const here = await this.localGuids();
    return {
      remote: remote.name,
      url: remote.url.href,
      kind: remote.url.kind,
      server,
      refs: refs.map((r) => ({ ...r, here: here.get(r.guid) ?? null })),
    };
  }

  private fileRefs(dir: string): RefSeen[] {
    checkRemoteDir(dir, "pull");
    return loadRefs(dir).map((r) => ({
      name: r.name,
      guid: r.guid,
      branch: r.branch,
      created: r.time,
      message: r.message,
    }));
  }

  private async sshRefs(
    remote: Remote,
  ): Promise<{ server: FetchResult["server"]; refs: RefSeen[] }> {
    const target = sshRemote(remote);
    if (!target) throw new Error("sshRefs: not an ssh remote");
    const zvpg = PROTOCOL_VERSION;
    const hello = await askRemote(this.ctx, target, { zvpg, op: "hello" }, AnswerSchemas.hello);
    const list = await askRemote(this.ctx, target, { zvpg, op: "list" }, AnswerSchemas.list);
    return {
      server: { version: hello.version, zfs: hello.zfs },
      refs: list.refs.map((r) => ({
        name: r.name,
        guid: r.guid,
        branch: r.branch,
        created: new Date(r.created).toISOString(),
        message: r.message,
      })),
    };
  }

  /** Every snapshot GUID of this pool (its own and the pulled ones) → its ZFS name. */
  private async localGuids(): Promise<Map<string, string>> {
    const { layout } = this.ctx;
    const byName = await this.ctx.zfs.snapshotGuids(
      [layout.dataDataset, layout.clonesDataset, layout.remotesDataset],
    );
    const byGuid = new Map<string, string>();
    for (const [name, guid] of byName) if (!byGuid.has(guid)) byGuid.set(guid, name);
    return byGuid;
  }
}
