/**
 * Branch and snapshot names, for shell completion: one read of the inventory (one
 * `zfs get`, no container engine call).
 *
 * @module
 */
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import type { Context } from "../context.ts";
import { loadRemotes } from "../ops/remote_store.ts";

/** The names of every branch, or of every snapshot. */
export async function listNames(
  ctx: Context,
  kind: "branches" | "snapshots" | "remotes",
): Promise<string[]> {
  if (kind === "remotes") return loadRemotes(ctx).map((r) => r.name);
  const inventory = await loadInitializedInventory(ctx, "complete", { containers: false });
  return kind === "branches"
    ? inventory.branches.map((b) => b.name)
    : inventory.snapshots.map((s) => s.name);
}
