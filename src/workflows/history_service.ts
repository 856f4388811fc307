/**
 * `zvpg log`: the history graph, from one read of the inventory (one `zfs get` of the
 * branches and the remote-tracking datasets, no container engine call: a branch shows its
 * recorded state).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { type ArchiveInfo, archiveInfo } from "../ops/pitr_plan.ts";
import { buildHistory, type HistoryNode } from "../domain/history.ts";
import { validateBranchName } from "../domain/names.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import type { Context } from "../context.ts";

/** The history of the pool, or of one branch (its head and what it came from). */
export interface History {
  branch: string | null;
  nodes: HistoryNode[];
  /** The WAL archive and point-in-time window of each branch shown that has one. */
  archives: ArchiveInfo[];
}

/** Reads the history, the snapshots pulled from remotes included. */
export async function readHistory(ctx: Context, branch?: string): Promise<History> {
  if (branch !== undefined) validateBranchName(branch, ctx.config.branchNamingPattern);
  const inventory = await loadInitializedInventory(ctx, "log", {
    containers: false,
    tracking: true,
  });
  const archives: ArchiveInfo[] = [];
  for (const b of inventory.branches) {
    if (branch !== undefined && b.name !== branch) continue;
    if (!existsSync(ctx.layout.walMount(b.name))) continue;
    const info = await archiveInfo(ctx, b, inventory.snapshots).catch(() => undefined);
    if (info) archives.push(info);
  }
  return { branch: branch ?? null, nodes: buildHistory(inventory, branch), archives };
}
