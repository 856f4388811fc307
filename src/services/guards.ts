/**
 * Preconditions shared by services.
 *
 * @module
 */
import { NotInitializedError } from "../errors.ts";
import type { Context } from "./context.ts";
import { type Inventory, loadInventory } from "./inventory.ts";

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
  if (!inventory.initialized) throw new NotInitializedError(what);
  return inventory;
}
