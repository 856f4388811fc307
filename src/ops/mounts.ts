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
import { existsSync, readFileSync } from "node:fs";
import { ZvpgError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../runtime/context.ts";

/** One line of /proc/mounts. */
export interface MountEntry {
  /** For ZFS, the dataset name. */
  source: string;
  target: string;
  fstype: string;
}

/** How a path answers `stat` and a listing: `stale` when the file system behind it is gone. */
export interface PathState {
  state: "ok" | "missing" | "stale";
  /** The error, e.g. "Transport endpoint is not connected". */
  detail?: string;
}

/** Where mounts are read from (the host's, or a fake in unit tests). */
export interface MountTable {
  entries(): MountEntry[];
  stat(path: string): PathState;
}

/** The host's mount table (/proc/mounts) and `stat`. */
export const hostMountTable: MountTable = {
  entries: () => {
    try {
      return parseProcMounts(readFileSync("/proc/mounts", "utf8"));
    } catch {
      return [];
    }
  },
  stat: (path) => {
    try {
      if (!Deno.statSync(path).isDirectory) return { state: "ok" };
      // a dead FUSE mount may answer stat from cached attributes: listing asks the daemon
      Deno.readDirSync(path)[Symbol.iterator]().next();
      return { state: "ok" };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { state: "missing" };
      // "Transport endpoint is not connected (os error 107): stat '/x'"
      const detail = (error as Error).message.replace(/ \(os error \d+\)/, "")
        .replace(/: l?stat '.*$/, "");
      return { state: "stale", detail };
    }
  },
};

/** Parses /proc/mounts (octal escapes such as `\040` for a space are decoded). */
export function parseProcMounts(text: string): MountEntry[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return text.split("\n").filter((l) => l.trim() !== "").flatMap((line) => {
    const [source, target, fstype] = line.split(" ");
    if (source === undefined || target === undefined || fstype === undefined) return [];
    return [{ source: unescape(source), target: unescape(target), fstype }];
  });
}

/** Whether a mount is a ZFS file system (OpenZFS: `zfs`; zfs-fuse: `fuse.zfs`). */
export function isZfsMount(entry: MountEntry): boolean {
  return entry.fstype === "zfs" || entry.fstype === "fuse.zfs";
}

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
export async function recoverStaleMounts(
  ctx: Context,
  path: string,
  table: MountTable = hostMountTable,
): Promise<string[]> {
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
  options: { evidence?: string; table?: MountTable } = {},
): Promise<MountOutcome> {
  const table = options.table ?? hostMountTable;
  const recovered = await recoverStaleMounts(ctx, mountpoint, table);
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
