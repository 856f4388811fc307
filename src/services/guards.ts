/**
 * Preconditions shared by services.
 *
 * @module
 */
import { NotInitializedError } from "../errors.ts";
import type { Inventory } from "./inventory.ts";

/** Throws {@link NotInitializedError} when the default branch does not exist. */
export function requireInitialized(inventory: Inventory, what: string): void {
  if (!inventory.initialized) throw new NotInitializedError(what);
}
