/**
 * Pipes between programs through this process (`zfs send | ssh … | zfs receive` without a
 * shell): each end is a runner call given a stream, and zvpg sits in the middle, so it
 * counts the bytes, reads or writes a protocol line before the stream, and stops both ends
 * together.
 *
 * - When one end fails, the other is stopped at once (its call throws {@link PeerFailed}),
 *   so no program waits forever on a pipe whose other end is gone.
 * - Both calls have settled when {@link pipe} returns: no program outlives it.
 *
 * @module
 */
import { operationSignal } from "./operation_signal.ts";

/** Why one end of a pipe was stopped: the other end failed first. */
export class PeerFailed extends Error {
  constructor() {
    super("the other end of the pipe failed");
    this.name = "PeerFailed";
  }
}

/** How both ends of a pipe ended. */
export interface PipeOutcome<A, B> {
  producer: PromiseSettledResult<A>;
  consumer: PromiseSettledResult<B>;
  /** Bytes that went from the producer to the consumer. */
  bytes: number;
}

/** Options of {@link pipe}. */
export interface PipeOptions {
  /** Called with the total bytes so far, as they pass (for progress). */
  onBytes?: (total: number) => void;
}

/**
 * Runs `produce` and `consume` joined by a stream: `produce` writes into the stream it is
 * given, `consume` reads the other end. Each gets the signal to pass to its runner calls:
 * it aborts with {@link PeerFailed} when the other end failed, and with the operation's
 * reason on an interrupt.
 */
export async function pipe<A, B>(
  produce: (out: WritableStream<Uint8Array>, signal: AbortSignal) => Promise<A>,
  consume: (input: ReadableStream<Uint8Array>, signal: AbortSignal) => Promise<B>,
  options: PipeOptions = {},
): Promise<PipeOutcome<A, B>> {
  const local = new AbortController();
  const operation = operationSignal();
  const signal = operation ? AbortSignal.any([operation, local.signal]) : local.signal;
  let bytes = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      bytes += chunk.length;
      try {
        options.onBytes?.(bytes);
      } catch {
        // a progress report never fails the transfer it watches
      }
      controller.enqueue(chunk);
    },
  });
  const stopOnFailure = <T>(promise: Promise<T>) =>
    promise.catch((error) => {
      if (!local.signal.aborted) local.abort(new PeerFailed());
      throw error;
    });
  const [producer, consumer] = await Promise.allSettled([
    stopOnFailure(produce(counter.writable, signal)),
    stopOnFailure(consume(counter.readable, signal)),
  ]);
  return { producer, consumer, bytes };
}

/**
 * The error to report of a pipe whose ends failed: an interrupt first, then the end that
 * failed on its own (not stopped because the other failed); undefined when both succeeded.
 */
export function pipeFailure(outcome: PipeOutcome<unknown, unknown>): unknown {
  const errors = [outcome.producer, outcome.consumer].flatMap((r) =>
    r.status === "rejected" ? [r.reason] : []
  );
  const own = errors.filter((e) => !isPeerStop(e));
  return own.find((e) => (e as Error)?.name === "InterruptedError") ?? own[0] ?? errors[0];
}

/** Whether `error` is an end stopped because the other failed. */
export function isPeerStop(error: unknown): boolean {
  return error instanceof PeerFailed || (error as Error)?.cause instanceof PeerFailed;
}

/** A stream of `first` followed by `rest`. */
export function prefixed(
  first: Uint8Array,
  rest: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const reader = rest.getReader();
  let sentFirst = first.length === 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!sentFirst) {
        sentFirst = true;
        controller.enqueue(first);
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  });
}

/** A line read off the head of a stream, and the stream after it. */
export interface SplitStream {
  /** The first line, without its newline; null when the stream ended first. */
  line: string | null;
  /** The bytes after the newline. */
  rest: ReadableStream<Uint8Array>;
}

/**
 * Reads the first line of `stream` (at most `maxBytes` before its newline, else the line
 * is cut there and returned as read so far) and gives back the rest as a stream.
 */
export async function splitFirstLine(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<SplitStream> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let leftover: Uint8Array = new Uint8Array();
  let found = false;
  while (size <= maxBytes) {
    const { done, value } = await reader.read();
    if (done) break;
    const newline = value.indexOf(0x0a);
    if (newline === -1) {
      chunks.push(value);
      size += value.length;
      continue;
    }
    chunks.push(value.subarray(0, newline));
    size += newline;
    leftover = value.subarray(newline + 1);
    found = true;
    break;
  }
  const head = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    head.set(c, at);
    at += c.length;
  }
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (leftover.length > 0) controller.enqueue(leftover);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  });
  const line = new TextDecoder().decode(head);
  return { line: found || line !== "" ? line : null, rest };
}
