/**
 * `zvpg remote add|list|remove`: the names of the other places snapshots go to and come
 * from. They live in the remotes file of the config directory. Only `remove` touches the
 * pool: like `git remote remove`, it removes what was pulled from the remote too (its
 * remote-tracking datasets `<pool>/remotes/<name>`), refused while a branch is cloned
 * from one of their snapshots.
 *
 * @module
 */
import {
  DependencyError,
  ProgramNotFoundError,
  RemoteExistsError,
  RemoteNotFoundError,
} from "../errors.ts";
import { validateRemoteName } from "../domain/names.ts";
import type { Remote, RemoteUrl } from "../domain/remote.ts";
import { findRemote, loadRemotes, updateRemotes } from "../ops/remote_store.ts";
import { loadInventory, throwIfPoolNotImported } from "../ops/store/load_inventory.ts";
import { destroyRemoteTracking } from "../ops/tracking_removal.ts";
import { withLock } from "../runtime/lock.ts";
import { faultPoint } from "../runtime/fault.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../context.ts";

/** What a remote remove did. */
export interface RemoteRemoveResult {
  /** The remote removed. */
  remote: Remote;
  /** The snapshots pulled from it, destroyed with its remote-tracking datasets. */
  removedSnapshots: string[];
  /** Its remote-tracking datasets destroyed (`<pool>/remotes/<name>` and below). */
  removedDatasets: string[];
}

/** The remote commands. */
export class RemoteService {
  constructor(private readonly ctx: Context) {}

  /** Every remote, in the order they were added. */
  list(): Remote[] {
    return loadRemotes(this.ctx);
  }

  /** Adds remote `name` at `url`; refused when the name is taken. */
  async add(name: string, url: RemoteUrl, options: { maskedOnly?: boolean } = {}): Promise<Remote> {
    validateRemoteName(name);
    return await updateRemotes(this.ctx, (remotes) => {
      const taken = remotes.find((r) => r.name === name);
      if (taken) {
        throw new RemoteExistsError(`remote '${name}' exists already (${taken.url.href})`, {
          hint: `pick another name, or run 'zvpg remote remove ${name}' first`,
        });
      }
      const remote: Remote = { name, url, ...(options.maskedOnly ? { maskedOnly: true } : {}) };
      return { remotes: [...remotes, remote], result: remote };
    });
  }

  /**
   * Removes remote `name` and its remote-tracking datasets (refused, naming them, while
   * branches are cloned from their snapshots). The datasets go first: a remove stopped in
   * between leaves the name, and running it again finishes. Where the pool is not there
   * (never made, or no ZFS on this host) only the name goes; a pool that is only exported
   * is refused, since its datasets would stay behind.
   */
  async remove(name: string): Promise<RemoteRemoveResult> {
    validateRemoteName(name);
    findRemote(this.ctx, name);
    const pruned = await this.pruneTracking(name);
    // the datasets are gone, the name is still there: running it again finishes
    faultPoint("remote.remove.after-destroy");
    const remote = await updateRemotes(this.ctx, (remotes) => {
      const remote = remotes.find((r) => r.name === name);
      if (!remote) throw new RemoteNotFoundError(name);
      return { remotes: remotes.filter((r) => r !== remote), result: remote };
    });
    return { remote, ...pruned };
  }

  /** Destroys the remote-tracking datasets of `remote`, if there are any. */
  private async pruneTracking(
    remote: string,
  ): Promise<{ removedSnapshots: string[]; removedDatasets: string[] }> {
    const { ctx } = this;
    const root = ctx.layout.remoteDataset(remote);
    const none = { removedSnapshots: [], removedDatasets: [] };
    if (!(await this.holdsTracking(root))) return none;
    return await withLock(ctx.layout, async () => {
      const inventory = await loadInventory(ctx, { containers: false, tracking: true });
      const snapshots = (inventory.tracking ?? []).filter((s) => s.remote === remote);
      const dependents = snapshots.flatMap((s) => s.dependents.map((d) => `${d} (from ${s.name})`));
      if (dependents.length > 0) {
        throw new DependencyError(
          `remote '${remote}' has branches made from its snapshots: ${dependents.join(", ")}`,
          snapshots.flatMap((s) => s.dependents),
          `delete those branches first ('zvpg branch delete <branch>'), then remove the remote`,
        );
      }
      const entries = await ctx.zfs.getTree([root], ["type"]);
      if (entries.length === 0) return none;
      await destroyRemoteTracking(ctx, remote, snapshots.map((s) => ({ ...s, remote })));
      log.info(`destroyed ${root} (what was pulled from '${remote}')`);
      return {
        removedSnapshots: snapshots.map((s) => s.name),
        removedDatasets: entries.filter((e) => e.type !== "snapshot").map((e) => e.name),
      };
    });
  }

  /**
   * Whether `root` exists. When it does not, the pool must not be one that is only
   * exported (its datasets would stay behind); a host without ZFS holds none.
   */
  private async holdsTracking(root: string): Promise<boolean> {
    try {
      if ((await this.ctx.zfs.getTree([root], ["type"])).length > 0) return true;
      await throwIfPoolNotImported(this.ctx, "remote remove");
      return false;
    } catch (error) {
      if (error instanceof ProgramNotFoundError) return false;
      throw error;
    }
  }
}
