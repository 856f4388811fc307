/**
 * Every branch slot: the read that port allocation and snapshot naming fall back to on a
 * pool whose claims index is not complete. Its cost grows with the branches.
 *
 * @module
 */
import type { ContainerInfo } from "../../adapters/container_runtime.ts";
import type { ZfsEntry } from "../../adapters/zfs.ts";
import type { Context } from "../../context.ts";
import { type BranchRecord, buildInventory } from "../../domain/inventory.ts";
import { PROPS } from "../../domain/layout.ts";

/** The properties of a branch slot that ports and snapshot names need. */
export const SLOT_PROPS = [PROPS.branch, PROPS.state, PROPS.port];

/** A branch as snapshot names need it: where its snapshots are. */
export type Slot = Pick<BranchRecord, "name" | "dataset">;

/**
 * Every branch slot (the default branch's entry from `entries`, the clones dataset's
 * children one level deep), with the few properties ports and names need.
 */
export async function readSlots(
  ctx: Context,
  entries: ZfsEntry[],
  containers: ContainerInfo[],
): Promise<BranchRecord[]> {
  const slotEntries = await ctx.zfs.get([ctx.layout.clonesDataset], SLOT_PROPS, 1);
  const data = entries.filter((e) => e.name === ctx.layout.dataDataset);
  // the snapshots of the clones dataset itself (depth 1) are not zvpg's
  const children = slotEntries.filter((e) => e.type === "filesystem");
  return buildInventory(ctx, [...data, ...children], containers).branches;
}
