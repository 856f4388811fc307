/**
 * Port allocation for branch containers.
 *
 * @module
 */
import { PortUnavailableError } from "../errors.ts";
import type { Context } from "../context.ts";
import { type BranchRecord, containerPort } from "../domain/inventory.ts";

/** What claims a port: a branch's container, or its record (see {@link claimedPort}). */
export type PortHolder = Pick<BranchRecord, "name" | "container" | "state" | "lastPort">;

/** The holders port allocation looks at (a full inventory, or a narrow read's). */
export interface PortView {
  branches: PortHolder[];
}

/**
 * The port a branch holds: the port of any container it has (an exited one may be
 * restarted by its engine), else its recorded port while it is recorded as running or
 * being created (its container may be on its way, or under another engine); else none.
 */
export function claimedPort(b: PortHolder): number | null {
  if (b.container) return containerPort(b.container);
  return b.state === "running" || b.state === "creating" ? b.lastPort : null;
}

/** Ports held by zvpg branches (see {@link claimedPort}), but `except`'s. */
export function heldPorts(
  inventory: PortView,
  except?: string,
): Map<number, string> {
  const held = new Map<number, string>();
  for (const b of inventory.branches) {
    const port = b.name === except ? null : claimedPort(b);
    if (port !== null) held.set(port, b.name);
  }
  return held;
}

/** Whether nothing listens on `address:port` (checked by binding it for a moment). */
export function portIsFree(address: string, port: number): boolean {
  try {
    const listener = Deno.listen({ hostname: address.replace(/^\[|\]$/g, ""), port });
    listener.close();
    return true;
  } catch {
    return false;
  }
}

/** Checks a port the user asked for; throws {@link PortUnavailableError} when taken. */
export function checkRequestedPort(
  ctx: Context,
  inventory: PortView,
  port: number,
  branch: string,
): void {
  const holder = heldPorts(inventory, branch).get(port);
  if (holder !== undefined) {
    throw new PortUnavailableError(`port ${port} is already used by branch '${holder}'`, {
      hint: "choose another --port, or omit it to take a free one",
    });
  }
  if (!portIsFree(ctx.config.bindAddress, port)) {
    throw new PortUnavailableError(
      `port ${port} on ${ctx.config.bindAddress} is in use by another program`,
      { hint: "choose another --port, or omit it to take a free one" },
    );
  }
}

/**
 * The first port of `branchPortStart..branchPortEnd` that no zvpg branch holds and no
 * program listens on, trying `preferred` first and skipping `skip`.
 */
export function allocatePort(
  ctx: Context,
  inventory: PortView,
  branch: string,
  options: { preferred?: number | null; skip?: Set<number> } = {},
): number {
  const { branchPortStart: start, branchPortEnd: end, bindAddress } = ctx.config;
  const held = heldPorts(inventory, branch);
  const usable = (p: number) => !held.has(p) && !options.skip?.has(p) && portIsFree(bindAddress, p);
  const preferred = options.preferred;
  if (preferred && preferred >= start && preferred <= end && usable(preferred)) return preferred;
  for (let port = start; port <= end; port++) {
    if (usable(port)) return port;
  }
  throw new PortUnavailableError(`no free port in the range ${start}-${end}`, {
    hint: "stop or delete branches, or widen branchPortStart/branchPortEnd in config.json",
  });
}
