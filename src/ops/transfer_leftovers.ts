/**
 * Reads what killed transfers left (the rules are in src/domain/transfer_leftovers.ts) for
 * `status health`, and removes one for `--repair`: one `zfs get` of `<pool>/remotes`, the
 * remotes file, and a listing of each file remote's directory (one that cannot be read,
 * e.g. an unmounted disk, is skipped).
 *
 * @module
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import type { Inventory } from "../domain/inventory.ts";
import { PROPS } from "../domain/layout.ts";
import { findTransferLeftovers, type TransferLeftover } from "../domain/transfer_leftovers.ts";
import { loadRemotes } from "./remote_store.ts";
import { operationAlive } from "./operation_alive.ts";
import type { Context } from "../context.ts";
import type { Remote } from "../domain/remote.ts";

/** Every leftover of a killed transfer in the pool and the file remotes' directories. */
export async function readTransferLeftovers(
  ctx: Context,
  inventory: Inventory,
): Promise<TransferLeftover[]> {
  const props = ctx.zfs.flavor === "openzfs"
    ? [PROPS.remoteBases, "receive_resume_token"]
    : [PROPS.remoteBases];
  const tracking = await ctx.zfs.getTree([ctx.layout.remotesDataset], props);
  let remotes: Remote[] | undefined;
  try {
    remotes = loadRemotes(ctx);
  } catch (error) {
    // a remotes file zvpg cannot read names no remote: no hold is called an orphan then
    if (!(error instanceof ConfigError)) throw error;
  }
  const leftovers = findTransferLeftovers({
    remotesDataset: ctx.layout.remotesDataset,
    tracking,
    bases: inventory.snapshots,
    remotes: remotes?.map((r) => r.name) ?? [],
    streamFiles: (remotes ?? []).flatMap(streamFilesOf),
    alive: operationAlive,
  });
  return remotes === undefined
    ? leftovers.filter((l) => l.kind !== "orphan-remote-hold")
    : leftovers;
}

/** The temporary stream files in a file remote's directory (none when it cannot be read). */
function streamFilesOf(remote: Remote): string[] {
  if (remote.url.kind !== "file") return [];
  const dir = remote.url.path;
  try {
    return readdirSync(dir).filter((f) => /^\..+\.zstream\.[0-9]+\.tmp$/.test(f))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** Removes a temporary stream file a dead push left. */
export function removeStreamFile(file: string): void {
  rmSync(file, { force: true });
}
