/**
 * Ctrl-C during a branch create or start. The first SIGINT (or SIGTERM) lets the step
 * under way finish; the operation then stops at its next check, removes what it made, and
 * zvpg exits 130. A second signal quits at once: what that leaves behind is recorded in
 * ZFS, and the next command or `zvpg status health --repair` cleans it up.
 *
 * @module
 */
import { InterruptedError } from "../errors.ts";
import { log } from "../log.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** The signal received while an operation ran, if any. */
let received: string | undefined;
/** What the running operation is, for messages. */
let operation = "";

/** Runs `action` with the graceful handling of SIGINT and SIGTERM described above. */
export async function withInterrupts<T>(what: string, action: () => Promise<T>): Promise<T> {
  received = undefined;
  operation = what;
  const listeners = SIGNALS.map((signal) => {
    const listener = () => {
      if (received !== undefined) Deno.exit(130);
      received = signal;
      log.warn(
        `${signal}: stopping ${what} after this step and removing what it made ` +
          "(send it again to quit at once)",
      );
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  try {
    return await action();
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    received = undefined;
  }
}

/** Whether a signal asked the running operation to stop. */
export function interrupted(): boolean {
  return received !== undefined;
}

/**
 * Throws {@link InterruptedError} when a signal asked the running operation to stop; the
 * operation's failure path then removes what it made before the message is shown.
 */
export function throwIfInterrupted(): void {
  if (received !== undefined) {
    throw new InterruptedError(`${operation} interrupted by ${received}: removed what it had made`);
  }
}
