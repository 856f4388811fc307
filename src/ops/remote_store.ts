/**
 * The remotes file (`remotes.json` in the config directory): every read and write of it.
 *
 * - It holds names and URLs only, never a secret; still it is written 0600 in a 0700
 *   directory (zvpg's own config directory; a directory given with `-c` keeps its mode),
 *   as every other file of the config directory is.
 * - It is replaced atomically (a temporary file renamed over it): a reader never sees it
 *   half-written, and a crash leaves the old or the new list.
 * - Changes are made under a lock of their own (`locks/remotes.lock`, not the pool's: a
 *   remote is added before any pool exists), so two zvpg processes never lose each
 *   other's change; reads take no lock.
 * - A file zvpg cannot read in full is an error naming the file, never an empty list.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, RemoteNotFoundError, ZvpgError } from "../errors.ts";
import { readRemotesFile, type Remote, remotesFileText } from "../domain/remote.ts";
import { withLock } from "../runtime/lock.ts";
import { ensurePrivateDir, replacePrivateFile } from "../runtime/private_fs.ts";
import type { Context } from "../context.ts";

/** Every remote, in the order they were added (none when there is no remotes file). */
export function loadRemotes(ctx: Context): Remote[] {
  const file = ctx.layout.remotesFile;
  if (!existsSync(file)) return [];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read the remotes file ${file}: ${(error as Error).message}`, {
      hint: "make it readable by the user running zvpg",
    });
  }
  const remotes = readRemotesFile(text);
  if ("problem" in remotes) {
    throw new ConfigError(`remotes file ${file}: ${remotes.problem}`, {
      hint: `fix it by hand, or move it away and add the remotes again with 'zvpg remote add'`,
    });
  }
  return remotes;
}

/**
 * Changes the list of remotes under the remotes lock: `change` gets the list read inside
 * the lock and returns the new list and its result (or throws, and nothing is written).
 */
export async function updateRemotes<T>(
  ctx: Context,
  change: (remotes: Remote[]) => { remotes: Remote[]; result: T },
): Promise<T> {
  return await withLock({ lockFile: ctx.layout.remotesLockFile }, () => {
    const before = loadRemotes(ctx);
    const { remotes, result } = change(before);
    const { config } = ctx;
    const file = ctx.layout.remotesFile;
    ensurePrivateDir(dirname(file), { fixExisting: config.configDirIsOwn });
    replacePrivateFile(file, remotesFileText(remotes));
    return Promise.resolve(result);
  });
}

/** The remote `name`, or {@link RemoteNotFoundError}. */
export function findRemote(ctx: Context, name: string): Remote {
  const remote = loadRemotes(ctx).find((r) => r.name === name);
  if (!remote) throw new RemoteNotFoundError(name);
  return remote;
}

/** The directory of a file remote; `command` (push, pull) takes no ssh remote yet. */
export function fileRemoteDir(remote: Remote, command: "push" | "pull"): string {
  if (remote.url.kind !== "file") {
    throw new ZvpgError(
      `remote '${remote.name}' is an ssh remote, which ${command} does not take yet`,
      {
        hint: `${command} ${
          command === "push" ? "to" : "from"
        } a file:// remote (a directory on this host)`,
      },
    );
  }
  return remote.url.path;
}
