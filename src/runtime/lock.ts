/**
 * One exclusive lock per pool, so parallel zvpg processes never hand out the same port
 * nor race on one branch. It is an flock(2) on `<mountDir>/.zvpg.lock`: the kernel
 * releases it when the process dies, so a crash never leaves it held. Taking it also keeps
 * the mount directory 0700 and the lock file 0600.
 *
 * @module
 */
import { chmodSync } from "node:fs";
import { dirname } from "node:path";
import { log } from "./log.ts";
import { ensurePrivateDir, PRIVATE_FILE } from "./private_fs.ts";
import { operationSignal } from "./operation_signal.ts";

/**
 * Runs `action` while holding the lock `layout.lockFile` (the pool's `Layout` is passed as
 * it is). Its directory is made 0700 unless `lockDir` is `"as-is"`: a directory zvpg does
 * not own alone (a file remote's) keeps its mode.
 */
export async function withLock<T>(
  layout: { readonly lockFile: string; readonly lockDir?: "private" | "as-is" },
  action: () => Promise<T>,
): Promise<T> {
  // the mount directory is zvpg's alone: every socket and data directory is below it
  if (layout.lockDir !== "as-is") ensurePrivateDir(dirname(layout.lockFile));
  const file = await Deno.open(layout.lockFile, { create: true, write: true, mode: PRIVATE_FILE });
  chmodSync(layout.lockFile, PRIVATE_FILE);
  let locked = false;
  try {
    const waiting = setTimeout(() => log.info("waiting for another zvpg process…"), 2000);
    try {
      await untilAborted(file.lock(true), operationSignal());
      locked = true;
    } finally {
      clearTimeout(waiting);
    }
    return await action();
  } finally {
    // (an unlock would queue behind a lock request left waiting by an interrupt)
    if (locked) {
      try {
        await file.unlock();
      } catch {
        // closing releases it anyway
      }
    }
    file.close();
  }
}

/**
 * Waits for `promise`, or throws the reason of `signal` once it aborts: Ctrl-C while
 * waiting for another zvpg process stops at once (the kernel request is left to finish
 * and its file is closed with the process).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
