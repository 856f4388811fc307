/**
 * Programs joined by an OS pipe: `zfs send`'s stdout is ssh's stdin itself (and ssh's
 * stdout `zfs receive`'s stdin), as a shell's `|` joins them, so the stream never passes
 * through zvpg. A copy through Deno's streams costs CPU on every byte (2x the wall time of
 * a 2 GB copy on a 2-core machine); {@link import("./pipe.ts").pipe} stays for runners
 * that cannot hand a program a file descriptor (the fake runner of unit tests).
 *
 * Same guarantees as `pipe`: when one end fails the other is stopped ({@link PeerFailed}),
 * an interrupt stops both, and both calls have settled when {@link joinPrograms} returns.
 * zvpg's own copies of the pipe's ends are closed as soon as the program has its copy, so
 * the reader sees the end of the stream when the writer exits.
 *
 * @module
 */
import { closeSync, constants as fsConstants, openSync, read, write } from "node:fs";
import { operationSignal } from "./operation_signal.ts";
import { isPeerStop, PeerFailed, type PipeOutcome } from "./pipe.ts";

/** One end of an OS pipe, held by zvpg until a program gets it; closed once. */
export class PipeEnd {
  #fd: number | undefined;

  /** `owned`: closing it closes the descriptor (else zvpg only stops using it). */
  constructor(fd: number, private readonly owned = true) {
    this.#fd = fd;
  }

  /**
   * This process's stdin (0) or stdout (1) as an end to hand a program (`zvpg serve`):
   * never closed, so nothing else ever gets the number.
   */
  static std(fd: 0 | 1): PipeEnd {
    return new PipeEnd(fd, false);
  }

  /** The open file descriptor; throws once closed. */
  get fd(): number {
    if (this.#fd === undefined) throw new Error("this end of the pipe is closed");
    return this.#fd;
  }

  /** Closes zvpg's copy (a program given it keeps its own); again is a no-op. */
  close(): void {
    if (this.#fd === undefined) return;
    if (!this.owned) {
      this.#fd = undefined;
      return;
    }
    try {
      closeSync(this.#fd);
    } catch {
      // already gone
    }
    this.#fd = undefined;
  }
}

/** An OS pipe: what is written to `write` is read from `read`. */
export interface OsPipe {
  read: PipeEnd;
  write: PipeEnd;
}

/**
 * Makes an OS pipe from the FIFO at `fifo` (made by `mkfifo`, in a directory only this
 * user can enter) and removes the FIFO: Deno has no `pipe()`. Opening it read-write first
 * means neither of the one-way opens waits for the other end.
 */
export function pipeFromFifo(fifo: string): OsPipe {
  const both = openSync(fifo, fsConstants.O_RDWR);
  try {
    const read = openSync(fifo, fsConstants.O_RDONLY);
    const write = openSync(fifo, fsConstants.O_WRONLY);
    return { read: new PipeEnd(read), write: new PipeEnd(write) };
  } finally {
    closeSync(both);
    Deno.removeSync(fifo);
  }
}

/**
 * Reads one line (at most `maxBytes` before its newline) off `end`, a byte at a time so
 * that nothing after the newline is read: the rest is for the program that gets `end`
 * next. null when the stream ended before a newline and nothing was read.
 */
export async function readLineExactly(end: PipeEnd, maxBytes: number): Promise<string | null> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while (bytes.length <= maxBytes) {
    const n = await readOne(end.fd, one);
    if (n === 0) break;
    if (one[0] === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
    bytes.push(one[0]);
  }
  return bytes.length > 0 ? new TextDecoder().decode(new Uint8Array(bytes)) : null;
}

/**
 * Reads exactly `count` bytes off `end` (fewer only when the stream ends first), nothing
 * after them: the rest is for the program that gets `end` next.
 */
export async function readExactly(end: PipeEnd, count: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(count);
  let at = 0;
  while (at < count) {
    const n = await readOne(end.fd, bytes.subarray(at));
    if (n === 0) break;
    at += n;
  }
  return bytes.subarray(0, at);
}

/** One read of `fd` into `buffer`, off the main thread when the pipe is empty. */
function readOne(fd: number, buffer: Uint8Array): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    read(fd, buffer, 0, buffer.length, null, (error, n) => error ? reject(error) : resolve(n))
  );
}

/** Writes all of `bytes` into `end` (off the main thread while the pipe is full). */
export async function writeAllTo(end: PipeEnd, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await new Promise<number>((resolve, reject) =>
      write(
        end.fd,
        bytes,
        at,
        bytes.length - at,
        null,
        (error, n) => error ? reject(error) : resolve(n),
      )
    );
  }
}

/** Reads `end` to its end and drops what it read (what follows an answer refused). */
export async function drain(end: PipeEnd): Promise<void> {
  const buffer = new Uint8Array(65536);
  while (await readOne(end.fd, buffer) > 0) {
    // dropped
  }
}

/** What {@link joinPrograms} needs of a runner (runner.ts's, which imports this file). */
export interface JoiningRunner {
  osPipe(): Promise<OsPipe>;
  run(program: string, args: readonly string[], options: {
    stdinEnd: PipeEnd;
    stdoutEnd: PipeEnd;
    env: Record<string, string>;
    onStderr: (text: string) => void;
    signal: AbortSignal;
  }): Promise<{ stderr: string }>;
}

/** The byte counter between the two pipes: dd copies and counts, as `pv` would. */
const METER = ["dd", "bs=1M", "status=progress"] as const;

/**
 * The bytes dd says it copied: its last `N bytes … copied` (progress lines, then the
 * total at its exit; C locale).
 */
export function meteredBytes(stderr: string): number | undefined {
  const all = [...stderr.matchAll(/(\d+) bytes/g)];
  return all.length > 0 ? Number(all[all.length - 1][1]) : undefined;
}

/** The signal, byte count and settling shared by the sides of one join. */
class Join {
  readonly local = new AbortController();
  readonly signal: AbortSignal;
  bytes = 0;

  /** `stops`: more signals that stop every side (besides the operation's). */
  constructor(
    private readonly onBytes: (total: number) => void,
    stops: readonly (AbortSignal | undefined)[] = [],
  ) {
    const signals = [operationSignal(), ...stops, this.local.signal];
    this.signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
  }

  /** Reads dd's progress text into {@link bytes} (`offset`: bytes written before dd's). */
  count(text: string, offset = 0): void {
    const counted = meteredBytes(text);
    if (counted === undefined || counted + offset < this.bytes) return;
    this.bytes = counted + offset;
    try {
      this.onBytes(this.bytes);
    } catch {
      // a progress report never fails the transfer it watches
    }
  }

  /** Runs one side: its failure stops the others; `ends` are closed once it settled. */
  side<T>(run: () => Promise<T>, ends: PipeEnd[]): Promise<T> {
    let started: Promise<T>;
    try {
      started = run();
    } catch (error) {
      started = Promise.reject(error);
    }
    return started.catch((error) => {
      if (!this.local.signal.aborted) this.local.abort(new PeerFailed());
      throw error;
    }).finally(() => ends.forEach((end) => end.close()));
  }
}

/** Two OS pipes, or none (the first closed when the second cannot be made). */
async function twoPipes(runner: JoiningRunner): Promise<[OsPipe, OsPipe]> {
  const first = await runner.osPipe();
  try {
    return [first, await runner.osPipe()];
  } catch (error) {
    first.read.close();
    first.write.close();
    throw error;
  }
}

/**
 * Runs `produce` and `consume` joined by OS pipes with a byte counter between them
 * (`produce | dd | consume`): `produce` hands its program the write end it gets as stdout,
 * `consume` hands its program the read end as stdin (the runner closes zvpg's copies once
 * the programs have theirs). Each gets the signal to pass to its runner call, aborted with
 * {@link PeerFailed} when another program of the three failed and with the operation's
 * reason on an interrupt; all three have settled when this returns. `onBytes` gets the
 * count as dd reports it (about once a second), `bytes` of the outcome is dd's total.
 */
export async function joinPrograms<A, B>(
  runner: JoiningRunner,
  produce: (out: PipeEnd, signal: AbortSignal) => Promise<A>,
  consume: (input: PipeEnd, signal: AbortSignal) => Promise<B>,
  onBytes: (total: number) => void = () => {},
): Promise<PipeOutcome<A, B>> {
  const [into, out] = await twoPipes(runner);
  const join = new Join(onBytes);
  const { signal } = join;
  const [producer, meter, consumer] = await Promise.allSettled([
    join.side(() => produce(into.write, signal), [into.write]),
    join.side(() =>
      runner.run(METER[0], METER.slice(1), {
        stdinEnd: into.read,
        stdoutEnd: out.write,
        env: { LC_ALL: "C" },
        onStderr: (text) => join.count(text),
        signal,
      }), [into.read, out.write]),
    join.side(() => consume(out.read, signal), [out.read]),
  ]);
  if (meter.status === "fulfilled") join.count(meter.value.stderr);
  // the counter failing on its own (not stopped) is why an end stopped: report it there
  const stopped = (r: PromiseSettledResult<unknown>) =>
    meter.status === "rejected" && !isPeerStop(meter.reason) && r.status === "rejected" &&
    isPeerStop(r.reason);
  return {
    producer: stopped(producer) ? meter as PromiseRejectedResult : producer,
    consumer: stopped(consumer) ? meter as PromiseRejectedResult : consumer,
    bytes: join.bytes,
  };
}

/**
 * Runs `produce` and `consume` joined by one OS pipe, nothing between them
 * (`produce | consume`), with the guarantees of {@link joinPrograms}; `bytes` of the
 * outcome is 0: whoever reads the pipe counts, when it matters.
 */
export async function joinDirectly<A, B>(
  runner: JoiningRunner,
  produce: (out: PipeEnd, signal: AbortSignal) => Promise<A>,
  consume: (input: PipeEnd, signal: AbortSignal) => Promise<B>,
): Promise<PipeOutcome<A, B>> {
  const joined = await runner.osPipe();
  const join = new Join(() => {});
  const { signal } = join;
  const [producer, consumer] = await Promise.allSettled([
    join.side(() => produce(joined.write, signal), [joined.write]),
    join.side(() => consume(joined.read, signal), [joined.read]),
  ]);
  return { producer, consumer, bytes: 0 };
}

/**
 * Runs `consume` on `head` followed by the rest of `input`, which the byte counter copies
 * into its program's stdin (`head; dd < input | consume`): one copy, counted, whatever
 * zvpg read off `input` before (a protocol line, a stream header) given back as `head`.
 * `input` is closed once dd has it. Guarantees of {@link joinPrograms}, and `stop` stops
 * both too; `bytes` counts `head`.
 */
export async function meterInto<B>(
  runner: JoiningRunner,
  head: Uint8Array,
  input: PipeEnd,
  consume: (input: PipeEnd, signal: AbortSignal) => Promise<B>,
  options: { onBytes?: (total: number) => void; stop?: AbortSignal } = {},
): Promise<PipeOutcome<void, B>> {
  let out: OsPipe;
  try {
    out = await runner.osPipe();
  } catch (error) {
    input.close();
    throw error;
  }
  const join = new Join(options.onBytes ?? (() => {}), [options.stop]);
  const { signal } = join;
  const [producer, consumer] = await Promise.allSettled([
    join.side(async () => {
      await writeAllTo(out.write, head);
      join.count(`${head.length} bytes`);
      const { stderr } = await runner.run(METER[0], METER.slice(1), {
        stdinEnd: input,
        stdoutEnd: out.write,
        env: { LC_ALL: "C" },
        onStderr: (text) => join.count(text, head.length),
        signal,
      });
      join.count(stderr, head.length);
    }, [input, out.write]),
    join.side(() => consume(out.read, signal), [out.read]),
  ]);
  return { producer, consumer, bytes: join.bytes };
}
