/**
 * The `AbortSignal` of the operation under way, carried along its async calls (an
 * `AsyncLocalStorage`), so that every program the operation runs is stopped with it without
 * each caller passing the signal down. `src/runtime/interrupt.ts` sets it from SIGINT and
 * SIGTERM; the runner reads it when a call names no signal of its own.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

const storage = new AsyncLocalStorage<AbortSignal>();

/** The signal of the operation under way, if any. */
export function operationSignal(): AbortSignal | undefined {
  return storage.getStore();
}

/** Runs `action` (and everything it awaits) with `signal` as the operation's signal. */
export function withOperationSignal<T>(signal: AbortSignal, action: () => Promise<T>): Promise<T> {
  return storage.run(signal, action);
}
