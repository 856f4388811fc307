/**
 * A strict fake {@link CommandRunner} for unit tests: every call must be expected, in
 * order, or the test fails.
 *
 * @module
 */
import { operationSignal } from "./operation_signal.ts";
import {
  abortError,
  type CommandRunner,
  type RunOptions,
  type RunResult,
  settle,
} from "./runner.ts";

/** One expected call and the answer the fake gives to it. */
export interface ExpectedCall {
  /** The exact argv: program first. */
  argv: string[];
  /** What the "program" prints and returns. */
  result?: Partial<RunResult>;
  /** Bytes written to the caller's stdout stream after `result.stdout` (a fake `zfs send`). */
  stdoutBytes?: Uint8Array;
  /** Checks the options (stdin, env) the caller passed. */
  check?: (options: RunOptions) => void;
  /**
   * Runs while the "program" runs, before it answers: e.g. aborts the operation, as a
   * Ctrl-C reaching zvpg and its child together does.
   */
  during?: () => void;
  /** The signal the "program" died of (with `result.code` 130 or 143 for SIGINT/SIGTERM). */
  diedOf?: Deno.Signal;
}

/** A runner that replays expected calls in order and fails on anything else. */
export class FakeRunner implements CommandRunner {
  readonly calls: string[][] = [];
  #expected: ExpectedCall[];
  /** Calls that were not the expected one, even where the caller swallowed the error. */
  #wrong: string[] = [];

  constructor(expected: ExpectedCall[] = []) {
    this.#expected = [...expected];
  }

  /** Adds more expected calls. */
  expect(...calls: ExpectedCall[]): this {
    this.#expected.push(...calls);
    return this;
  }

  run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const argv = [program, ...args];
    const signal = options.signal ?? operationSignal();
    // like the real runner: a call made after the abort never starts
    if (signal?.aborted) return Promise.reject(abortError(signal, program, args));
    this.calls.push(argv);
    const next = this.#expected.shift();
    if (!next) {
      this.#wrong.push(`unexpected call: ${JSON.stringify(argv)}`);
      return Promise.reject(new Error(`unexpected call: ${JSON.stringify(argv)}`));
    }
    if (JSON.stringify(next.argv) !== JSON.stringify(argv)) {
      this.#wrong.push(`expected ${JSON.stringify(next.argv)} but got ${JSON.stringify(argv)}`);
      return Promise.reject(
        new Error(`expected ${JSON.stringify(next.argv)} but got ${JSON.stringify(argv)}`),
      );
    }
    next.check?.(options);
    next.during?.();
    const result: RunResult = { code: 0, stdout: "", stderr: "", ...next.result };
    if (result.stderr !== "") options.onStderr?.(result.stderr);
    if (options.stdoutFile !== undefined) {
      // like the real runner: the output goes to a new 0600 file, kept only on success
      if (result.code === 0) {
        Deno.writeTextFileSync(options.stdoutFile, result.stdout, { createNew: true, mode: 0o600 });
      }
      result.stdout = "";
    }
    // like the real runner: an interactive program's exit code is its answer
    if (options.interactive && !signal?.aborted) return Promise.resolve(result);
    if (options.stdinStream === undefined && options.stdoutStream === undefined) {
      return settle(program, args, result, options, signal, next.diedOf);
    }
    return this.#streamed(program, args, options, result, signal, next);
  }

  /**
   * Like the real runner for a call joined to a pipe: its stdin stream is read to its end,
   * its stdout goes into its stdout stream (then closed).
   */
  async #streamed(
    program: string,
    args: readonly string[],
    options: RunOptions,
    result: RunResult,
    signal: AbortSignal | undefined,
    { diedOf, stdoutBytes }: ExpectedCall,
  ): Promise<RunResult> {
    if (options.stdinStream) {
      for await (const _ of options.stdinStream) {
        // read like a program would
      }
    }
    if (options.stdoutStream) {
      const writer = options.stdoutStream.getWriter();
      await writer.write(new TextEncoder().encode(result.stdout)).catch(() => {});
      if (stdoutBytes) await writer.write(stdoutBytes).catch(() => {});
      await writer.close().catch(() => {});
      result = { ...result, stdout: "" };
    }
    return await settle(program, args, result, options, signal, diedOf);
  }

  /** Calls that were not the expected one (even where the caller swallowed the error). */
  get wrongCalls(): readonly string[] {
    return this.#wrong;
  }

  /** Throws when some expected call was never made. */
  assertDone(): void {
    if (this.#wrong.length > 0) throw new Error(`wrong calls: ${this.#wrong.join("; ")}`);
    if (this.#expected.length > 0) {
      throw new Error(
        `expected calls not made: ${JSON.stringify(this.#expected.map((c) => c.argv))}`,
      );
    }
  }
}
