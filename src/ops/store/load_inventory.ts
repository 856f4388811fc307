/**
 * The whole inventory: every branch and snapshot of the pool, read in one `zfs get -r`,
 * for listings and graph-wide operations. The operations about one branch or snapshot read
 * only what they name ({@link ./load_branch.ts}).
 *
 * Invariant: an operation on an initialised pool is refused before `init env` (and while
 * the pool is only exported), rather than answered as if the pool were empty.
 *
 * @module
 */
import type { ContainerInfo } from "../../adapters/container_runtime.ts";
import { NotInitializedError, PoolNotImportedError } from "../../errors.ts";
import type { Context } from "../../context.ts";
import { commandName } from "../../runtime/interrupt.ts";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { buildInventory, type Inventory, inventoryProps } from "../../domain/inventory.ts";
import { LABELS } from "../../domain/layout.ts";

/** What {@link loadInventory} reads besides the branches and their snapshots. */
export interface InventoryOptions {
  /** false: no runtime call (every branch shows its recorded state). */
  containers?: boolean;
  /**
   * true: the remote-tracking snapshots too (`Inventory.tracking`), in the same `zfs get`
   * (one more root, `<pool>/remotes`).
   */
  tracking?: boolean;
}

/** Reads the inventory. */
export async function loadInventory(
  ctx: Context,
  options: InventoryOptions = {},
): Promise<Inventory> {
  const { layout } = ctx;
  const roots = [layout.dataDataset, layout.clonesDataset];
  if (options.tracking) roots.push(layout.remotesDataset);
  const [entries, containers] = await Promise.all([
    ctx.zfs.getTree(roots, inventoryProps(ctx.zfs.flavor)),
    options.containers === false
      ? Promise.resolve([] as ContainerInfo[])
      : ctx.runtime.list({ [LABELS.pool]: layout.pool }),
  ]);
  return buildInventory(ctx, entries, containers);
}

/**
 * Loads the inventory of an initialised pool; throws {@link NotInitializedError} (naming
 * `what`) before `init env`, and {@link PoolNotImportedError} when the pool is only
 * exported (e.g. after `zpool export`).
 */
export async function loadInitializedInventory(
  ctx: Context,
  what: string,
  options?: InventoryOptions,
): Promise<Inventory> {
  const inventory = await loadInventory(ctx, options);
  await requireInitialized(ctx, inventory.initialized, what);
  return inventory;
}

/**
 * Throws {@link NotInitializedError} (or {@link PoolNotImportedError}) unless
 * `initialized`: whether the default branch's dataset was found. The message names the
 * command the user ran; `what` only where none was named (a library call, a test).
 */
export async function requireInitialized(
  ctx: Context,
  initialized: boolean,
  what: string,
): Promise<void> {
  if (initialized) return;
  what = commandName() ?? what;
  await throwIfPoolNotImported(ctx, what);
  throw new NotInitializedError(what);
}

/**
 * Throws {@link PoolNotImportedError} when the configured pool is not imported but can be:
 * its file `<mountDir>/<pool>.img` exists, or `zpool import` finds it beside its device.
 */
export async function throwIfPoolNotImported(ctx: Context, what: string): Promise<void> {
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
