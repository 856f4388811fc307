/**
 * Point-in-time branches, without I/O: WAL segment names and LSNs, the target of
 * `branch create --at`, the window an archive allows and the base snapshot a target
 * replays from, the archive command's script and the recovery settings.
 *
 * A base is a snapshot of the branch (CHECKPOINT-consistent, `pg_wal` inside): recovery
 * replays from it through the archive up to the target. A snapshot is a crash-consistent
 * image of the moment it was taken, so it may only serve targets after that moment: its
 * data pages may hold any change made before it. What the archive holds is known from its
 * files: each archived segment keeps the time of the last write of its source (the script
 * copies the modification time), so "the segment in progress at time t" is bounded from
 * the file times alone.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { parseDuration, readRfc3339 } from "./duration.ts";
import { CONTAINER_CONF_DIR } from "./layout.ts";

/** Bytes of one WAL segment (PostgreSQL's default, which zvpg's clusters use). */
export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;

/**
 * The margin between a snapshot's recorded time and the first target it serves: its
 * recorded time is taken just before the `zfs snapshot` runs, so a transaction may
 * commit in between.
 */
export const BASE_MARGIN_MS = 2000;

/** A point-in-time target: a time, or an LSN. */
export type PitrTarget = { kind: "time"; time: Date } | { kind: "lsn"; lsn: bigint };

/** An LSN as PostgreSQL writes it (`16/B374D848`). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${
    (lsn & 0xffffffffn).toString(16).toUpperCase()
  }`;
}

/** The LSN of `X/Y` (hex), or undefined. */
export function parseLsn(text: string): bigint | undefined {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  return m ? (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`) : undefined;
}

/**
 * The target of `--at`: an RFC 3339 time, an LSN (`0/3000060`), or a time before `now`
 * (`-10m`, `-2h`). Throws {@link UsageError} for anything else, or a time in the future.
 */
export function parsePitrTarget(text: string, now: Date): PitrTarget {
  const lsn = parseLsn(text);
  if (lsn !== undefined) return { kind: "lsn", lsn };
  const ago = text.startsWith("-") ? parseDuration(text.slice(1)) : undefined;
  if (ago !== undefined) return { kind: "time", time: new Date(now.getTime() - ago * 1000) };
  const read = readRfc3339(text);
  if (read && "problem" in read) {
    throw new UsageError(`--at '${text}' is no time: ${read.problem}`, {
      hint: "give an RFC 3339 time such as 2027-06-01T10:05:00Z",
    });
  }
  if (!read) {
    throw new UsageError(`--at '${text}' is neither a time, an LSN nor a duration ago`, {
      hint: "give an RFC 3339 time (2027-06-01T10:05:00Z), an LSN (0/3000060) or -10m",
    });
  }
  if (read.date.getTime() > now.getTime()) {
    throw new UsageError(`--at ${read.date.toISOString()} is in the future`, {
      hint: "give a time in the past",
    });
  }
  return { kind: "time", time: read.date };
}

/** A target as the user reads it. */
export function describeTarget(target: PitrTarget): string {
  return target.kind === "time" ? target.time.toISOString() : `LSN ${formatLsn(target.lsn)}`;
}

/** One archived WAL segment: its name and the time of its source's last write. */
export interface ArchivedSegment {
  name: string;
  mtime: Date;
}

/** The segment number (16 MiB segments) of a segment file name, or undefined. */
export function segmentNumber(name: string): number | undefined {
  const m = /^[0-9A-F]{8}([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!m) return undefined;
  return parseInt(m[1], 16) * 0x100 + parseInt(m[2], 16);
}

/** The segment number an LSN lies in. */
export function segmentOfLsn(lsn: bigint): number {
  return Number(lsn / BigInt(WAL_SEGMENT_BYTES));
}

/** A snapshot that can serve as a base. */
export interface BaseCandidate {
  name: string;
  taken: Date;
}

/** From when to when a branch can be made from an archive, and the bases in it. */
export interface ArchiveWindow {
  /** The first moment a target may name (the oldest usable base, plus the margin). */
  from: Date | null;
  /** The last moment the archive holds (the last write of its newest segment). */
  to: Date | null;
  /** The LSN the window starts at (the start of the oldest usable base's segment). */
  fromLsn: bigint | null;
  /** The end of the newest archived segment. */
  toLsn: bigint | null;
  /** The usable bases, oldest first. */
  bases: BaseCandidate[];
  /** Segments missing between the oldest and the newest archived one (a gap). */
  missing: number;
  /** The archived segments, by segment number (the newest contiguous run). */
  segments: { number: number; mtime: Date }[];
}

/**
 * The window of an archive: the newest contiguous run of segments, and the snapshots
 * taken once the segment each was taken in is in the run: since the server that
 * archived the run's first segment started archiving (`starts`: when servers started
 * archiving into it), or else once that segment was finished. `liveEnd`, when the branch runs and has just archived its current segment,
 * is when that was.
 */
export function archiveWindow(
  archived: ArchivedSegment[],
  snapshots: BaseCandidate[],
  liveEnd?: { time: Date; lsn: bigint },
  starts: Date[] = [],
): ArchiveWindow {
  const byNumber = new Map<number, Date>();
  for (const s of archived) {
    const n = segmentNumber(s.name);
    if (n === undefined) continue;
    const seen = byNumber.get(n);
    if (!seen || seen < s.mtime) byNumber.set(n, s.mtime);
  }
  const numbers = [...byNumber.keys()].sort((a, b) => a - b);
  const empty: ArchiveWindow = {
    from: null,
    to: null,
    fromLsn: null,
    toLsn: null,
    bases: [],
    missing: 0,
    segments: [],
  };
  if (numbers.length === 0) return empty;
  let first = numbers.length - 1;
  while (first > 0 && numbers[first - 1] === numbers[first] - 1) first--;
  const run = numbers.slice(first);
  const missing = numbers[numbers.length - 1] - numbers[0] + 1 - numbers.length;
  const segments = run.map((n) => ({ number: n, mtime: byNumber.get(n)! }));
  // the server that archived the run's first segment started archiving with it in
  // progress: a snapshot taken since then has its segment in the run
  const firstEnd = segments[0].mtime.getTime();
  const began = starts.map((d) => d.getTime()).filter((t) => t <= firstEnd);
  // (a file time may be whole seconds: zfs-fuse)
  const runStart = new Date(began.length > 0 ? Math.max(...began) : firstEnd + 1000);
  const last = segments[segments.length - 1];
  const to = liveEnd?.time ?? last.mtime;
  const bases = snapshots
    .filter((s) => s.taken.getTime() >= runStart.getTime() && s.taken.getTime() <= to.getTime())
    .sort((a, b) => a.taken.getTime() - b.taken.getTime());
  const toLsn = liveEnd?.lsn ?? BigInt(last.number + 1) * BigInt(WAL_SEGMENT_BYTES);
  if (bases.length === 0) return { ...empty, to, toLsn, missing, segments };
  const from = new Date(bases[0].taken.getTime() + BASE_MARGIN_MS);
  return {
    from: from.getTime() <= to.getTime() ? from : null,
    to,
    fromLsn: BigInt(segmentAt(segments, new Date(from)) + 1) * BigInt(WAL_SEGMENT_BYTES),
    toLsn,
    bases,
    missing,
    segments,
  };
}

/**
 * The number of the first segment of the run whose last write came at or after `time`
 * (the segment in progress then), or the newest. An LSN in a later segment was written
 * after `time`.
 */
function segmentAt(segments: { number: number; mtime: Date }[], time: Date): number {
  const found = segments.find((s) => s.mtime.getTime() >= time.getTime());
  return (found ?? segments[segments.length - 1]).number;
}

/** Why a target cannot be served, naming the window. */
export function windowText(window: ArchiveWindow): string {
  if (!window.from || !window.to) return "no point-in-time window yet (no usable base snapshot)";
  return `${window.from.toISOString()} (LSN ${
    formatLsn(window.fromLsn!)
  }) to ${window.to.toISOString()} (LSN ${formatLsn(window.toLsn!)})`;
}

/**
 * The base snapshot a target replays from: the newest usable base whose moment lies
 * before the target (for a time, by at least {@link BASE_MARGIN_MS}; for an LSN, a base
 * taken before the segment holding it had begun). Returns the reason when there is none.
 */
export function chooseBase(
  window: ArchiveWindow,
  target: PitrTarget,
): { base: BaseCandidate } | { problem: string } {
  const outside = {
    problem: `${describeTarget(target)} is outside the point-in-time window: ${windowText(window)}`,
  };
  if (!window.from || !window.to || window.fromLsn === null || window.toLsn === null) {
    return outside;
  }
  let latest: number;
  if (target.kind === "time") {
    const t = target.time.getTime();
    if (t < window.from.getTime() || t > window.to.getTime()) return outside;
    latest = t - BASE_MARGIN_MS;
  } else {
    if (target.lsn < window.fromLsn || target.lsn > window.toLsn) return outside;
    // the previous segment's last write came before the target's segment began
    const before = window.segments.find((s) => s.number === segmentOfLsn(target.lsn) - 1);
    if (!before) return outside;
    latest = before.mtime.getTime() - BASE_MARGIN_MS;
  }
  const fitting = window.bases.filter((b) => b.taken.getTime() <= latest);
  const base = fitting[fitting.length - 1];
  return base ? { base } : outside;
}

/** The directory of the archive inside a branch container (its WAL dataset). */
export const CONTAINER_WAL_DIR = "/var/lib/zvpg-wal";
/** Where a point-in-time branch reads its parent's archive from (read-only). */
export const CONTAINER_RESTORE_DIR = "/var/lib/zvpg-restore";
/** The archive script's file name in the branch's config directory. */
export const ARCHIVE_SCRIPT_FILE = "archive_wal.sh";

/**
 * The archive command's script (POSIX sh, every image has it): copies one finished
 * segment `$1` to `$2` durably, per the archive_command contract of the PostgreSQL docs:
 * a temporary name, fsync, rename, fsync of the directory; a file of that name with the
 * same content is success (a retry after a crash), one with other content a failure.
 * The copy keeps its source's modification time: the window is read from it.
 */
export const ARCHIVE_SCRIPT =
  `# zvpg's archive_command: copies one finished WAL segment ($1) to $2, durably.
src=$1 dst=$2
if [ -e "$dst" ]; then
  cmp -s "$src" "$dst" && exit 0
  echo "zvpg archive: $dst exists with other content" >&2
  exit 1
fi
tmp="$dst.tmp"
rm -f "$tmp"
cp "$src" "$tmp" || exit 1
touch -r "$src" "$tmp" || exit 1
sync "$tmp" 2>/dev/null || sync
mv "$tmp" "$dst" || exit 1
sync "\${dst%/*}" 2>/dev/null || sync
`;

/** The server settings of an archived branch whose archive is `dir` in the container. */
export function archiveSettings(dir: string, timeoutSeconds: number): string[] {
  return [
    ...["-c", "archive_mode=on"],
    ...["-c", `archive_command=sh ${CONTAINER_CONF_DIR}/${ARCHIVE_SCRIPT_FILE} %p ${dir}/%f`],
    ...["-c", `archive_timeout=${timeoutSeconds}`],
  ];
}

/**
 * What a point-in-time branch's first start needs (kept as JSON beside its data directory
 * until it has promoted): the parent's archive and the target.
 */
export interface RecoveryPlan {
  /** The host directory of the parent's archive (mounted read-only). */
  archiveDir: string;
  /** `time` (RFC 3339) or `lsn`. */
  targetKind: "time" | "lsn";
  target: string;
}

/** The server settings of a recovery to `plan`'s target from the archive. */
export function recoverySettings(plan: RecoveryPlan): string[] {
  // a numeric zone: at the server's start no zone abbreviation (Z, UTC) is known yet
  const target = plan.targetKind === "time"
    ? `recovery_target_time=${plan.target.replace("T", " ").replace(/Z$/, "+00")}`
    : `recovery_target_lsn=${plan.target}`;
  return [
    ...["-c", `restore_command=cp ${CONTAINER_RESTORE_DIR}/%f %p`],
    ...["-c", target],
    ...["-c", "recovery_target_action=promote"],
    ...["-c", "recovery_target_timeline=latest"],
    ...["-c", "recovery_target_inclusive=on"],
  ];
}

/** The database system identifier in a `global/pg_control` file's first 8 bytes. */
export function systemIdentifier(pgControl: Uint8Array): string {
  if (pgControl.length < 8) throw new Error("pg_control is too short");
  return new DataView(pgControl.buffer, pgControl.byteOffset, 8).getBigUint64(0, true).toString();
}

/**
 * The archived segments `gc` removes from the archive of the current cluster: those older
 * than the segment the oldest base still worth keeping was taken in. That base is the
 * oldest snapshot taken within `retentionMs` before `now`, or else the newest snapshot (a
 * window always survives); with no snapshot at all, segments older than the retention go.
 * A segment a kept base needs (the one it was taken in and every later one) never goes;
 * file times may be whole seconds, so the segment is found a second early.
 */
export function segmentsToRemove(
  archived: ArchivedSegment[],
  snapshots: BaseCandidate[],
  now: Date,
  retentionMs: number,
): string[] {
  const cutoff = now.getTime() - retentionMs;
  const sorted = [...snapshots].sort((a, b) => a.taken.getTime() - b.taken.getTime());
  const kept = sorted.find((s) => s.taken.getTime() >= cutoff) ?? sorted[sorted.length - 1];
  const numbered = archived
    .map((s) => ({ ...s, number: segmentNumber(s.name) }))
    .filter((s): s is ArchivedSegment & { number: number } => s.number !== undefined)
    .sort((a, b) => a.number - b.number);
  if (!kept) {
    return numbered.filter((s) => s.mtime.getTime() < cutoff).map((s) => s.name);
  }
  const since = kept.taken.getTime() - 1000;
  const needed = numbered.find((s) => s.mtime.getTime() >= since);
  if (!needed) return [];
  return numbered.filter((s) => s.number < needed.number).map((s) => s.name);
}
