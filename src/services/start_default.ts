/**
 * Starting a branch's container on a port from the range, shared by init and repair.
 *
 * @module
 */
import { log } from "../log.ts";
import { isPortConflict, runBranchContainer, waitBranchReady } from "./branch_container.ts";
import type { Context } from "./context.ts";
import type { BranchRecord, Inventory } from "./inventory.ts";
import { markPort, markRunning, record } from "./lifecycle.ts";
import { allocatePort } from "./ports.ts";

/** Starts `branch` on its previous port if free, else the first free one; waits until ready. */
export async function runWithFreshPort(
  ctx: Context,
  inventory: Inventory,
  branch: BranchRecord,
): Promise<{ container: string; port: number }> {
  if (branch.container) await ctx.runtime.remove(branch.container.name);
  const tried = new Set<number>();
  let port = allocatePort(ctx, inventory, branch.name, { preferred: branch.lastPort });
  let container: string;
  while (true) {
    try {
      container = await runBranchContainer(ctx, branch.name, port);
      break;
    } catch (error) {
      if (!isPortConflict(error) || tried.size >= 5) throw error;
      tried.add(port);
      port = allocatePort(ctx, inventory, branch.name, { skip: tried });
    }
  }
  try {
    await waitBranchReady(ctx, branch.name, container, port);
  } catch (error) {
    await ctx.runtime.remove(container).catch(() => {});
    throw error;
  }
  await record(ctx, branch.dataset, { ...markPort(port, ctx.runtime.flavor), ...markRunning() });
  log.debug(`branch '${branch.name}' running on port ${port}`);
  return { container, port };
}
