/**
 * The one place where zvpg runs other programs. Every program gets an argv array:
 * no shell is ever involved, so no input can be interpreted as shell syntax.
 *
 * @module
 */
import {
  CommandFailedError,
  CommandTimeoutError,
  InterruptedError,
  ProgramNotFoundError,
} from "../errors.ts";
import { spawn } from "node:child_process";
import { closeSync, fchmodSync, openSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { log } from "./log.ts";
import { operationSignal } from "./operation_signal.ts";
import { type OsPipe, type PipeEnd, pipeFromFifo } from "./os_pipe.ts";

/** Options for {@link CommandRunner.run}. */
export interface RunOptions {
  /** Bytes or text written to the program's stdin. */
  stdin?: string | Uint8Array;
  /** Extra environment variables (merged over the current environment). */
  env?: Record<string, string>;
  /** Return any non-zero exit instead of throwing {@link CommandFailedError}. */
  allowFailure?: boolean;
  /**
   * Names the failures the caller expects: a non-zero exit for which this returns true is
   * returned, not thrown (dax's `noThrow`, generalised). Every other one throws
   * {@link CommandFailedError} with the full argv.
   */
  tolerate?: (result: RunResult) => boolean;
  /** Kill the program after this many milliseconds and throw {@link CommandTimeoutError}. */
  timeoutMs?: number;
  /**
   * Stops the call: a program still running when it aborts is killed (SIGTERM, then
   * SIGKILL after {@link KILL_GRACE_MS}) and the call throws the signal's reason (an
   * {@link InterruptedError}); a call made after it aborted throws at once. Default: the
   * signal of the operation under way ({@link operationSignal}).
   */
  signal?: AbortSignal;
  /**
   * The program talks to the user's terminal: it inherits zvpg's stdin, stdout and stderr
   * (the result's `stdout` and `stderr` are empty) and a non-zero exit is returned, never
   * thrown. Run it under {@link import("./interrupt.ts").withSignalsToChild} so a Ctrl-C
   * goes to the program alone.
   */
  interactive?: boolean;
  /**
   * Receives the program's stderr as it is written (decoded text, in chunks), for progress
   * reports; the result's `stderr` still holds all of it.
   */
  onStderr?: (text: string) => void;
  /**
   * Streams the program's stdout into this file instead of memory (the result's `stdout`
   * is empty): a new file (an existing one is never written over), mode 0600. A call that
   * fails, times out or is stopped removes it, so it never leaves a partial file.
   */
  stdoutFile?: string;
  /** Streams this file to the program's stdin (instead of {@link RunOptions.stdin}). */
  stdinFile?: string;
  /**
   * Streams these bytes to the program's stdin (instead of {@link RunOptions.stdin}): one
   * end of a pipe between programs (see `pipe.ts`). A program that exits before reading
   * all of it cancels the stream.
   */
  stdinStream?: ReadableStream<Uint8Array>;
  /**
   * Streams the program's stdout into this stream instead of memory (the result's
   * `stdout` is empty), closing it when the program's stdout ends. A stream that fails
   * closes the program's stdout, so it stops on a broken pipe.
   */
  stdoutStream?: WritableStream<Uint8Array>;
  /**
   * The read end of an OS pipe (see `os_pipe.ts`), given to the program as its stdin
   * itself: the bytes never pass through zvpg. The runner closes zvpg's copy once the
   * program has its own (or the call failed to start it).
   */
  stdinEnd?: PipeEnd;
  /** The write end of an OS pipe, given to the program as its stdout (as {@link stdinEnd}). */
  stdoutEnd?: PipeEnd;
}

/** The outcome of a finished program. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs programs. Services only ever see this interface, so tests can substitute a fake. */
export interface CommandRunner {
  run(program: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * A new OS pipe whose ends {@link RunOptions.stdinEnd} and {@link RunOptions.stdoutEnd}
   * hand to programs; absent on a runner that cannot (callers then use `pipe.ts`).
   */
  osPipe?(): Promise<OsPipe>;
}

/** How long a program killed by an abort gets to exit on SIGTERM before SIGKILL. */
export const KILL_GRACE_MS = 2_000;

/**
 * How long to wait for the operation's signal when a program died of SIGINT or SIGTERM
 * first: a Ctrl-C in a terminal reaches zvpg and its child together, in either order.
 */
export const INTERRUPT_GRACE_MS = 500;

const EMPTY = new Uint8Array();

/** The exits of the programs running now (see {@link childrenExited}). */
const running = new Set<Promise<unknown>>();

/**
 * Resolves once every program started so far has exited: an interrupted operation waits for
 * the children it killed, so that none outlives zvpg (a failed `Promise.all` stops waiting
 * for the other calls, not the calls themselves).
 */
export async function childrenExited(): Promise<void> {
  while (running.size > 0) await Promise.allSettled([...running]);
}

/** Which Debian package provides a program, for "not found" hints. */
const PACKAGE_HINTS: Record<string, string> = {
  zfs: "install zfsutils-linux (or zfs-fuse) and make sure 'zfs' is on PATH",
  zpool: "install zfsutils-linux (or zfs-fuse) and make sure 'zpool' is on PATH",
  docker: "install docker.io, or set containerRuntime in config.json to podman or nerdctl",
  podman: "install podman, or set containerRuntime in config.json to docker or nerdctl",
  nerdctl: "install nerdctl, or set containerRuntime in config.json to docker or podman",
  pg_isready: "install postgresql-client",
  psql: "install postgresql-client",
  truncate: "install coreutils",
};

/** Runs programs with `Deno.Command`. */
export class DenoCommandRunner implements CommandRunner {
  async run(
    program: string,
    args: readonly string[],
    options: RunOptions = {},
  ): Promise<RunResult> {
    log.debug(`run: ${program} ${args.map(quoteForLog).join(" ")}`);
    const signal = options.signal ?? operationSignal();
    const ends = [options.stdinEnd, options.stdoutEnd];
    try {
      if (signal?.aborted) throw abortError(signal, program, args);
      if (options.stdinEnd !== undefined || options.stdoutEnd !== undefined) {
        return await this.#runWithFiles(program, args, options, signal, {
          input: options.stdinEnd?.fd,
          sink: options.stdoutEnd?.fd,
        }, () => ends.forEach((end) => end?.close()));
      }
    } finally {
      // the program has its copy by now, or never will
      ends.forEach((end) => end?.close());
    }
    if (options.stdinFile === undefined && options.stdoutFile === undefined) {
      return await this.#run(program, args, options, signal);
    }
    return await withFiles(
      options,
      (files) => this.#runWithFiles(program, args, options, signal, files),
    );
  }

  /** An OS pipe, made from a FIFO in a new private directory (Deno has no `pipe()`). */
  async osPipe(): Promise<OsPipe> {
    const dir = await Deno.makeTempDir({ prefix: "zvpg-pipe-" });
    try {
      const fifo = `${dir}/fifo`;
      await this.run("mkfifo", ["-m", "600", fifo]);
      return pipeFromFifo(fifo);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  async #run(
    program: string,
    args: readonly string[],
    options: RunOptions,
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    const started = performance.now();
    const command = new Deno.Command(program, {
      args: [...args],
      stdin: options.interactive
        ? "inherit"
        : options.stdin !== undefined || options.stdinStream
        ? "piped"
        : "null",
      stdout: options.interactive ? "inherit" : "piped",
      stderr: options.interactive ? "inherit" : "piped",
      env: options.env,
    });
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new ProgramNotFoundError(
          program,
          PACKAGE_HINTS[basename(program)] ?? `install '${program}'`,
        );
      }
      throw error;
    }
    let timedOut = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      kill(child, "SIGKILL");
    }, options.timeoutMs);
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      log.debug(`run: stopping ${program} (pid ${child.pid})`);
      kill(child, "SIGTERM");
      killTimer = setTimeout(() => kill(child, "SIGKILL"), KILL_GRACE_MS);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    let output: Pick<Deno.CommandOutput, "code" | "signal" | "stdout" | "stderr">;
    // stdin is written while stdout and stderr are drained: a program that echoes a large
    // input would otherwise block on a full pipe while we block writing to it
    const feed = options.stdinStream
      ? pipeStdin(child, options.stdinStream)
      : writeStdin(child, options.stdin);
    const exited = options.interactive
      ? child.status.then((status) => [{ ...status, stdout: EMPTY, stderr: EMPTY }] as const)
      : options.onStderr || options.stdoutStream
      ? Promise.all([streamedOutput(child, options.onStderr, options.stdoutStream), feed])
      : Promise.all([child.output(), feed]);
    running.add(exited);
    try {
      [output] = await exited;
    } finally {
      running.delete(exited);
      signal?.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
    }
    const result: RunResult = {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
    // names the call (concurrent calls finish in any order): bench/scale.ts profiles these
    log.debug(
      `exit ${result.code} after ${Math.round(performance.now() - started)} ms: ${
        callSummary(program, args)
      }`,
    );
    if (timedOut && !signal?.aborted) {
      throw new CommandTimeoutError(program, args, options.timeoutMs!);
    }
    if (options.interactive && !signal?.aborted) return result;
    return await settle(program, args, result, options, signal, output.signal);
  }

  /**
   * Runs a call with a {@link RunOptions.stdinFile} or {@link RunOptions.stdoutFile}: the
   * program gets the open file itself as its stdin or stdout, as a shell's redirection
   * gives it, so the stream never passes through zvpg (a copy through a pipe and Deno's
   * streams made a 2 GB `zfs send` 2-3x slower than `zfs send > file`). `Deno.Command`
   * takes no file descriptor, so this uses `node:child_process`, with the same timeout,
   * abort, stderr and exit handling as {@link DenoCommandRunner.#run}.
   */
  async #runWithFiles(
    program: string,
    args: readonly string[],
    options: RunOptions,
    signal: AbortSignal | undefined,
    { input, sink }: Files,
    spawned: () => void = () => {},
  ): Promise<RunResult> {
    const started = performance.now();
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program, [...args], {
        stdio: [
          input ?? (options.stdin !== undefined ? "pipe" : "ignore"),
          sink ?? "pipe",
          "pipe",
        ],
        env: options.env ? { ...Deno.env.toObject(), ...options.env } : undefined,
      });
    } finally {
      spawned();
    }
    let timedOut = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const stop = (how: "SIGTERM" | "SIGKILL") => {
      try {
        child.kill(how);
      } catch {
        // already gone
      }
    };
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      stop("SIGKILL");
    }, options.timeoutMs);
    const onAbort = () => {
      log.debug(`run: stopping ${program} (pid ${child.pid})`);
      stop("SIGTERM");
      killTimer = setTimeout(() => stop("SIGKILL"), KILL_GRACE_MS);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    const decoder = new TextDecoder();
    child.stdout?.on("data", (chunk: Uint8Array) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Uint8Array) => {
      stderr.push(chunk);
      try {
        options.onStderr?.(decoder.decode(chunk, { stream: true }));
      } catch {
        // a progress report never fails the program it watches
      }
    });
    if (child.stdin) {
      // a program that exits before reading all of it is fine
      child.stdin.on("error", () => {});
      child.stdin.end(options.stdin ?? "");
    }
    const exited = new Promise<{ code: number; signal: Deno.Signal | null } | Error>(
      (resolve) => {
        child.once("error", (error: Error) => resolve(error));
        child.once("close", (code: number | null, died: NodeJS.Signals | null) =>
          resolve({
            code: code ?? 128 + (died ? osConstants.signals[died] : 0),
            signal: died as Deno.Signal | null,
          }));
      },
    );
    running.add(exited);
    let status: { code: number; signal: Deno.Signal | null } | Error;
    try {
      status = await exited;
    } finally {
      running.delete(exited);
      signal?.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
    }
    if (status instanceof Error) {
      if ((status as NodeJS.ErrnoException).code === "ENOENT") {
        throw new ProgramNotFoundError(
          program,
          PACKAGE_HINTS[basename(program)] ?? `install '${program}'`,
        );
      }
      throw status;
    }
    const result: RunResult = {
      code: status.code,
      stdout: new TextDecoder().decode(concat(stdout)),
      stderr: new TextDecoder().decode(concat(stderr)),
    };
    log.debug(
      `exit ${result.code} after ${Math.round(performance.now() - started)} ms: ${
        callSummary(program, args)
      }`,
    );
    if (timedOut && !signal?.aborted) {
      throw new CommandTimeoutError(program, args, options.timeoutMs!);
    }
    return await settle(program, args, result, options, signal, status.signal);
  }
}

/** The chunks as one array. */
function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

/**
 * Decides what a finished call returns or throws; shared by the real and the fake runner.
 * A non-zero exit is an interruption when the operation's signal aborted, or when the
 * program died of SIGINT/SIGTERM and the signal aborts within {@link INTERRUPT_GRACE_MS};
 * otherwise it is returned when tolerated, else thrown as {@link CommandFailedError}.
 */
export async function settle(
  program: string,
  args: readonly string[],
  result: RunResult,
  options: RunOptions,
  signal: AbortSignal | undefined,
  diedOf?: Deno.Signal | null,
): Promise<RunResult> {
  if (result.code === 0) return result;
  if (signal?.aborted) throw abortError(signal, program, args);
  const byInterrupt = diedOf === "SIGINT" || diedOf === "SIGTERM" || result.code === 130 ||
    result.code === 143;
  if (byInterrupt && signal && await abortsWithin(signal, INTERRUPT_GRACE_MS)) {
    throw abortError(signal, program, args);
  }
  if (options.allowFailure || options.tolerate?.(result)) return result;
  throw new CommandFailedError(program, args, result.code, result.stderr || result.stdout);
}

/** The error an aborted call throws: the signal's reason when it is an InterruptedError. */
export function abortError(signal: AbortSignal, program: string, args: readonly string[]): Error {
  if (signal.reason instanceof InterruptedError) return signal.reason;
  return new InterruptedError(`'${program} ${args.slice(0, 2).join(" ")}' was interrupted`, {
    cause: signal.reason,
  });
}

/** Resolves true when `signal` aborts within `ms`, false otherwise. */
function abortsWithin(signal: AbortSignal, ms: number): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (aborted: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(aborted);
    };
    const onAbort = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}

/**
 * The child's output, its stderr also handed to `onStderr` chunk by chunk as it comes, its
 * stdout written to `sink` when there is one (and then empty in the output).
 */
async function streamedOutput(
  child: Deno.ChildProcess,
  onStderr: ((text: string) => void) | undefined,
  sink?: WritableStream<Uint8Array>,
): Promise<Pick<Deno.CommandOutput, "code" | "signal" | "stdout" | "stderr">> {
  const collect = async (stream: ReadableStream<Uint8Array>, each?: (text: string) => void) => {
    const chunks: Uint8Array[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (each) {
        try {
          each(decoder.decode(chunk, { stream: true }));
        } catch {
          // a progress report never fails the program it watches
        }
      }
    }
    return concat(chunks);
  };
  // a sink that fails cancels the child's stdout: the child then stops on a broken pipe
  const toSink = async (stream: ReadableStream<Uint8Array>, to: WritableStream<Uint8Array>) => {
    await stream.pipeTo(to).catch(() => {});
    return EMPTY;
  };
  const [stdout, stderr, status] = await Promise.all([
    sink ? toSink(child.stdout, sink) : collect(child.stdout),
    collect(child.stderr, onStderr),
    child.status,
  ]);
  return { code: status.code, signal: status.signal, stdout, stderr };
}

/** Streams `input` to the child's stdin and closes it; a child that exits early is fine. */
async function pipeStdin(
  child: Deno.ChildProcess,
  input: ReadableStream<Uint8Array>,
): Promise<void> {
  await input.pipeTo(child.stdin).catch(() => {});
}

/** Writes `stdin` (if any) to the child and closes it; a child that exits early is fine. */
async function writeStdin(
  child: Deno.ChildProcess,
  stdin: string | Uint8Array | undefined,
): Promise<void> {
  if (stdin === undefined) return;
  const writer = child.stdin.getWriter();
  const bytes = typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
  await writer.write(bytes).catch(() => {});
  await writer.close().catch(() => {});
}

/** The files a call streams from and to: open file descriptors the program gets. */
interface Files {
  input?: number;
  sink?: number;
}

/**
 * Opens the call's {@link RunOptions.stdinFile} and a new {@link RunOptions.stdoutFile},
 * runs `call` with them and closes them; removes the output file unless the call
 * succeeded, so a failed, timed-out or stopped call never leaves a partial file.
 */
async function withFiles(
  options: RunOptions,
  call: (files: Files) => Promise<RunResult>,
): Promise<RunResult> {
  const files: Files = {};
  let succeeded = false;
  try {
    if (options.stdinFile !== undefined) files.input = openSync(options.stdinFile, "r");
    if (options.stdoutFile !== undefined) files.sink = newPrivateFile(options.stdoutFile);
    const result = await call(files);
    succeeded = result.code === 0;
    return result;
  } finally {
    closeQuietly(files.input);
    closeQuietly(files.sink);
    if (files.sink !== undefined && !succeeded) {
      await Deno.remove(options.stdoutFile!).catch(() => {});
    }
  }
}

/** Creates `path` for writing: a new file only (never one already there), mode 0600. */
function newPrivateFile(path: string): number {
  const fd = openSync(path, "wx", 0o600);
  try {
    fchmodSync(fd, 0o600);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Quotes an argument for a debug log line (never executed). */
function quoteForLog(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** The path of `program` on `$PATH` (an executable file), or undefined when there is none. */
export function findOnPath(program: string, path = Deno.env.get("PATH") ?? ""): string | undefined {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const candidate = `${dir}/${program}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** `program` and its first arguments, then how many more: `zfs get -H -p -o … (+101 args)`. */
export function callSummary(program: string, args: readonly string[]): string {
  const shown = args.slice(0, 6).map(quoteForLog).join(" ");
  return args.length > 6 ? `${program} ${shown} (+${args.length - 6} args)` : `${program} ${shown}`;
}
