/**
 * Receiving snapshots from a remote: into a remote-tracking dataset
 * `<pool>/remotes/<remote>/<branch>` (what a pull does on this host, and what `serve` does
 * on the host a push goes to), or into main's data dataset (what a clone does). The
 * streams of a file remote ({@link receiveFileStreams}) and the one stream of an ssh
 * remote ({@link receiveSshSnapshot}) are received here and nowhere else.
 *
 * - A tracking dataset is read-only, mounted nowhere, and runs no container.
 * - ZFS makes a received snapshot visible only once its stream is whole: a failed or killed
 *   receive leaves the snapshots received before it (and, on OpenZFS with `-s`, a partial
 *   receive with a resume token), never a half snapshot.
 * - The sender's metadata (message, time, branch) goes on each received snapshot as zvpg
 *   user properties right after its receive; a receive killed in between leaves a snapshot
 *   without them, which {@link completeTracking} adds the next time (as it does
 *   `readonly=on`).
 * - A tracking dataset left without any snapshot and without a resume token (a whole
 *   receive that never finished, on a ZFS that kept it) is destroyed before the next whole
 *   receive.
 *
 * @module
 */
import { openSync, statSync } from "node:fs";
import { join } from "node:path";
import { CommandFailedError, StateError, tail, ZvpgError } from "../errors.ts";
import { PROPS } from "../domain/layout.ts";
import { MAX_SNAPSHOT_NAME } from "../domain/names.ts";
import { receivedSnapshotProps } from "../domain/metadata_props.ts";
import {
  AnswerSchemas,
  PROTOCOL_VERSION,
  type RemoteRef as ServedRef,
} from "../domain/remote_protocol.ts";
import type { RemoteRef } from "../domain/remote_refs.ts";
import {
  type ExpectedStream,
  parseStreamHeader,
  STREAM_HEADER_BYTES,
  streamProblem,
} from "../domain/send_stream.ts";
import { type SshRemote, streamFromRemote } from "./remote_transport.ts";
import { TransferProgress } from "./transfer_progress.ts";
import { log } from "../runtime/log.ts";
import { type JoiningRunner, meterInto, PipeEnd, readExactly } from "../runtime/os_pipe.ts";
import { pipeFailure } from "../runtime/pipe.ts";
import type { CommandRunner } from "../runtime/runner.ts";
import type { Context } from "../context.ts";

/** A snapshot of a remote-tracking dataset. */
export interface TrackedSnapshot {
  zfsName: string;
  /** Its name after `@`. */
  name: string;
  guid: string;
  /** Whether it carries its metadata ({@link PROPS}.taken) already. */
  described: boolean;
}

/** A remote-tracking dataset as ZFS has it now. */
export interface Tracking {
  dataset: string;
  exists: boolean;
  readonly: boolean;
  /** Oldest first. */
  snapshots: TrackedSnapshot[];
  /** A partial receive into it (OpenZFS `receive -s`), else null. */
  resumeToken: string | null;
}

/** The metadata a received snapshot gets. */
export interface ReceivedMeta {
  message: string;
  /** When it was taken (RFC 3339). */
  time: string;
  branch: string;
}

/** Reads the tracking dataset `dataset` (one `zfs get`, plus the token on OpenZFS). */
export async function readTracking(ctx: Context, dataset: string): Promise<Tracking> {
  const entries = await ctx.zfs.get([dataset], ["guid", "createtxg", "readonly", PROPS.taken], 1);
  const own = entries.find((e) => e.name === dataset);
  const snapshots = entries
    .filter((e) => e.type === "snapshot" && e.props.guid !== undefined)
    .sort((a, b) => Number(a.props.createtxg) - Number(b.props.createtxg))
    .map((e) => ({
      zfsName: e.name,
      name: e.name.slice(e.name.indexOf("@") + 1),
      guid: e.props.guid,
      described: e.props[PROPS.taken] !== undefined,
    }));
  const resumeToken = own ? await ctx.zfs.resumeToken(dataset) : null;
  return {
    dataset,
    exists: own !== undefined,
    readonly: own?.props.readonly === "on",
    snapshots,
    resumeToken,
  };
}

/**
 * Discards the partial receive into `tracking` (OpenZFS `receive -A`) and reads it again:
 * the partial state of an increment goes (a hidden `%recv` child), and that of a whole
 * receive goes with the dataset it was creating.
 */
export async function discardPartial(ctx: Context, tracking: Tracking): Promise<Tracking> {
  await ctx.zfs.abortReceive(tracking.dataset);
  return await readTracking(ctx, tracking.dataset);
}

/**
 * Completes what a killed receive left undone: `readonly=on` on the dataset, the metadata
 * of its snapshots that lack it (`describe` gives it by GUID, when the sender told it).
 */
export async function completeTracking(
  ctx: Context,
  tracking: Tracking,
  describe: (guid: string) => ReceivedMeta | undefined,
): Promise<void> {
  if (tracking.snapshots.length > 0 && !tracking.readonly) {
    await ctx.zfs.set(tracking.dataset, { readonly: "on" });
  }
  for (const s of tracking.snapshots.filter((s) => !s.described)) {
    const meta = describe(s.guid);
    if (meta) await ctx.zfs.set(s.zfsName, receivedSnapshotProps(meta));
  }
}

/**
 * Readies `tracking` for a whole receive: makes `<pool>/remotes` (mounted nowhere) and
 * `<pool>/remotes/<remote>` when missing, and destroys a tracking dataset left without
 * snapshots by a whole receive that never finished (unless it can be resumed).
 */
export async function prepareTracking(
  ctx: Context,
  remote: string,
  tracking: Tracking,
): Promise<void> {
  const { zfs, layout } = ctx;
  if (tracking.exists) {
    if (tracking.resumeToken !== null) return;
    log.warn(`${tracking.dataset} holds no snapshot (an unfinished receive): destroying it`);
    await zfs.destroy(tracking.dataset, { recursive: true });
    return;
  }
  const parent = layout.remoteDataset(remote);
  if (await zfs.exists(parent)) return;
  if (!(await zfs.exists(layout.remotesDataset))) {
    await zfs.create(layout.remotesDataset, { mountpoint: "none" });
  }
  await zfs.create(parent);
}

/**
 * What is left to do once snapshot `name` was received whole into the tracking dataset
 * `dataset`: the dataset made read-only after its `first` snapshot, the snapshot described.
 */
export async function finishReceived(
  ctx: Context,
  dataset: string,
  name: string,
  meta: ReceivedMeta,
  options: { first: boolean },
): Promise<void> {
  if (options.first) await ctx.zfs.set(dataset, { readonly: "on" });
  await ctx.zfs.set(`${dataset}@${name}`, receivedSnapshotProps(meta));
}

/**
 * Refuses to receive snapshot `name` (GUID `guid`) into `tracking` when a snapshot of that
 * name is there with another GUID: nothing is overwritten unasked.
 */
export function refuseDivergedName(
  tracking: Tracking,
  name: string,
  guid: string,
  what: string,
  hint: string,
): void {
  const named = tracking.snapshots.find((s) => s.name === name);
  if (named && named.guid !== guid) {
    throw new StateError(
      `${named.zfsName} is another snapshot than '${name}' of ${what} (GUID ${named.guid}, not ${guid})`,
      { hint },
    );
  }
}

/** The error of a receive ZFS refused, naming the snapshot and what to do. */
export function receiveFailed(
  error: unknown,
  name: string,
  from: string,
  hint = "nothing of it was kept; run the command again (a full pool needs space first)",
): unknown {
  if (!(error instanceof CommandFailedError)) return error;
  return new ZvpgError(`cannot receive snapshot '${name}' of ${from}: ${tail(error.stderr)}`, {
    hint,
  });
}

/**
 * How long a stream being received may send nothing before the receive stops. A receive
 * into a tracking dataset holds the pool lock (`serve` for a push, `pull`): a sender that
 * stalls (a laptop put to sleep mid-push, a hostile client) would otherwise block every
 * zvpg command of the receiving host for as long as its connection lives.
 */
export const STREAM_IDLE_TIMEOUT_MS = 300_000;

/** Why {@link checkedStream} stopped a stream. */
export interface StreamStop {
  /** `refused`: its header is not the stream agreed on; `stalled`: it sent nothing for long. */
  kind: "refused" | "stalled";
  problem: string;
}

/**
 * `input` checked on its way to `zfs receive`: its header must be {@link ExpectedStream}
 * (a plain stream of that snapshot, from that base), else nothing of it reaches ZFS; and
 * it must not stall for `idleMs`. `stopped()` says why it was stopped (see
 * domain/send_stream.ts). A stream cut before its header is passed on as it is: ZFS
 * refuses it. `done()` clears the idle timer (also cleared when the stream ends).
 */
export function checkedStream(
  input: ReadableStream<Uint8Array>,
  expected: ExpectedStream,
  idleMs = STREAM_IDLE_TIMEOUT_MS,
): { stream: ReadableStream<Uint8Array>; stopped: () => StreamStop | undefined; done: () => void } {
  let head: Uint8Array | undefined = new Uint8Array(0);
  let stopped: StreamStop | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = () => clearTimeout(timer);
  const stop = (controller: TransformStreamDefaultController<Uint8Array>, why: StreamStop) => {
    stopped ??= why;
    done();
    try {
      controller.error(new Error(why.problem));
    } catch {
      // already ended
    }
  };
  const arm = (controller: TransformStreamDefaultController<Uint8Array>) => {
    done();
    const armed = setTimeout(
      () =>
        stop(controller, {
          kind: "stalled",
          problem: `it sent nothing for ${Math.round(idleMs / 1000)} s`,
        }),
      idleMs,
    );
    // a receive that ended never waits for it
    Deno.unrefTimer(armed);
    timer = armed;
  };
  const check = new TransformStream<Uint8Array, Uint8Array>({
    start: arm,
    transform(chunk, controller) {
      arm(controller);
      if (head === undefined) return controller.enqueue(chunk);
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      if (joined.length < STREAM_HEADER_BYTES) {
        head = joined;
        return;
      }
      head = undefined;
      const problem = streamProblem(parseStreamHeader(joined), expected);
      if (problem !== undefined) return stop(controller, { kind: "refused", problem });
      controller.enqueue(joined);
    },
    flush(controller) {
      done();
      if (head !== undefined && head.length > 0) controller.enqueue(head);
    },
  });
  return { stream: input.pipeThrough(check), stopped: () => stopped, done };
}

/** The error of a stream {@link checkedStream} stopped, naming the snapshot and its sender. */
function stoppedStream(stop: StreamStop, name: string, from: string): StateError {
  if (stop.kind === "stalled") {
    return new StateError(
      `${from} stopped sending snapshot '${name}': ${stop.problem}; nothing of it was kept`,
      { hint: "run the command again once the other host is awake and reachable" },
    );
  }
  return new StateError(
    `${from} sent no stream of snapshot '${name}' as agreed: ${stop.problem}; nothing was received`,
    { hint: "the other side is not the zvpg it claims, or its stream was changed" },
  );
}

/** Options of {@link receiveChecked}. */
export interface ReceiveOptions {
  /** OpenZFS `receive -s`: a stream cut short leaves a partial receive to resume. */
  resumable: boolean;
  /** Stops the receive. */
  signal?: AbortSignal;
  /** The end of the hint of a stream ZFS refused. */
  hint?: string;
  /** The bytes received so far, of an OS pipe's stream (a stream's reader counts its own). */
  onBytes?: (total: number) => void;
}

/**
 * Receives `input` as snapshot `name` of `dataset` (see {@link checkedStream}): the
 * stream's header, not the request, is what ZFS goes by, so it is checked first.
 * `from` names the sender in errors.
 */
export async function receiveChecked(
  ctx: Context,
  dataset: string,
  expected: ExpectedStream & { name: string },
  input: ReadableStream<Uint8Array> | PipeEnd,
  from: string,
  options: ReceiveOptions,
): Promise<void> {
  if (input instanceof PipeEnd) {
    return await receiveCheckedEnd(ctx, dataset, expected, input, from, options);
  }
  const checked = checkedStream(input, expected);
  try {
    await ctx.zfs.receiveStream(`${dataset}@${expected.name}`, checked.stream, {
      resumable: options.resumable,
      signal: options.signal,
    });
  } catch (error) {
    const stop = checked.stopped();
    if (stop !== undefined) throw stoppedStream(stop, expected.name, from);
    throw receiveFailed(error, expected.name, from, options.hint);
  } finally {
    checked.done();
  }
}

/**
 * {@link receiveChecked} of an OS pipe's read end: its header is read and checked by zvpg,
 * then written ahead of the rest, which dd copies program to program and counts
 * (`dd | zfs receive`), so the stream's body never passes through zvpg.
 */
async function receiveCheckedEnd(
  ctx: Context,
  dataset: string,
  expected: ExpectedStream & { name: string },
  input: PipeEnd,
  from: string,
  options: ReceiveOptions,
  idleMs = STREAM_IDLE_TIMEOUT_MS,
): Promise<void> {
  const runner = ctx.runner as CommandRunner & JoiningRunner;
  const head = await readExactly(input, STREAM_HEADER_BYTES);
  const problem = streamProblem(parseStreamHeader(head), expected);
  if (problem !== undefined) {
    throw stoppedStream({ kind: "refused", problem }, expected.name, from);
  }
  // a sender that stops sending stops the receive: the pool lock is not held forever
  const idle = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new Error("idle")), idleMs);
    Deno.unrefTimer(timer);
  };
  arm();
  try {
    const outcome = await meterInto(
      runner,
      head,
      input,
      (stream, signal) =>
        ctx.zfs.receiveStream(`${dataset}@${expected.name}`, stream, {
          resumable: options.resumable,
          signal,
        }),
      {
        onBytes: (n) => {
          arm();
          options.onBytes?.(n);
        },
        stop: options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal,
      },
    );
    if (idle.signal.aborted) {
      const stall = `it sent nothing for ${Math.round(idleMs / 1000)} s`;
      throw stoppedStream({ kind: "stalled", problem: stall }, expected.name, from);
    }
    const failure = pipeFailure(outcome);
    if (failure !== undefined) throw receiveFailed(failure, expected.name, from, options.hint);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `runner` joins programs with OS pipes (the real one does, the fake one not). */
function joinsPrograms(runner: CommandRunner): boolean {
  return typeof (runner as Partial<JoiningRunner>).osPipe === "function";
}

/**
 * Receives the stream files of `streams` (refs of the file remote `remote`'s directory
 * `dir`, oldest first: a whole stream, then increments) into `dataset`, one `zfs receive`
 * each; `received` runs after each one (describing it). Returns the bytes received. On a
 * terminal, the bytes so far of all the streams are shown. `retry` ends the hint of a
 * stream ZFS refused ("pull again").
 */
export async function receiveFileStreams(
  ctx: Context,
  remote: string,
  dir: string,
  streams: readonly RemoteRef[],
  dataset: string,
  received: (stream: RemoteRef, index: number) => Promise<void>,
  retry: string,
): Promise<number> {
  const files = streams.map((s) => join(dir, s.stream));
  const sizes = files.map((file) => statSync(file).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const progress = new TransferProgress(`receive from '${remote}'`);
  let bytes = 0;
  for (const [i, stream] of streams.entries()) {
    log.info(`receiving '${stream.name}' from '${remote}' (${i + 1}/${streams.length})`);
    // opened once, here: what is checked is what is received (never the path again);
    // a runner that joins programs gets the descriptor (the body goes file to zfs)
    const input = joinsPrograms(ctx.runner)
      ? new PipeEnd(openSync(files[i], "r"))
      : (await Deno.open(files[i], { read: true })).readable;
    try {
      await receiveChecked(
        ctx,
        dataset,
        { name: stream.name, guid: stream.guid, base: stream.base },
        input,
        `remote '${remote}' from ${files[i]}`,
        {
          resumable: false,
          hint: `nothing of it was kept; push it to the remote again, then ${retry}`,
        },
      );
    } finally {
      if (input instanceof PipeEnd) input.close();
    }
    bytes += sizes[i];
    progress.bytes(bytes, total);
    await received(stream, i);
  }
  return bytes;
}

/**
 * Receives snapshot `ref` from an ssh remote's `zvpg serve --stdio` into `dataset`: an
 * increment from the snapshot with GUID `base` (the newest `dataset` holds), or whole when
 * null; or the rest of the partial receive `token` names. `resumable` (OpenZFS): a stream
 * cut short leaves a partial receive to resume. Returns the stream's bytes and whether the
 * server resumed. On a terminal, the bytes so far are shown.
 */
export async function receiveSshSnapshot(
  ctx: Context,
  remote: SshRemote,
  ref: ServedRef,
  dataset: string,
  options: { base: string | null; token: string | null; resumable: boolean },
): Promise<{ bytes: number; resumed: boolean }> {
  const progress = new TransferProgress(`receive '${ref.name}' from '${remote.name}'`);
  let size: number | null = null;
  const { value: resumed, bytes } = await streamFromRemote(
    ctx,
    remote,
    {
      zvpg: PROTOCOL_VERSION,
      op: "send",
      name: ref.name,
      guid: ref.guid,
      base: options.base,
      resumeToken: options.token,
    },
    AnswerSchemas.send,
    async (answer, stream, signal, counted) => {
      size = answer.size;
      // the server echoes what it agreed to send: another snapshot or base is no answer
      if (answer.ref.guid !== ref.guid || answer.base !== options.base) {
        throw new StateError(
          `remote '${remote.name}' offered another stream than asked for (snapshot GUID ${answer.ref.guid} from ${
            answer.base ?? "nothing"
          }, not ${ref.guid} from ${options.base ?? "nothing"})`,
          { hint: "the other side is not the zvpg it claims" },
        );
      }
      await receiveChecked(
        ctx,
        dataset,
        { name: ref.name, guid: ref.guid, base: answer.base },
        stream,
        `remote '${remote.name}'`,
        { resumable: options.resumable, signal, onBytes: counted },
      );
      return answer.resumed;
    },
    { onBytes: (n) => progress.bytes(n, size) },
  );
  return { bytes, resumed };
}

/**
 * Moves the remote-tracking dataset `tracking` of `remote`'s `branch` aside, whole, when
 * what it holds went another way than what is received next (a transfer's `--force`):
 * it becomes `<remote>/<branch>.pre-<UTC time>`, each snapshot renamed `<name>.pre-<time>`
 * (and described as on that branch), so nothing it held is lost or renamed into another's
 * place, and branches cloned from it keep working. Returns the branch it is kept as. The
 * caller holds the pool lock; the next receive into `tracking.dataset` is whole.
 */
export async function setAsideTracking(
  ctx: Context,
  remote: string,
  branch: string,
  tracking: Tracking,
): Promise<string> {
  const suffix = `pre-${ctx.now().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "")}`;
  const asideBranch = `${branch}.${suffix}`;
  const aside = ctx.layout.remoteBranchDataset(remote, asideBranch);
  try {
    await ctx.zfs.rename(tracking.dataset, aside);
  } catch (error) {
    if (!(error instanceof CommandFailedError)) throw error;
    throw new StateError(
      `cannot keep ${remote}/${branch} aside (${tracking.dataset}): ${tail(error.stderr)}`,
      {
        hint:
          "ZFS may refuse while branches are cloned from its snapshots: delete them, or transfer under another name",
      },
    );
  }
  for (const s of tracking.snapshots) {
    const renamed = `${s.name.slice(0, MAX_SNAPSHOT_NAME - suffix.length - 1)}.${suffix}`;
    await ctx.zfs.rename(`${aside}@${s.name}`, `${aside}@${renamed}`);
    await ctx.zfs.set(`${aside}@${renamed}`, { [PROPS.branch]: asideBranch });
  }
  log.warn(
    `kept what ${remote}/${branch} held as ${remote}/${asideBranch} (each snapshot as <name>.${suffix})`,
  );
  return `${remote}/${asideBranch}`;
}
