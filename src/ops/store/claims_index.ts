/**
 * Reading and writing the claims index (src/domain/claims.ts): the user properties of one
 * dataset that say who holds each snapshot name and port.
 *
 * Invariants:
 * - every claim is written before what it claims exists, and verified when read;
 * - a release that fails leaves a stale claim: harmless, repair prunes it.
 *
 * @module
 */
import type { Context } from "../../context.ts";
import type { Inventory } from "../../domain/inventory.ts";
import { INDEX_PROPS } from "../../domain/layout.ts";
import {
  type ClaimIndex,
  type IndexDrift,
  indexDrift,
  parseClaims,
  portClaimKey,
  portClaimValue,
  snapshotClaimKey,
} from "../../domain/claims.ts";
import { log } from "../../runtime/log.ts";

/** Reads the claims index (one `zfs get`); undefined when its dataset does not exist. */
export async function loadClaims(ctx: Context): Promise<ClaimIndex | undefined> {
  const props = await ctx.zfs.userProps(ctx.layout.indexDataset);
  return props && parseClaims(props);
}

/** Claims `port` for branch dataset `dataset` (before it is recorded there). */
export async function claimPort(ctx: Context, dataset: string, port: number): Promise<void> {
  await ctx.zfs.set(ctx.layout.indexDataset, {
    [portClaimKey(dataset)]: portClaimValue(port, dataset),
  });
}

/** Releases the port claim of branch dataset `dataset`. */
export async function releasePort(ctx: Context, dataset: string): Promise<void> {
  await ctx.zfs.inherit(ctx.layout.indexDataset, portClaimKey(dataset))
    .catch((e) => log.debug(`index: port claim of ${dataset} kept: ${e.message}`));
}

/** Claims snapshot name `name` for branch `branch` (before the snapshot is taken). */
export async function claimSnapshotName(
  ctx: Context,
  name: string,
  branch: string,
): Promise<void> {
  await ctx.zfs.set(ctx.layout.indexDataset, { [snapshotClaimKey(name)]: branch });
}

/** Releases the claims of snapshot names that were destroyed. */
export async function releaseSnapshotNames(ctx: Context, names: string[]): Promise<void> {
  for (const name of names) {
    await ctx.zfs.inherit(ctx.layout.indexDataset, snapshotClaimKey(name))
      .catch((e) => log.debug(`index: claim of snapshot '${name}' kept: ${e.message}`));
  }
}

/**
 * Makes the index hold exactly the claims of `inventory` (a full read) and marks it
 * complete: adds what is missing, prunes stale claims. Returns what it changed.
 */
export async function rebuildIndex(
  ctx: Context,
  inventory: Inventory,
  index: ClaimIndex,
): Promise<IndexDrift> {
  const drift = indexDrift(inventory, index);
  const dataset = ctx.layout.indexDataset;
  for (const s of drift.snapshots) await claimSnapshotName(ctx, s.name, s.branch);
  for (const p of drift.ports) await claimPort(ctx, p.dataset, p.port);
  for (const key of drift.stale) await ctx.zfs.inherit(dataset, key);
  if (drift.incomplete) await ctx.zfs.set(dataset, { [INDEX_PROPS.complete]: "1" });
  return drift;
}
