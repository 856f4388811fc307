/**
 * Preconditions shared by services.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { NotInitializedError, PoolNotImportedError } from "../errors.ts";
import type { Context } from "./context.ts";
import { type Inventory, loadInventory } from "./inventory.ts";

/**
 * Loads the inventory of an initialised pool; throws {@link NotInitializedError} (naming
 * `what`) before `init env`, rather than answer as if the pool were empty, and
 * {@link PoolNotImportedError} when the pool is only exported (e.g. after `zpool export`).
 */
export async function loadInitializedInventory(
  ctx: Context,
  what: string,
  options?: { containers?: boolean },
): Promise<Inventory> {
  const inventory = await loadInventory(ctx, options);
  await requireInitialized(ctx, inventory.initialized, what);
  return inventory;
}

/**
 * Throws {@link NotInitializedError} (or {@link PoolNotImportedError}) unless
 * `initialized`: whether the default branch's dataset was found.
 */
export async function requireInitialized(
  ctx: Context,
  initialized: boolean,
  what: string,
): Promise<void> {
  if (initialized) return;
  await throwIfPoolNotImported(ctx, what);
  throw new NotInitializedError(what);
}

/**
 * Throws {@link PoolNotImportedError} when the configured pool is not imported but can be:
 * its file `<mountDir>/<pool>.img` exists, or `zpool import` finds it beside its device.
 */
async function throwIfPoolNotImported(ctx: Context, what: string): Promise<void> {
  const { zfs, layout, config } = ctx;
  if (await zfs.poolStatus(layout.pool)) return;
  if (config.zfsPoolDevice) {
    const dir = dirname(config.zfsPoolDevice);
    if ((await zfs.importablePools(dir)).includes(layout.pool)) {
      throw new PoolNotImportedError(what, layout.pool, dir);
    }
  } else if (existsSync(layout.poolImage)) {
    throw new PoolNotImportedError(what, layout.pool, dirname(layout.poolImage));
  }
}
