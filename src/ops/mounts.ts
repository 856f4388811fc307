/**
 * Making sure a dataset is mounted and usable, in one place for init, start, create and
 * repair. When the ZFS service restarts (zfs-fuse killed, upgraded or restarted) its old
 * FUSE mounts stay behind: every access to them fails with "Transport endpoint is not
 * connected" (ENOTCONN), and ZFS cannot mount the dataset again over them ("failed to
 * create mountpoint"). Such a stale mount is detached (`umount -l`, which also detaches
 * the mounts below it) and the datasets it held are mounted again, outermost first.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { isZfsMount, type MountEntry, type PathState } from "../adapters/mount_table.ts";
import { ZvpgError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../context.ts";

/** Whether `path` is `ancestor` or lies below it. */
function within(path: string, ancestor: string): boolean {
  const a = ancestor.replace(/\/+$/, "");
  return path === a || path.startsWith(`${a}/`) || a === "";
}

/**
 * The ZFS mounts at `path` or above it whose mount point no longer answers `stat`,
 * outermost first (pure).
 */
export function staleMountsOn(
  entries: MountEntry[],
  path: string,
  stat: (path: string) => PathState,
): MountEntry[] {
  return entries
    .filter((e) => isZfsMount(e) && within(path, e.target) && stat(e.target).state === "stale")
    .sort((a, b) => a.target.length - b.target.length);
}

/**
 * Detaches the stale ZFS mounts at or above `path` and mounts their datasets again,
 * outermost first. Returns the datasets it mounted again.
 */
export async function recoverStaleMounts(ctx: Context, path: string): Promise<string[]> {
  const table = ctx.mounts;
  const detached: MountEntry[] = [];
  for (let round = 0;; round++) {
    const stale = staleMountsOn(table.entries(), path, table.stat);
    const outer = stale[0];
    if (outer === undefined) break;
    if (round >= 5) {
      throw new ZvpgError(`the stale mount ${outer.target} (${outer.source}) cannot be removed`, {
        hint: `unmount it by hand ('umount -l ${outer.target}'), then run 'zfs mount -a'`,
      });
    }
    log.warn(
      `${outer.target}: the mount of ${outer.source} is stale (${
        table.stat(outer.target).detail ?? "unusable"
      }); unmounting it`,
    );
    await ctx.runner.run("umount", ["-l", outer.target], { allowFailure: true });
    detached.push(outer);
  }
  const remounted: string[] = [];
  for (const entry of detached) {
    if (remounted.includes(entry.source)) continue;
    await ctx.zfs.mount(entry.source);
    remounted.push(entry.source);
  }
  return remounted;
}

/** What {@link ensureMounted} had to do. */
export type MountOutcome = "usable" | "mounted" | "recovered";

/**
 * Makes sure `dataset` is mounted at `mountpoint` and answers: stale mounts at or above
 * it are detached and mounted again, an unmounted dataset is mounted. A dataset counts
 * as mounted when the mount table lists it, or when `evidence` (a path only the mounted
 * dataset holds, such as a branch's data directory) exists. Throws when the mountpoint
 * still does not answer.
 */
export async function ensureMounted(
  ctx: Context,
  dataset: string,
  mountpoint: string,
  options: { evidence?: string } = {},
): Promise<MountOutcome> {
  const table = ctx.mounts;
  const recovered = await recoverStaleMounts(ctx, mountpoint);
  let outcome: MountOutcome = recovered.length > 0 ? "recovered" : "usable";
  const listed = table.entries().some((e) => isZfsMount(e) && e.source === dataset);
  if (!listed && !(options.evidence !== undefined && existsSync(options.evidence))) {
    await ctx.zfs.mount(dataset);
    if (outcome === "usable") outcome = "mounted";
  }
  const after = table.stat(mountpoint);
  if (after.state !== "ok") {
    throw new ZvpgError(
      `dataset ${dataset} is not usable at ${mountpoint}: ${after.detail ?? after.state}`,
      { hint: `check 'zfs mount' and 'grep ${mountpoint} /proc/mounts'; is the ZFS service up?` },
    );
  }
  return outcome;
}

/**
 * Makes sure the datasets every branch lives in are mounted and answer: the clones dataset
 * (branch datasets mount below it) and the sockets dataset (runtime directories). Called
 * before a branch dataset is made or mounted, or a runtime directory written: a ZFS service
 * stopped cleanly (`systemctl restart`, an upgrade) leaves its datasets unmounted, and
 * anything made then lands in the plain directory below the mountpoint, on the host's file
 * system, which ZFS then refuses to mount over ("directory is not empty").
 */
export async function ensureTreeMounted(ctx: Context): Promise<void> {
  const { layout } = ctx;
  await ensureMounted(ctx, layout.clonesDataset, layout.clonesMount);
  await ensureMounted(ctx, layout.socketsDataset, layout.socketsMount);
}
