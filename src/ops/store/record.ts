/**
 * Writing a branch's lifecycle transitions (src/domain/lifecycle.ts) on its dataset.
 *
 * Invariant: a port a branch records is claimed in the claims index first, so it is never
 * held unclaimed; a branch recorded stopped or deleting releases its claim after (a crash
 * in between leaves a stale claim, which readers verify and ignore).
 *
 * @module
 */
import type { Context } from "../../context.ts";
import type { Transition } from "../../domain/lifecycle.ts";
import { PROPS } from "../../domain/layout.ts";
import { claimPort, releasePort } from "./claims_index.ts";

/** Writes `transition` on branch dataset `dataset`, keeping the claims index in step. */
export async function record(ctx: Context, dataset: string, transition: Transition) {
  const port = transition[PROPS.port];
  if (port !== undefined) await claimPort(ctx, dataset, Number(port));
  await ctx.zfs.set(dataset, transition);
  const state = transition[PROPS.state];
  if (state === "stopped" || state === "deleting") await releasePort(ctx, dataset);
}
