/**
 * One exclusive lock per pool, so parallel zvpg processes never hand out the same port
 * nor race on one branch. It is an flock(2) on `<mountDir>/.zvpg.lock`: the kernel
 * releases it when the process dies, so a crash never leaves it held.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { log } from "../log.ts";
import type { Layout } from "./layout.ts";

/** Runs `action` while holding the pool's lock. */
export async function withLock<T>(layout: Layout, action: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(layout.lockFile), { recursive: true });
  const file = await Deno.open(layout.lockFile, { create: true, write: true });
  try {
    const waiting = setTimeout(() => log.info("waiting for another zvpg process…"), 2000);
    try {
      await file.lock(true);
    } finally {
      clearTimeout(waiting);
    }
    return await action();
  } finally {
    try {
      await file.unlock();
    } catch {
      // closing releases it anyway
    }
    file.close();
  }
}
