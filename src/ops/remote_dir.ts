/**
 * A file remote's directory: its index of refs (`refs.json`) and one `zfs send` stream
 * file per snapshot (`<guid>.zstream`). Every read and write of it.
 *
 * - The directory holds whole databases (password hashes included): every file is 0600,
 *   and a directory zvpg makes is 0700. One that exists keeps its mode (it may be `/tmp`
 *   or a disk's root), and is refused when another uid owns it or can write to it: its
 *   index and streams would be theirs to replace, and a pull receives what they name.
 * - Nothing half-written is ever visible: a stream goes to a temporary name and is renamed
 *   once `zfs send` succeeded (a failed send leaves no file), and the index is replaced
 *   atomically after the stream is in place, so a ref never names a missing stream.
 * - Changes are made under the directory's lock (`.lock`), so two pushes never lose each
 *   other's ref.
 * - The index is untrusted input (`readRefsIndex`): one zvpg cannot read in full is an
 *   error naming it, never an empty list.
 *
 * @module
 */
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, ZvpgError } from "../errors.ts";
import { readRefsIndex, refsIndexText, type RemoteRef } from "../domain/remote_refs.ts";
import { MAX_SNAPSHOT_NAME } from "../domain/names.ts";
import { faultPoint } from "../runtime/fault.ts";
import { log } from "../runtime/log.ts";
import { withLock } from "../runtime/lock.ts";
import { ensurePrivateDir, replacePrivateFile } from "../runtime/private_fs.ts";

/** The index file of the remote directory `dir`. */
export function refsFile(dir: string): string {
  return join(dir, "refs.json");
}

/** The refs of the remote directory `dir` (none when it has no index yet). */
export function loadRefs(dir: string): RemoteRef[] {
  const file = refsFile(dir);
  if (!existsSync(file)) return [];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read the remote index ${file}: ${(error as Error).message}`);
  }
  const refs = readRefsIndex(text);
  if ("problem" in refs) {
    throw new ConfigError(`remote index ${file}: ${refs.problem}`, {
      hint: "fix it or push to another directory: zvpg does not guess what it holds",
    });
  }
  return refs;
}

/**
 * Checks the remote directory `dir` before a push or pull reads or writes it (see the
 * module's rules): a push makes it 0700 when missing; a pull needs it there.
 */
export function checkRemoteDir(dir: string, command: "push" | "pull"): void {
  let stat: Deno.FileInfo;
  try {
    stat = Deno.statSync(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new ZvpgError(`cannot read the remote directory ${dir}: ${(error as Error).message}`, {
        hint: "check its permissions, or that the disk it is on is mounted",
      });
    }
    if (command === "pull") {
      throw new ZvpgError(`the remote directory ${dir} does not exist`, {
        hint: "mount the disk it is on, or push to it first",
      });
    }
    ensurePrivateDir(dir);
    return;
  }
  if (!stat.isDirectory) {
    throw new ZvpgError(`the remote path ${dir} is not a directory`, {
      hint: "point the remote at a directory: 'zvpg remote remove', then 'zvpg remote add'",
    });
  }
  const uid = Deno.uid();
  if (stat.uid !== uid) {
    throw new ZvpgError(
      `the remote directory ${dir} belongs to uid ${stat.uid}, not to this user (uid ${uid})`,
      { hint: `use a directory of your own, e.g. 'mkdir -m 700 ${join(dir, "zvpg")}'` },
    );
  }
  const mode = (stat.mode ?? 0) & 0o777;
  if ((mode & 0o022) !== 0) {
    throw new ZvpgError(
      `the remote directory ${dir} can be written by other users (mode ${mode.toString(8)})`,
      { hint: `make it yours alone ('chmod go-w ${dir}'), or use a directory only you can write` },
    );
  }
}

/** Runs `action` under the lock of the remote directory `dir` (checked first). */
export async function withRemoteDir<T>(
  dir: string,
  command: "push" | "pull",
  action: () => Promise<T>,
): Promise<T> {
  checkRemoteDir(dir, command);
  return await withLock({ lockFile: join(dir, ".lock"), lockDir: "as-is" }, action);
}

/**
 * Adds `ref` to the remote directory `dir`, its stream written by `send` into the
 * temporary file it is given: renamed into place once written, then the index replaced.
 * Call it under {@link withRemoteDir}.
 */
export async function addRef(
  dir: string,
  ref: RemoteRef,
  send: (temporary: string) => Promise<void>,
): Promise<void> {
  const stream = join(dir, ref.stream);
  const temporary = join(dir, `.${ref.stream}.${Deno.pid}.tmp`);
  rmSync(temporary, { force: true });
  await send(temporary);
  try {
    renameSync(temporary, stream);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  // a stream with no ref is never read: killed here, the push is simply done again
  faultPoint("push.after-stream");
  replacePrivateFile(refsFile(dir), refsIndexText([...loadRefs(dir), ref]));
}

/**
 * Renames ref `name` of the remote directory `dir` to `<name>.pre-<UTC time>` (its stream,
 * named by GUID, stays), so a push of another snapshot of that name does not replace it
 * (push `--force`). Returns the new name. Call it under {@link withRemoteDir}.
 */
export function setAsideRef(dir: string, name: string, now: Date): string {
  const suffix = `pre-${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "")}`;
  const renamed = `${name.slice(0, MAX_SNAPSHOT_NAME - suffix.length - 1)}.${suffix}`;
  const refs = loadRefs(dir).map((r) => r.name === name ? { ...r, name: renamed } : r);
  replacePrivateFile(refsFile(dir), refsIndexText(refs));
  log.warn(`kept the remote's '${name}' as '${renamed}'`);
  return renamed;
}
