/**
 * What `zvpg clone` copies main from: a snapshot of a remote (ssh or file) and the streams
 * that rebuild it, found before anything is made on this host, then received whole into
 * main's data dataset with the receive every transfer uses (ops/remote_receive.ts).
 *
 * - The snapshot is `--snapshot` (of any branch of the remote: the new main is a copy of
 *   it), else the newest of the remote's main (see `cloneTarget`).
 * - From an ssh remote: one whole stream of it. From a file remote: its chain of stream
 *   files, the whole one first; the snapshots before it on the chain come along (their
 *   streams build it) and are main's snapshots too.
 * - Every snapshot received keeps the remote's GUID and gets its message and time, on
 *   branch main: it is listed as main's snapshot, and a push back to the remote is an
 *   increment from it.
 *
 * @module
 */
import { ZvpgError } from "../errors.ts";
import {
  AnswerSchemas,
  PROTOCOL_VERSION,
  type RemoteRef as ServedRef,
} from "../domain/remote_protocol.ts";
import { chainOf, cloneTarget, type RemoteRef } from "../domain/remote_refs.ts";
import type { Remote } from "../domain/remote.ts";
import { checkRemoteDir, loadRefs } from "./remote_dir.ts";
import { finishReceived, receiveFileStreams, receiveSshSnapshot } from "./remote_receive.ts";
import { askRemote, type SshRemote, sshRemote } from "./remote_transport.ts";
import type { Context } from "../context.ts";

/** A snapshot a clone receives: its name and its metadata on the remote. */
export interface CloneSnapshot {
  name: string;
  guid: string;
  message: string;
  /** When it was taken (RFC 3339). */
  time: string;
  /** The remote's branch it was taken on. */
  branch: string;
}

/** Where a clone's data comes from, read from the remote before anything is made. */
export type CloneSource =
  | { kind: "ssh"; remote: SshRemote; ref: ServedRef; target: CloneSnapshot }
  | { kind: "file"; remote: Remote; dir: string; streams: RemoteRef[]; target: CloneSnapshot };

/**
 * Reads what `remote` holds and picks the snapshot a clone copies (`snapshot`, else the
 * newest of branch `main`); throws, naming the remote, when there is none.
 */
export async function findCloneSource(
  ctx: Context,
  remote: Remote,
  main: string,
  snapshot?: string,
): Promise<CloneSource> {
  const missing = (found: { problem: string; hint: string }) =>
    new ZvpgError(`remote '${remote.name}' (${remote.url.href}) ${found.problem}`, {
      hint: found.hint,
    });
  const ssh = sshRemote(remote);
  if (ssh) {
    const { refs } = await askRemote(
      ctx,
      ssh,
      { zvpg: PROTOCOL_VERSION, op: "list" },
      AnswerSchemas.list,
    );
    const found = cloneTarget(refs.map((r) => ({ ...r, time: r.created })), main, snapshot);
    if ("problem" in found) throw missing(found);
    return { kind: "ssh", remote: ssh, ref: found, target: cloneSnapshot(found) };
  }
  if (remote.url.kind !== "file") throw new Error("findCloneSource: an unknown remote kind");
  const dir = remote.url.path;
  checkRemoteDir(dir, "pull");
  const refs = loadRefs(dir);
  const found = cloneTarget(refs, main, snapshot);
  if ("problem" in found) throw missing(found);
  // a checked index has a chain for every ref
  const streams = chainOf(refs, found)!;
  return { kind: "file", remote, dir, streams, target: cloneSnapshot(found) };
}

/**
 * Receives `source` whole into `dataset` (which must not exist), each snapshot described
 * as one of branch `main`. Returns the bytes received and the snapshots, oldest first.
 */
export async function receiveCloneSource(
  ctx: Context,
  source: CloneSource,
  dataset: string,
  main: string,
): Promise<{ bytes: number; snapshots: CloneSnapshot[] }> {
  const describe = (s: CloneSnapshot) =>
    finishReceived(ctx, dataset, s.name, { ...s, branch: main }, { first: false });
  if (source.kind === "ssh") {
    const { bytes } = await receiveSshSnapshot(ctx, source.remote, source.ref, dataset, {
      base: null,
      token: null,
      resumable: false,
    });
    await describe(source.target);
    return { bytes, snapshots: [source.target] };
  }
  const snapshots = source.streams.map(cloneSnapshot);
  const bytes = await receiveFileStreams(
    ctx,
    source.remote.name,
    source.dir,
    source.streams,
    dataset,
    (_stream, i) => describe(snapshots[i]),
    "clone again",
  );
  return { bytes, snapshots };
}

function cloneSnapshot(
  ref: { name: string; guid: string; message: string; time: string; branch: string },
): CloneSnapshot {
  const { name, guid, message, time, branch } = ref;
  return { name, guid, message, time, branch };
}
