/**
 * A file remote's directory: its index of refs (`refs.json`) and one `zfs send` stream
 * file per snapshot (`<guid>.zstream`). Every read and write of it.
 *
 * - The directory holds whole databases (password hashes included): zvpg makes it 0700
 *   and every file 0600.
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
import { ConfigError } from "../errors.ts";
import { readRefsIndex, refsIndexText, type RemoteRef } from "../domain/remote_refs.ts";
import { faultPoint } from "../runtime/fault.ts";
import { withLock } from "../runtime/lock.ts";
import { replacePrivateFile } from "../runtime/private_fs.ts";

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

/** Runs `action` under the lock of the remote directory `dir`, made (0700) if missing. */
export async function withRemoteDir<T>(dir: string, action: () => Promise<T>): Promise<T> {
  return await withLock({ lockFile: join(dir, ".lock") }, action);
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
