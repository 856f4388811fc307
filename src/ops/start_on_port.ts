/**
 * Starting a branch's container on a port: the one loop that moves to another port when
 * the chosen one is taken between the check and the bind, shared by create, start, init
 * and repair.
 *
 * @module
 */
import { PortUnavailableError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { isPortConflict, runBranchContainer, waitBranchReady } from "./branch_container.ts";
import type { Context } from "../context.ts";
import type { BranchRecord, Inventory } from "../domain/inventory.ts";
import { record } from "./store/record.ts";
import { markPort, markRunning } from "../domain/lifecycle.ts";
import { allocatePort, type PortView } from "./ports.ts";
import { PROPS } from "../domain/layout.ts";

/** How many other ports to try when the chosen one is taken at bind time. */
export const PORT_RETRIES = 5;

/** Options of {@link startOnPort}. */
export interface StartOnPortOptions {
  /** The port was asked for: never move to another one. */
  requested?: boolean;
  /** What the branch's dataset already records (only what differs is written). */
  recorded?: { port: number | null; runtime: string | null };
}

/**
 * Runs the branch's container on `port`, or, unless the port was `requested`, on the next
 * free one when it is taken at bind time; records the port and engine on the branch (the
 * caller holds the lock). Returns the container and the port it got.
 */
export async function startOnPort(
  ctx: Context,
  inventory: PortView,
  name: string,
  port: number,
  options: StartOnPortOptions = {},
): Promise<{ container: string; port: number }> {
  const tried = new Set<number>();
  for (let attempt = 0;; attempt++) {
    try {
      const container = await runBranchContainer(ctx, name, port);
      await record(ctx, ctx.layout.branchDataset(name), portChange(ctx, port, options.recorded));
      return { container, port };
    } catch (error) {
      if (!isPortConflict(error)) throw error;
      if (options.requested || attempt >= PORT_RETRIES) {
        throw new PortUnavailableError(`port ${port} is already in use`, {
          hint: "choose another --port, or omit it to take a free one",
        });
      }
      tried.add(port);
      log.debug(`port ${port} was taken at bind time; trying another`);
      port = allocatePort(ctx, inventory, name, { skip: tried });
    }
  }
}

/** The {@link markPort} properties that differ from what the dataset records. */
function portChange(
  ctx: Context,
  port: number,
  recorded: StartOnPortOptions["recorded"],
): Record<string, string> {
  const change = markPort(port, ctx.runtime.flavor);
  if (recorded?.port === port) delete change[PROPS.port];
  if (recorded?.runtime === ctx.runtime.flavor) delete change[PROPS.runtime];
  return change;
}

/**
 * Starts `branch` (init and repair): on its previous port if free, else the first free
 * one; waits until it accepts connections, then records it running. A start that fails
 * removes its container.
 */
export async function startAndWait(
  ctx: Context,
  inventory: Inventory,
  branch: BranchRecord,
): Promise<{ container: string; port: number }> {
  if (branch.container) await ctx.runtime.remove(branch.container.name);
  const first = allocatePort(ctx, inventory, branch.name, { preferred: branch.lastPort });
  const { container, port } = await startOnPort(ctx, inventory, branch.name, first);
  try {
    await waitBranchReady(ctx, branch.name, container, port);
  } catch (error) {
    await ctx.runtime.remove(container).catch(() => {});
    throw error;
  }
  await record(ctx, branch.dataset, markRunning());
  log.debug(`branch '${branch.name}' running on port ${port}`);
  return { container, port };
}
