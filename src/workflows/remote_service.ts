/**
 * `zvpg remote add|list|remove`: the names of the other places snapshots go to and come
 * from. They live in the remotes file of the config directory; nothing here touches the
 * pool or a remote.
 *
 * @module
 */
import { RemoteExistsError, RemoteNotFoundError } from "../errors.ts";
import { validateRemoteName } from "../domain/names.ts";
import type { Remote, RemoteUrl } from "../domain/remote.ts";
import { loadRemotes, updateRemotes } from "../ops/remote_store.ts";
import type { Context } from "../context.ts";

/** The remote commands. */
export class RemoteService {
  constructor(private readonly ctx: Context) {}

  /** Every remote, in the order they were added. */
  list(): Remote[] {
    return loadRemotes(this.ctx);
  }

  /** Adds remote `name` at `url`; refused when the name is taken. */
  async add(name: string, url: RemoteUrl): Promise<Remote> {
    validateRemoteName(name);
    return await updateRemotes(this.ctx, (remotes) => {
      const taken = remotes.find((r) => r.name === name);
      if (taken) {
        throw new RemoteExistsError(`remote '${name}' exists already (${taken.url.href})`, {
          hint: `pick another name, or run 'zvpg remote remove ${name}' first`,
        });
      }
      const remote = { name, url };
      return { remotes: [...remotes, remote], result: remote };
    });
  }

  /** Removes remote `name` and returns what it was. */
  async remove(name: string): Promise<Remote> {
    validateRemoteName(name);
    return await updateRemotes(this.ctx, (remotes) => {
      const remote = remotes.find((r) => r.name === name);
      if (!remote) throw new RemoteNotFoundError(name);
      return { remotes: remotes.filter((r) => r !== remote), result: remote };
    });
  }
}
