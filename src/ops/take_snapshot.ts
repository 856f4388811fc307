/**
 * Taking a snapshot of a branch: the one step `snapshot create`, `branch create` (of the
 * parent's current state), `branch reset --parent`, an import and a merge share. A running
 * branch gets a CHECKPOINT first; the name is claimed before the snapshot exists; a
 * protected branch's snapshot is held.
 *
 * @module
 */
import { SnapshotNotFoundError, UsageError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { validateBranchName, validateSnapshotName } from "../domain/names.ts";
import { execSql } from "./branch_container.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { type BranchRecord, encodeMessage, type SnapshotRecord } from "../domain/inventory.ts";
import { loadForSnapshot } from "./store/load_branch.ts";
import { loadSnapshotOf, type NameClaims } from "./store/name_claims.ts";
import { autoSnapshotName, snapshotProps } from "../domain/metadata_props.ts";
import { PROPS } from "../domain/layout.ts";
import { HOLD_TAG } from "../domain/layout.ts";
import { inFlightError, isInFlight } from "../domain/lifecycle.ts";
import { withLock } from "../runtime/lock.ts";

/** Longest snapshot message accepted, in bytes once encoded. */
export const MAX_MESSAGE_BYTES = 1000;

/**
 * Takes snapshot `name` of branch `options.branch` (the default branch when not given),
 * taking the lock: `snapshot create`, and a merge's `pre-merge-…` snapshot.
 */
export async function snapshotBranch(
  ctx: Context,
  name: string,
  options: { message?: string; branch?: string } = {},
): Promise<SnapshotRecord> {
  validateSnapshotName(name);
  const message = options.message ?? "";
  checkMessage(message);
  const branchName = options.branch ?? ctx.config.branchDefault;
  validateBranchName(branchName, ctx.config.branchNamingPattern);
  return await withLock(ctx.layout, async () => {
    // only this branch (and its container) and the claims index are read: the cost does
    // not grow with the branches or snapshots of the pool
    const { branch, names } = await loadForSnapshot(ctx, "snapshot create", branchName);
    return await takeSnapshot(ctx, names, branch, name, message);
  });
}

/**
 * Takes a snapshot while the caller holds the lock. `names` checks and claims the name;
 * `branch` carries its container (a running one gets a CHECKPOINT).
 */
export async function takeSnapshot(
  ctx: Context,
  names: NameClaims,
  branch: BranchRecord,
  name: string,
  message: string,
  options: { autoFor?: string } = {},
): Promise<SnapshotRecord> {
  await names.assertFree(name);
  if (isInFlight(branch)) throw inFlightError(branch);
  if (branch.container?.state === "running") await checkpoint(ctx, branch);
  // the name is claimed before the snapshot exists, so the index never misses it
  await names.claim(name, branch.name);
  faultPoint("snapshot.before-zfs");
  const taken = ctx.now();
  await ctx.zfs.snapshot(`${branch.dataset}@${name}`, {
    ...snapshotProps(message, taken, options.autoFor),
    // a snapshot of masked data says so itself: an inherited user property is not read back
    ...(branch.masked ? { [PROPS.masked]: branch.masked } : {}),
  });
  log.info(`snapshot '${name}' taken of branch '${branch.name}'`);
  // a protected branch's snapshots are held, so not even a hand-typed `zfs destroy` works
  if (branch.protected) await ctx.zfs.hold(HOLD_TAG, `${branch.dataset}@${name}`);
  const after = await loadSnapshotOf(ctx, branch, name);
  if (!after) throw new SnapshotNotFoundError(name);
  return after;
}

/**
 * A new automatic snapshot of `parent`'s current state, taken for branch `forBranch`
 * (`purpose` says why, in its message: "new branch 'x'", "reset of branch 'x'"), while
 * the caller holds the lock. zvpg marks it as its own: it goes with the last branch made
 * from it. `intent` is told its ZFS name before it is taken: a `zfs snapshot` stopped by a
 * signal may have made it, and the caller's clean-up removes it.
 */
export async function takeAutoSnapshot(
  ctx: Context,
  names: NameClaims,
  parent: BranchRecord,
  { forBranch, purpose, intent }: {
    forBranch: string;
    purpose: string;
    intent: (zfsName: string) => void;
  },
): Promise<SnapshotRecord> {
  const auto = autoSnapshotName(ctx.now());
  intent(`${parent.dataset}@${auto}`);
  return await takeSnapshot(
    ctx,
    names,
    parent,
    auto,
    `automatic snapshot of '${parent.name}' for ${purpose}`,
    { autoFor: forBranch },
  );
}

async function checkpoint(ctx: Context, branch: BranchRecord): Promise<void> {
  try {
    await execSql(ctx, branch.name, branch.container!.name, "CHECKPOINT");
    log.debug(`CHECKPOINT done on branch '${branch.name}'`);
  } catch (error) {
    log.warn(
      `CHECKPOINT on branch '${branch.name}' failed (${(error as Error).message}); ` +
        "the snapshot is still crash-consistent",
    );
  }
}

function checkMessage(message: string): void {
  const bytes = new TextEncoder().encode(encodeMessage(message)).length;
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new UsageError(
      `snapshot message is too long (${bytes} bytes encoded, at most ${MAX_MESSAGE_BYTES})`,
      { hint: "shorten the -m message" },
    );
  }
}
