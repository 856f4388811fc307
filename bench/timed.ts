/**
 * Timing and progress of the benchmarks: {@link timed} measures one call's wall time.
 *
 * @module
 */
import { childrenExited } from "../src/runtime/runner.ts";

/** Runs `fn` and returns its value with its wall time in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** When the benchmark started, for progress lines. */
const started = performance.now();

/** Prints a progress line on stderr (stdout holds the report). */
export function progress(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(5);
  console.error(`[bench ${s}s] ${message}`);
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Aborted on SIGINT/SIGTERM: the zvpg CLI runs of a benchmark take it as their signal, so
 * the runner stops them (SIGTERM: zvpg rolls back what it was doing) before the cleanup.
 */
export const benchAbort: AbortController = new AbortController();

/**
 * Runs `cleanup` once, on SIGINT/SIGTERM (after the CLI runs under way have exited; then
 * exits 130) or when the returned function is called (the normal end); its promise is
 * shared, so a signal during the normal cleanup waits for it instead of starting another.
 */
export function cleanupOnSignal(cleanup: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  const once = () => (running ??= cleanup());
  const onSignal = () => {
    progress("interrupted: stopping the CLI runs under way, then cleaning up");
    benchAbort.abort();
    childrenExited().then(once).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  return async () => {
    await once();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  };
}
