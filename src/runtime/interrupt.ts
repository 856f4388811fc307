/**
 * Ctrl-C (SIGINT) and SIGTERM. Each zvpg operation runs under {@link withInterrupts}, which
 * gives it an `AbortController`. The first signal aborts it: the program it runs is killed
 * (the runner stops every call made under the operation's signal), the next call or check
 * throws {@link InterruptedError}, the operation's failure path removes what it made, and
 * zvpg exits 130. Clean-up runs {@link shielded}: the first signal does not stop it. A
 * second signal kills the programs still running and quits at once: what that leaves
 * behind is recorded in ZFS, and the next command or `zvpg status health --repair` cleans
 * it up.
 *
 * A terminal sends SIGINT to zvpg and its running child together; whichever is seen first,
 * the runner reports such a child as interrupted, never as a failed command.
 *
 * @module
 */
import { InterruptedError } from "../errors.ts";
import { log } from "./log.ts";
import { operationSignal, withOperationSignal } from "./operation_signal.ts";
import { childrenExited } from "./runner.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** One operation under {@link withInterrupts}. */
interface Operation {
  /** What it is, for messages ("branch create 'x'"). */
  what: string;
  /** The command the user ran, without operands ("branch create"), once named. */
  command?: string;
  /** Whether it changes anything (then an interrupt's message says how to check). */
  mutating: boolean;
  /** Aborted by the first signal. */
  readonly first: AbortController;
  /** Aborted by the second signal: stops even shielded clean-up. */
  readonly second: AbortController;
}

/** The operation each signal (first or second) belongs to. */
const operations = new WeakMap<AbortSignal, Operation>();

/**
 * Runs `action` as one operation with the handling of SIGINT and SIGTERM described above;
 * throws the {@link InterruptedError} of a first signal even when `action` got to its end.
 * Nested calls rename the operation under way.
 */
export async function withInterrupts<T>(
  what: string,
  action: () => Promise<T>,
  options: { mutating?: boolean } = {},
): Promise<T> {
  const outer = currentOperation();
  if (outer) {
    nameOperation(what, options);
    return await action();
  }
  const op: Operation = {
    what,
    mutating: options.mutating ?? true,
    first: new AbortController(),
    second: new AbortController(),
  };
  operations.set(op.first.signal, op);
  operations.set(op.second.signal, op);
  const listeners = SIGNALS.map((signal) => {
    const listener = () => onSignal(op, signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  try {
    const result = await withOperationSignal(op.first.signal, action);
    op.first.signal.throwIfAborted();
    return result;
  } catch (error) {
    if (!op.first.signal.aborted) throw error;
    // the programs the interrupt killed do not outlive zvpg
    await childrenExited();
    // a Ctrl-C ends in exit 130 whatever the step under way made of it
    if (error instanceof InterruptedError) throw error;
    log.debug(`after the interrupt: ${error instanceof Error ? error.message : String(error)}`);
    throw op.first.signal.reason;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** How many programs that own the terminal are running (see {@link withSignalsToChild}). */
let terminalChildren = 0;

/**
 * Runs `action`, which runs a program that talks to the user's terminal (psql): a Ctrl-C
 * is the program's (the terminal sends SIGINT to it too; psql cancels its query), so
 * zvpg ignores SIGINT meanwhile. SIGTERM still stops the operation and the program.
 */
export async function withSignalsToChild<T>(action: () => Promise<T>): Promise<T> {
  terminalChildren++;
  try {
    return await action();
  } finally {
    terminalChildren--;
  }
}

function onSignal(op: Operation, signal: string): void {
  if (signal === "SIGINT" && terminalChildren > 0) {
    log.debug("SIGINT: left to the program that owns the terminal");
    return;
  }
  if (op.first.signal.aborted) {
    log.warn(`${signal} again: quitting at once`);
    // kills the programs still running (the runner listens) before the process goes
    op.second.abort(new InterruptedError(`${op.what} stopped by a second ${signal}`));
    Deno.exit(130);
  }
  log.warn(`${signal}: stopping ${op.what} (send it again to quit at once)`);
  op.first.abort(
    new InterruptedError(
      `${op.what} interrupted by ${signal}`,
      op.mutating
        ? { hint: "run 'zvpg status health' to check what it left, '--repair' to finish it" }
        : undefined,
    ),
  );
}

/** The operation under way, if any. */
function currentOperation(): Operation | undefined {
  const signal = operationSignal();
  return signal ? operations.get(signal) : undefined;
}

/**
 * Names the operation under way, for the messages of an interrupt, and the command the user
 * ran, for the messages of errors (one name whichever workflow a command goes through).
 */
export function nameOperation(
  what: string,
  options: { mutating?: boolean; command?: string } = {},
): void {
  const op = currentOperation();
  if (!op || op.first.signal.aborted) return;
  op.what = what;
  if (options.mutating !== undefined) op.mutating = options.mutating;
  if (options.command !== undefined) op.command = options.command;
}

/** The command the user ran ("branch url"), when the CLI named it. */
export function commandName(): string | undefined {
  return currentOperation()?.command;
}

/**
 * Runs clean-up that must finish although the operation was interrupted: the programs it
 * runs are not stopped by the first signal, only by a second one.
 */
export function shielded<T>(action: () => Promise<T>): Promise<T> {
  const op = currentOperation();
  return op ? withOperationSignal(op.second.signal, action) : action();
}

/** Whether a signal asked the operation under way to stop (false in shielded clean-up). */
export function interrupted(): boolean {
  return operationSignal()?.aborted ?? false;
}

/**
 * Throws {@link InterruptedError} when a signal asked the operation under way to stop; the
 * operation's failure path then removes what it made before the message is shown.
 */
export function throwIfInterrupted(): void {
  operationSignal()?.throwIfAborted();
}

/**
 * {@link throwIfInterrupted} after the signals the process has already received are
 * delivered: a listener runs only once Deno polls its signal op, which one timer turn does
 * not ensure (a signal that arrived during synchronous work was seen after the next
 * program had started); two turns put a poll of every ready op in between. The check
 * before a point of no return.
 */
export async function throwIfInterruptedNow(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
  throwIfInterrupted();
}

/**
 * The error to report once an operation's clean-up ran after an interrupt: the interrupt's
 * message saying what the clean-up did (by default, it removed what the operation made; an
 * operation past its point of no return says it finished instead), in place of its hint.
 * Other errors are returned as they are.
 */
export function rolledBack(error: unknown, done = "removed what it had made"): unknown {
  if (!(error instanceof InterruptedError)) return error;
  return new InterruptedError(`${error.message}: ${done}`);
}
