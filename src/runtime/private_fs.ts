/**
 * Files and directories only their owner can reach. Modes are set with an explicit chmod
 * after creation: `mkdir` and `open` modes are filtered by the umask, and some runtime
 * calls (Deno's append) ignore the mode altogether. Calling these on an existing path
 * tightens it, so an install made by an older version is fixed on the next run.
 *
 * @module
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";

/** Mode of every directory zvpg makes private. */
export const PRIVATE_DIR = 0o700;
/** Mode of every file zvpg makes private. */
export const PRIVATE_FILE = 0o600;

/**
 * Makes `dir` (and missing parents) and sets it to 0700, owned by `owner` when given.
 * With `fixExisting: false`, a directory that already existed keeps its mode (for paths
 * the user may share with other programs); parents zvpg created are always made private.
 * Returns whether `dir` was created.
 */
export function ensurePrivateDir(
  dir: string,
  options: { owner?: { uid: number; gid: number }; fixExisting?: boolean } = {},
): boolean {
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  const created = first !== undefined;
  if (created && first !== dir) {
    // every parent made here is zvpg's too: none of them may stay open to others
    let parent = dir;
    while (parent.length > first.length) {
      parent = parent.slice(0, parent.lastIndexOf("/"));
      chmodSync(parent, PRIVATE_DIR);
    }
  }
  if (created || options.fixExisting !== false) {
    chmodSync(dir, PRIVATE_DIR);
    if (options.owner) chownSync(dir, options.owner.uid, options.owner.gid);
  }
  return created;
}

/** Creates `file` if missing (empty), and sets it to 0600 in any case. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, "a", PRIVATE_FILE));
  chmodSync(file, PRIVATE_FILE);
}

/** Writes `content` to `file` (replacing it), mode 0600 whatever the umask. */
export function writePrivateFile(file: string, content: string): void {
  ensurePrivateFile(file);
  // not node:fs writeFileSync: it chmods to 0666 unless told otherwise
  Deno.writeTextFileSync(file, content, { mode: PRIVATE_FILE });
  chmodSync(file, PRIVATE_FILE);
}

/**
 * Replaces `file` with `content` atomically (a 0600 temporary file renamed over it), so a
 * reader never sees it half-written; leaves it untouched when it already holds `content`.
 * Returns whether it wrote.
 */
export function replacePrivateFile(file: string, content: string): boolean {
  try {
    if (readFileSync(file, "utf8") === content) {
      chmodSync(file, PRIVATE_FILE);
      return false;
    }
  } catch {
    // missing or unreadable: written below
  }
  const temp = `${file}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  // "wx": a fresh file, never one someone placed there; 0600 before a byte is written
  const fd = openSync(temp, "wx", PRIVATE_FILE);
  try {
    chmodSync(temp, PRIVATE_FILE);
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  return true;
}
