/**
 * Preconditions shared by services.
 *
 * @module
 */
import { NotInitializedError } from "../errors.ts";
import type { Context } from "./context.ts";
import { type Inventory, loadInventory } from "./inventory.ts";

/** Throws {@link NotInitializedError} when the default branch does not exist. */
export function requireInitialized(inventory: Inventory, what: string): void {
  if (!inventory.initialized) throw new NotInitializedError(what);
}

/**
 * Loads the inventory of an initialised pool; throws {@link NotInitializedError} (naming
 * `what`) before `init env`, rather than answer as if the pool were empty.
 */
export async function loadInitializedInventory(
  ctx: Context,
  what: string,
  options?: { containers?: boolean },
): Promise<Inventory> {
  const inventory = await loadInventory(ctx, options);
  requireInitialized(inventory, what);
  return inventory;
}
