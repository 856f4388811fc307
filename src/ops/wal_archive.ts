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
  systemIdentifier,
} from "../domain/wal_archive.ts";
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

/** The file of an archive directory listing when servers started archiving into it. */
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
