/**
 * Zero-copy adoption of a data directory: when `--from <dir>` is the mountpoint of a
 * dataset of zvpg's pool, or a directory at the root of one, the dataset itself becomes
 * main's data dataset (a rename inside the pool) instead of its bytes being copied. Pure:
 * it decides from the mount table, and encodes and reads the record a take-over keeps on
 * its starting snapshot, from which a dead zvpg's take-over is given back.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { isZfsMount, type MountEntry } from "../adapters/mount_table.ts";
import type { ZfsEntry } from "../adapters/zfs.ts";
import { ADOPT_PROPS, ADOPT_SNAPSHOT, PROPS } from "./layout.ts";

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

/**
 * A dataset taken over, and everything giving it back needs: recorded on its `@zvpg-adopt`
 * snapshot ({@link encodeTakeOver}) before anything changes, so that a zvpg killed half-way
 * leaves it for `status health --repair`. A take-over only starts on a dataset mounted at
 * `mountpoint` (found in the mount table), so that is its mount state to give back.
 */
export interface AdoptedDataset extends Adoption {
  /** Every property set locally on the dataset before the take-over (native and user). */
  original: Record<string, string>;
  /**
   * What the import goes on to make that did not exist when the take-over started (zvpg's
   * other datasets, its config files): removed with the give-back.
   */
  made: { datasets: string[]; files: string[] };
}

/**
 * The longest record a take-over keeps: a user property value holds 8191 bytes on zfs-fuse
 * and OpenZFS alike. A dataset whose record is longer is copied instead.
 */
export const TAKE_OVER_RECORD_MAX = 8000;

/** The version of the record's JSON, for a later zvpg to read it. */
const RECORD_VERSION = 1;

/** The value of {@link ADOPT_PROPS}.record for `adopted`: base64 of its JSON (UTF-8). */
export function encodeTakeOver(adopted: AdoptedDataset): string {
  const { dataset, mountpoint, subdir, original, made } = adopted;
  const json = JSON.stringify({ v: RECORD_VERSION, dataset, mountpoint, subdir, original, made });
  const bytes = new TextEncoder().encode(json);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** The take-over an {@link encodeTakeOver} value records; undefined when it is not one. */
export function decodeTakeOver(value: string): AdoptedDataset | undefined {
  let parsed: unknown;
  try {
    const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const r = parsed as Record<string, unknown>;
  const strings = (x: unknown): x is string[] =>
    Array.isArray(x) && x.every((s) => typeof s === "string");
  const made = r.made as Record<string, unknown> | null | undefined;
  const original = r.original as Record<string, unknown> | null | undefined;
  const valid = r.v === RECORD_VERSION && typeof r.dataset === "string" &&
    r.dataset.includes("/") && typeof r.mountpoint === "string" &&
    r.mountpoint.startsWith("/") && (r.subdir === null || typeof r.subdir === "string") &&
    typeof original === "object" && original !== null && !Array.isArray(original) &&
    Object.values(original).every((v) => typeof v === "string") &&
    typeof made === "object" && made !== null && strings(made.datasets) && strings(made.files);
  if (!valid) return undefined;
  return {
    dataset: r.dataset as string,
    mountpoint: r.mountpoint as string,
    subdir: r.subdir as string | null,
    original: original as Record<string, string>,
    made: { datasets: made.datasets as string[], files: made.files as string[] },
  };
}

/** A take-over recorded on a `@zvpg-adopt` snapshot. */
export interface TakeOver {
  /** The snapshot: under the data dataset once renamed, else under the user's name. */
  snapshot: string;
  /** The zvpg process taking it over (null when not recorded). */
  pid: number | null;
  /** What it recorded; undefined when that cannot be read (it is given back by hand). */
  adopted: AdoptedDataset | undefined;
}

/**
 * The take-overs among `entries` of a `zfs get` of {@link ADOPT_PROPS}.record and
 * {@link PROPS}.pid: the `@zvpg-adopt` snapshots that carry a record (pure). A snapshot of
 * that name without one is a user's, or an older zvpg's, and is left alone.
 */
export function takeOversIn(entries: ZfsEntry[]): TakeOver[] {
  return entries.flatMap((e) => {
    const record = e.props[ADOPT_PROPS.record];
    if (e.type !== "snapshot" || !e.name.endsWith(`@${ADOPT_SNAPSHOT}`) || !record) return [];
    const pid = Number(e.props[PROPS.pid]);
    return [{
      snapshot: e.name,
      pid: Number.isInteger(pid) && pid > 0 ? pid : null,
      adopted: decodeTakeOver(record),
    }];
  });
}
