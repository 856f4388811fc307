/**
 * The host's mount table: what /proc/mounts lists and how a path answers `stat`. It is
 * part of the context (`ctx.mounts`) so that tests replace it as they replace the runner.
 *
 * @module
 */
import { readFileSync } from "node:fs";

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
