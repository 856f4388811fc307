/**
 * Space of a fresh branch and after updating 1 % of pgbench_accounts (contiguous rows, about
 * 1 % of the pages, and scattered rows, nearly every page), and the idle memory of a fresh
 * branch's container.
 *
 * @module
 */
import { execSql } from "../../src/ops/branch_container.ts";
import type { Context } from "../../src/context.ts";
import type { SizeResult } from "../report.ts";
import type { BranchJson } from "./branch_json.ts";
import { sizeProgress, type SizeRun } from "../size_run.ts";
import { sleep, timed } from "../timed.ts";
import { formatSize } from "../units.ts";
import { containerMemory } from "./container_memory.ts";

type Space = NonNullable<SizeResult["space"]>;

/** Two branches, one per update pattern; the first also gives the idle memory. */
export async function benchSpaceAndMemory(run: SizeRun): Promise<void> {
  const rowsTotal = run.scale * 100_000;
  const variants = [
    { key: "contiguous", where: `aid <= ${rowsTotal / 100}` },
    { key: "scattered", where: "aid % 100 = 0" },
  ] as const;
  const space: Space = {
    freshUsed: NaN,
    freshReferenced: NaN,
    freshUsedSamples: [],
    afterUpdate: [],
    originSnapshotReferenced: NaN,
  };
  for (const v of variants) {
    const name = `space-${run.label}-${v.key}`;
    const b = (await run.pool.zvpgJson<BranchJson>(["branch", "create", name, "--from", run.base]))
      .value;
    const fresh = await syncedSpace(run.pool.ctx, b.dataset);
    space.freshUsedSamples.push(fresh.used);
    if (v.key === "contiguous") {
      await recordFresh(run, b, fresh, space);
    }
    const after = await updateAndMeasure(run, b, v.where);
    space.afterUpdate.push({ kind: v.key, where: v.where, ...after });
    sizeProgress(
      run,
      `fresh branch used ${formatSize(fresh.used)}; after 1 % ${v.key} update ${
        formatSize(after.used)
      }`,
    );
    await run.pool.zvpg(["branch", "delete", name, "--force"]);
  }
  run.result.space = space;
  sizeProgress(run, `idle memory of a fresh branch ${run.result.memory?.text}`);
}

/** The fresh branch's space, its origin's, and its idle memory. */
async function recordFresh(
  run: SizeRun,
  b: BranchJson,
  fresh: { used: number; referenced: number },
  space: Space,
): Promise<void> {
  space.freshUsed = fresh.used;
  space.freshReferenced = fresh.referenced;
  const ctx = run.pool.ctx;
  const [entry] = await ctx.zfs.get([b.dataset], ["origin"]);
  space.originSnapshotReferenced = (await zfsSpace(ctx, entry.props.origin)).referenced;
  await sleep(3000); // idle: nobody has queried it yet
  run.result.memory = { ...(await containerMemory(ctx, b.container!)), container: b.container! };
}

/** Updates the rows `where` in the branch, CHECKPOINTs, and reads its synced space. */
async function updateAndMeasure(run: SizeRun, b: BranchJson, where: string) {
  const ctx = run.pool.ctx;
  const sql = (query: string) =>
    execSql(ctx, b.name, b.container!, query, { database: run.db, timeoutMs: 1_800_000 });
  const update = await timed(() =>
    sql(
      `WITH u AS (UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE ${where} ` +
        "RETURNING 1) SELECT count(*) FROM u",
    )
  );
  await sql("CHECKPOINT");
  const after = await syncedSpace(ctx, b.dataset);
  return { status: `UPDATE ${update.value.trim()}`, updateMs: update.ms, ...after };
}

/** `used` and `referenced` of a dataset, in bytes. */
async function zfsSpace(ctx: Context, dataset: string) {
  const [entry] = await ctx.zfs.get([dataset], ["used", "referenced"]);
  return { used: Number(entry.props.used), referenced: Number(entry.props.referenced) };
}

/**
 * `used` and `referenced` once zfs has committed what was written: a throw-away snapshot
 * forces a transaction group sync (zfs-fuse otherwise reports stale numbers for seconds).
 * Repeats until two synced reads agree.
 */
async function syncedSpace(ctx: Context, dataset: string) {
  let last: { used: number; referenced: number } | undefined;
  for (let i = 0; i < 10; i++) {
    await sleep(1000);
    const snap = `${dataset}@zvb-sync-${i}`;
    await ctx.zfs.snapshot(snap);
    await ctx.zfs.destroy(snap);
    const now = await zfsSpace(ctx, dataset);
    if (last && now.used === last.used && now.referenced === last.referenced) return now;
    last = now;
  }
  return last!;
}
