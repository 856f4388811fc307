/**
 * The WAL archive of a branch: its dataset (`<pool>/wal/<branch>`, outside the branch
 * tree), turning it on and off, what a container start adds for it (the archive mount
 * and settings, or a point-in-time branch's read-only restore mount and recovery
 * settings), and reading its window from the archived files.
 *
 * The archive of a data directory goes to a subdirectory named after its database system
 * identifier: a refresh of main makes a new cluster whose segment names start again, and
 * so starts a new history beside the old one instead of colliding with it.
 *
 * @module
 */
import {
  appendFileSync,
  chownSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import type { Mount } from "../adapters/container_runtime.ts";
import type { Context } from "../context.ts";
import { ZvpgError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { ensurePrivateDir, replacePrivateFile } from "../runtime/private_fs.ts";
import { PROPS } from "../domain/layout.ts";
import {
  ARCHIVE_SCRIPT,
  ARCHIVE_SCRIPT_FILE,
  type ArchivedSegment,
  archiveSettings,
  CONTAINER_RESTORE_DIR,
  CONTAINER_WAL_DIR,
  type RecoveryPlan,
  recoverySettings,
  segmentsToRemove,
  systemIdentifier,
} from "../domain/wal_archive.ts";
import { parseDuration } from "../domain/duration.ts";
import { ensureMounted } from "./mounts.ts";

/** What a container start adds: mounts and server settings. */
export interface StartExtras {
  mounts: Mount[];
  settings: string[];
}

/** The database system identifier of a data directory (from `global/pg_control`). */
export function dataSystemId(pgdata: string): string {
  return systemIdentifier(readFileSync(join(pgdata, "global", "pg_control")));
}

/** The archive state recorded on a branch's WAL dataset, or undefined when it has none. */
export async function archiveState(
  ctx: Context,
  branch: string,
): Promise<"on" | "off" | undefined> {
  const dataset = ctx.layout.walDataset(branch);
  if (!await ctx.zfs.exists(dataset)) return undefined;
  const props = await ctx.zfs.userProps(dataset);
  return props?.[PROPS.archive] === "on" ? "on" : "off";
}

/**
 * Turns a branch's archive on or off (it takes effect at the branch's next start). Its
 * dataset is made with the first `on`, and kept by `off`: what it holds stays usable.
 */
export async function setArchive(ctx: Context, branch: string, on: boolean): Promise<void> {
  const { layout, zfs } = ctx;
  const dataset = layout.walDataset(branch);
  const value = on ? "on" : "off";
  if (await zfs.exists(dataset)) {
    await zfs.set(dataset, { [PROPS.archive]: value });
    return;
  }
  if (!on) return;
  if (!await zfs.exists(layout.walRoot)) {
    await zfs.create(layout.walRoot, {
      mountpoint: join(ctx.config.mountDir, "wal"),
      atime: "off",
    });
    ensurePrivateDir(join(ctx.config.mountDir, "wal"));
  }
  await zfs.create(dataset, { [PROPS.archive]: value });
  log.info(`branch '${branch}': WAL archive ${dataset} made`);
}

/**
 * What a branch's container start adds for point-in-time recovery: the archive, when the
 * branch archives (the default branch unless `walArchive` is false, or a branch turned
 * on), and the restore from its parent's archive while a point-in-time branch has not yet
 * promoted. The archive directory belongs to the data directory's owner.
 */
export async function pitrExtras(
  ctx: Context,
  branch: string,
  owner: { uid: number; gid: number },
  confDir: string,
): Promise<StartExtras> {
  const extras: StartExtras = { mounts: [], settings: [] };
  const { layout, config } = ctx;
  const recovery = readRecoveryPlan(ctx, branch);
  if (recovery) {
    extras.mounts.push({
      source: recovery.archiveDir,
      target: CONTAINER_RESTORE_DIR,
      readonly: true,
    });
    extras.settings.push(...recoverySettings(recovery));
    // PostgreSQL removes it once promoted
    const signal = join(layout.pgdata(branch), "recovery.signal");
    replacePrivateFile(signal, "");
    chownSync(signal, owner.uid, owner.gid);
  }
  const mount = layout.walMount(branch);
  const byDefault = layout.isDefault(branch) && config.walArchive === true;
  if (!byDefault && !existsSync(mount)) return extras;
  let state = await archiveState(ctx, branch);
  if (state === undefined && byDefault) {
    await setArchive(ctx, branch, true);
    state = "on";
  }
  if (state !== "on") return extras;
  await ensureMounted(ctx, layout.walDataset(branch), mount);
  ensurePrivateDir(mount, { owner });
  const sysid = dataSystemId(layout.pgdata(branch));
  ensurePrivateDir(join(mount, sysid), { owner });
  // when this server starts archiving: the window starts from the first start of a run
  appendFileSync(join(mount, sysid, STARTS_FILE), `${ctx.now().toISOString()}\n`, {
    mode: 0o600,
  });
  const script = join(confDir, ARCHIVE_SCRIPT_FILE);
  replacePrivateFile(script, ARCHIVE_SCRIPT);
  chownSync(script, owner.uid, owner.gid);
  extras.mounts.push({ source: mount, target: CONTAINER_WAL_DIR });
  extras.settings.push(
    ...archiveSettings(`${CONTAINER_WAL_DIR}/${sysid}`, config.archiveTimeoutSeconds ?? 60),
  );
  return extras;
}

/** The recovery a point-in-time branch still has to make, or undefined. */
export function readRecoveryPlan(ctx: Context, branch: string): RecoveryPlan | undefined {
  const file = ctx.layout.recoveryFile(branch);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as RecoveryPlan;
  } catch (error) {
    throw new ZvpgError(`the recovery file ${file} is unreadable: ${(error as Error).message}`, {
      hint: "delete the branch and make it again",
    });
  }
}

/** Records the recovery a point-in-time branch makes at its first start. */
export function writeRecoveryPlan(ctx: Context, branch: string, plan: RecoveryPlan): void {
  replacePrivateFile(ctx.layout.recoveryFile(branch), `${JSON.stringify(plan)}\n`);
}

/** Forgets a branch's recovery once it has promoted. */
export function removeRecoveryPlan(ctx: Context, branch: string): void {
  rmSync(ctx.layout.recoveryFile(branch), { force: true });
}

/** The archive directory (on the host) of the current cluster of `branch`. */
export function archiveDirOf(ctx: Context, branch: string): string {
  return join(ctx.layout.walMount(branch), dataSystemId(ctx.layout.pgdata(branch)));
}

/**
 * The file of an archive directory listing when servers started archiving into it (and,
 * after a `gc`, when what it kept begins): a snapshot taken after such a moment has the
 * segment it was taken in in the archive, when no segment is missing since.
 */
const STARTS_FILE = ".zvpg-starts";

/** When servers started archiving into an archive directory. */
export function archiveStarts(dir: string): Date[] {
  try {
    return readFileSync(join(dir, STARTS_FILE), "utf8").split("\n").filter((l) => l !== "")
      .map((l) => new Date(l)).filter((d) => !Number.isNaN(d.getTime()));
  } catch {
    return [];
  }
}

/** Rewrites the starts file of an archive directory. */
function writeStarts(dir: string, starts: Date[]): void {
  replacePrivateFile(
    join(dir, STARTS_FILE),
    starts.map((d) => `${d.toISOString()}\n`).join(""),
  );
}

/** The segments in an archive directory, with the time of their source's last write. */
export function listArchive(dir: string): ArchivedSegment[] {
  if (!existsSync(dir)) return [];
  const out: ArchivedSegment[] = [];
  for (const entry of readdirSync(dir)) {
    if (!/^[0-9A-F]{24}$/.test(entry)) continue;
    try {
      out.push({ name: entry, mtime: statSync(join(dir, entry)).mtime });
    } catch {
      // removed meanwhile (gc)
    }
  }
  return out;
}

/**
 * Destroys the WAL archive of a branch that goes (never the default branch's): a branch
 * made again under that name would archive segments of the same names with other content.
 * Only looked up when its mount directory exists.
 */
export async function destroyArchive(ctx: Context, branch: string): Promise<void> {
  if (ctx.layout.isDefault(branch) || !existsSync(ctx.layout.walMount(branch))) return;
  const dataset = ctx.layout.walDataset(branch);
  if (await ctx.zfs.exists(dataset)) {
    await ctx.zfs.destroy(dataset, { recursive: true });
    log.info(`deleted the WAL archive of branch '${branch}'`);
  }
  rmSync(ctx.layout.walMount(branch), { recursive: true, force: true });
}

/** What `gc` removed (or would remove) from the WAL archives. */
export interface ArchiveGc {
  /** Segments removed from the archives of current clusters. */
  segments: number;
  /** Archive directories of earlier clusters (before a refresh) removed whole. */
  histories: number;
}

/**
 * Removes from each branch's WAL archive what `walRetention` and the kept bases no longer
 * need ({@link segmentsToRemove}), and the archives of earlier clusters of the branch (a
 * refresh's old history) once all of it is older than the retention. Only branches with
 * an archive mounted are looked at; the caller holds the lock.
 */
export function collectArchives(
  ctx: Context,
  branches: { name: string }[],
  snapshots: { name: string; branch: string; created: Date; remote?: string | null }[],
  options: { dryRun?: boolean } = {},
): ArchiveGc {
  const result: ArchiveGc = { segments: 0, histories: 0 };
  const retention = (parseDuration(ctx.config.walRetention ?? "7d") ?? 7 * 86400) * 1000;
  const now = ctx.now();
  for (const branch of branches) {
    const mount = ctx.layout.walMount(branch.name);
    if (!existsSync(mount)) continue;
    let current: string;
    try {
      current = dataSystemId(ctx.layout.pgdata(branch.name));
    } catch {
      continue;
    }
    for (const entry of readdirSync(mount)) {
      const dir = join(mount, entry);
      if (!/^[0-9]+$/.test(entry)) continue;
      const segments = listArchive(dir);
      if (entry !== current) {
        const newest = Math.max(0, ...segments.map((s) => s.mtime.getTime()));
        if (newest < now.getTime() - retention) {
          if (!options.dryRun) rmSync(dir, { recursive: true, force: true });
          result.histories++;
          log.info(`gc: removed the WAL archive of an earlier cluster of '${branch.name}'`);
        }
        continue;
      }
      const bases = snapshots
        .filter((s) => s.branch === branch.name && !s.remote)
        .map((s) => ({ name: s.name, taken: s.created }));
      const gone = segmentsToRemove(segments, bases, now, retention);
      if (!options.dryRun && gone.length > 0) {
        // the archive now begins once the last removed segment had ended (its file time
        // may be whole seconds): a start before that no longer begins it
        const removed = new Set(gone);
        const end = Math.max(
          ...segments.filter((s) => removed.has(s.name)).map((s) => s.mtime.getTime()),
        ) + 1000;
        writeStarts(dir, [
          new Date(end),
          ...archiveStarts(dir).filter((d) => d.getTime() > end),
        ]);
        for (const name of gone) rmSync(join(dir, name), { force: true });
      }
      if (gone.length > 0) {
        log.info(`gc: removed ${gone.length} archived WAL segment(s) of '${branch.name}'`);
      }
      result.segments += gone.length;
    }
  }
  return result;
}
