/**
 * `zvpg log`: the history graph, from one read of the inventory (one `zfs get` of the
 * branches and the remote-tracking datasets, no container engine call: a branch shows its
 * recorded state).
 *
 * @module
 */
import { buildHistory, type HistoryNode } from "../domain/history.ts";
import { validateBranchName } from "../domain/names.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import type { Context } from "../context.ts";

/** The history of the pool, or of one branch (its head and what it came from). */
export interface History {
  branch: string | null;
  nodes: HistoryNode[];
}

/** Reads the history, the snapshots pulled from remotes included. */
export async function readHistory(ctx: Context, branch?: string): Promise<History> {
  if (branch !== undefined) validateBranchName(branch, ctx.config.branchNamingPattern);
  const inventory = await loadInitializedInventory(ctx, "log", {
    containers: false,
    tracking: true,
  });
  return { branch: branch ?? null, nodes: buildHistory(inventory, branch) };
}
