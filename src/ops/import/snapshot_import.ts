/**
 * The snapshot that ends an import: main's data, with where it came from recorded.
 *
 * @module
 */
import { importSnapshotName } from "../../domain/import_source.ts";
import { PROPS, SOURCE_PROPS } from "../../domain/layout.ts";
import type { Context } from "../../context.ts";
import { loadForSnapshot } from "../store/load_branch.ts";
import { takeSnapshot } from "../take_snapshot.ts";
import type { ImportPlan } from "./plan.ts";

/**
 * Records where main's data came from (no password) and snapshots it as `import-<time>`
 * with a message naming the source; the caller holds the lock. Returns the snapshot name.
 */
export async function snapshotImport(ctx: Context, plan: ImportPlan): Promise<string> {
  const main = ctx.config.branchDefault;
  await ctx.zfs.set(ctx.layout.dataDataset, {
    [SOURCE_PROPS.source]: plan.recorded,
    [SOURCE_PROPS.sourceMode]: plan.mode,
  });
  // an empty value is refused by the old zfs CLI: no databases named means no property
  if (plan.requested.length > 0) {
    await ctx.zfs.set(ctx.layout.dataDataset, {
      [SOURCE_PROPS.sourceDatabases]: plan.requested.join(","),
    });
  } else {
    await ctx.zfs.inherit(ctx.layout.dataDataset, SOURCE_PROPS.sourceDatabases);
  }
  // a masked main says so, and by which rules; a main once masked is only ever refreshed
  // masked (refresh refuses to mask a main that was not), and every snapshot taken of it
  // carries the value (src/ops/take_snapshot.ts), this one included
  if (plan.mask) {
    await ctx.zfs.set(ctx.layout.dataDataset, {
      [PROPS.masked]: plan.mask.hash,
      [SOURCE_PROPS.maskRules]: plan.mask.file,
    });
  }
  const { branch, names } = await loadForSnapshot(ctx, "import", main);
  const name = importSnapshotName(ctx.now());
  const message = `imported from ${plan.description}${
    plan.mask ? `, masked (${plan.mask.hash})` : ""
  }`;
  await takeSnapshot(ctx, names, branch, name, message);
  return name;
}
