/**
 * Branch, snapshot and remote names, for shell completion: one read of the inventory (one
 * `zfs get`, no container engine call), or of the remotes file.
 *
 * @module
 */
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import type { Context } from "../context.ts";
import { loadRemotes } from "../ops/remote_store.ts";

/**
 * The names of every branch, of every snapshot (with `pulled`, those pulled from remotes
 * too, as `<remote>/<name>`), or of every remote.
 */
export async function listNames(
  ctx: Context,
  kind: "branches" | "snapshots" | "remotes",
  options: { pulled?: boolean } = {},
): Promise<string[]> {
  if (kind === "remotes") return loadRemotes(ctx).map((r) => r.name);
  const tracking = kind === "snapshots" && options.pulled === true;
  const inventory = await loadInitializedInventory(ctx, "complete", {
    containers: false,
    tracking,
  });
  if (kind === "branches") return inventory.branches.map((b) => b.name);
  return [...inventory.snapshots, ...inventory.tracking ?? []].map((s) => s.name);
}
