/**
 * The holds that keep the base of the next push to a remote alive (the rules are in
 * src/domain/remote_bases.ts): moving one to a new base after a transfer, reading which
 * remotes hold a set of snapshots, and releasing them before a forced destroy.
 *
 * - The record comes first and goes last: the property `zvpg:remote-bases` is set before
 *   the hold is put, and removed after it is released. A process killed in between
 *   leaves a record without a hold (harmless: a refusal `--force` clears), never a hold
 *   zfs-fuse cannot name (it has no `zfs holds`).
 * - A base moves within its lineage: the hold leaves every other snapshot of the same
 *   dataset (and of the `lineage` datasets the caller names) that had it for this remote.
 * - The caller holds the pool lock: the property is read, changed and written back.
 *
 * @module
 */
import { CommandFailedError, tail } from "../errors.ts";
import { PROPS } from "../domain/layout.ts";
import {
  parseRemoteBases,
  type RemoteBase,
  remoteBasesValue,
  remoteHoldTag,
  remoteOfHoldTag,
} from "../domain/remote_bases.ts";
import type { ZfsEntry } from "../adapters/zfs.ts";
import { faultPoint } from "../runtime/fault.ts";
import { withLock } from "../runtime/lock.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../context.ts";

/** What {@link moveBaseHold} did. */
export interface BaseHoldMove {
  /** The snapshot now held (ZFS name). */
  held: string;
  /** The snapshots the hold left (ZFS names). */
  released: string[];
}

/**
 * Makes `snapshot` (a ZFS name) the base of the next push to `remote`: recorded and held
 * (`zfs hold zvpg-remote-<remote>`), then released from the snapshots of its dataset (and
 * of `options.lineage`) that were the base before. Safe to run again: a move killed half
 * way (two bases held) is finished by the next one. With `ifNewest` (a snapshot the remote
 * held already) it moves nothing when a later snapshot of the lineage is the base: the
 * base never goes back. The caller holds the pool lock.
 */
export async function moveBaseHold(
  ctx: Context,
  remote: string,
  snapshot: string,
  options: { lineage?: string[]; ifNewest?: boolean } = {},
): Promise<BaseHoldMove> {
  const dataset = snapshot.slice(0, snapshot.indexOf("@"));
  const roots = [...new Set([dataset, ...(options.lineage ?? [])])];
  const entries = (await ctx.zfs.get(roots, [PROPS.remoteBases, "createtxg"], 1))
    .filter((e) => e.type === "snapshot");
  const own = entries.find((e) => e.name === snapshot);
  const txg = (e: ZfsEntry | undefined) => Number(e?.props.createtxg ?? 0);
  const later = entries.find((e) =>
    txg(e) > txg(own) && parseRemoteBases(e.props[PROPS.remoteBases]).includes(remote)
  );
  if (options.ifNewest && later) return { held: later.name, released: [] };
  const remotes = parseRemoteBases(own?.props[PROPS.remoteBases]);
  const tag = remoteHoldTag(remote);
  // the record first: a hold is never left without it
  if (!remotes.includes(remote)) {
    await ctx.zfs.set(snapshot, { [PROPS.remoteBases]: remoteBasesValue([...remotes, remote])! });
  }
  await ctx.zfs.hold(tag, snapshot);
  const released: string[] = [];
  // a move killed here leaves two bases held: the next one releases the older
  faultPoint("remote.base.after-hold");
  for (const e of entries) {
    if (e.name === snapshot) continue;
    const before = parseRemoteBases(e.props[PROPS.remoteBases]);
    if (!before.includes(remote)) continue;
    await releaseRemotes(ctx, e.name, [remote], before);
    released.push(e.name);
  }
  return { held: snapshot, released };
}

/**
 * {@link moveBaseHold} under the pool lock, after a push (which does not hold it
 * otherwise); `ifNewest` for a snapshot the remote held already. The push is done whatever happens here: a hold that cannot be put (the
 * snapshot was deleted meanwhile) is a warning, and the next push may send it whole.
 */
export async function holdPushedBase(
  ctx: Context,
  remote: string,
  snapshot: string,
  options: { ifNewest?: boolean } = {},
): Promise<BaseHoldMove | undefined> {
  try {
    return await withLock(ctx.layout, () => moveBaseHold(ctx, remote, snapshot, options));
  } catch (error) {
    if (!(error instanceof CommandFailedError)) throw error;
    log.warn(
      `pushed, but could not hold ${snapshot} for remote '${remote}' (${tail(error.stderr)}): ` +
        "deleting it makes the next push send everything",
    );
    return undefined;
  }
}

/**
 * The remotes holding each of `snapshots` (ZFS names) as their base, by name; snapshots
 * no remote holds (or that do not exist) are absent. One `zfs get` of the records, and on
 * OpenZFS one `zfs holds` too (a hold put without its record, by hand or by another tool,
 * counts as well).
 */
export async function remotesHolding(
  ctx: Context,
  snapshots: string[],
): Promise<Map<string, string[]>> {
  const holding = new Map<string, Set<string>>();
  const add = (snapshot: string, remote: string) =>
    holding.set(snapshot, (holding.get(snapshot) ?? new Set()).add(remote));
  for (const e of await ctx.zfs.get(snapshots, [PROPS.remoteBases])) {
    for (const remote of parseRemoteBases(e.props[PROPS.remoteBases])) add(e.name, remote);
  }
  for (const hold of await ctx.zfs.holdTags(snapshots) ?? []) {
    const remote = remoteOfHoldTag(hold.tag);
    if (remote !== undefined) add(hold.snapshot, remote);
  }
  return new Map([...holding].map(([s, remotes]) => [s, [...remotes].sort()]));
}

/**
 * Releases the holds of `bases` (before a forced destroy of them): the next push to each
 * remote sends its snapshot whole. The caller holds the pool lock.
 */
export async function releaseBaseHolds(ctx: Context, bases: RemoteBase[]): Promise<void> {
  for (const base of bases) {
    for (const remote of base.remotes) {
      log.warn(
        `snapshot '${base.name}' is no longer the base of pushes to remote '${remote}': the next one sends it whole`,
      );
    }
    await releaseRemotes(ctx, base.zfsName, base.remotes, base.remotes);
  }
}

/**
 * Releases the holds of `going` from `snapshot`, whose record names `recorded`: the holds
 * first, then the record (a tag already gone counts as released).
 */
export async function releaseRemotes(
  ctx: Context,
  snapshot: string,
  going: string[],
  recorded: string[],
): Promise<void> {
  for (const r of going) await ctx.zfs.release(remoteHoldTag(r), snapshot);
  const value = remoteBasesValue(recorded.filter((r) => !going.includes(r)));
  if (value === undefined) await ctx.zfs.inherit(snapshot, PROPS.remoteBases);
  else await ctx.zfs.set(snapshot, { [PROPS.remoteBases]: value });
}
