/**
 * Zero-copy adoption of a data directory: when `--from <dir>` is the mountpoint of a
 * dataset of zvpg's pool, or a directory at the root of one, the dataset itself becomes
 * main's data dataset (a rename inside the pool) instead of its bytes being copied. Pure:
 * it decides from the mount table.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { isZfsMount, type MountEntry } from "../adapters/mount_table.ts";

/** A dataset that holds a data directory and can be taken over. */
export interface Adoption {
  /** The dataset (in zvpg's pool). */
  dataset: string;
  /** Where it is mounted now. */
  mountpoint: string;
  /** The data directory's name at the dataset's root; null when it is the root itself. */
  subdir: string | null;
}

/**
 * The dataset of `pool` whose mountpoint is `path`, or the parent of `path`; undefined
 * when there is none, when it is the pool's root (which cannot be renamed), or when it is
 * one of zvpg's own datasets (`owned`).
 */
export function findAdoption(
  path: string,
  pool: string,
  mounts: MountEntry[],
  owned: (dataset: string) => boolean,
): Adoption | undefined {
  const zfsMounts = mounts.filter((m) => isZfsMount(m) && m.source.startsWith(`${pool}/`));
  const at = (target: string) => zfsMounts.find((m) => m.target === target);
  const root = at(path);
  const parent = root ? undefined : at(dirname(path));
  const entry = root ?? parent;
  if (!entry || owned(entry.source)) return undefined;
  return { dataset: entry.source, mountpoint: entry.target, subdir: root ? null : basename(path) };
}
