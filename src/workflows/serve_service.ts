/**
 * The server side of remotes: the answers `zvpg serve --stdio` gives another zvpg about
 * this host's pool. Read-only here; every answer comes from the pool, none from the
 * request beyond its operation.
 *
 * @module
 */
import type { Context } from "../context.ts";
import {
  type Answer,
  PROTOCOL_VERSION,
  type RemoteRef,
  type Request,
  zfsCapabilities,
} from "../domain/remote_protocol.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import { VERSION } from "../version.ts";

/** Answers protocol requests from this host's pool. */
export class ServeService {
  constructor(private readonly ctx: Context) {}

  /** The answer to one valid request. */
  async answer(request: Request): Promise<Answer> {
    switch (request.op) {
      case "hello":
        return {
          ok: true,
          zvpg: PROTOCOL_VERSION,
          version: VERSION,
          zfs: zfsCapabilities(this.ctx.zfs.flavor),
        };
      case "list":
        return { ok: true, zvpg: PROTOCOL_VERSION, refs: await this.refs() };
    }
  }

  /** Every listed snapshot of the pool, oldest first, with its GUID. */
  async refs(): Promise<RemoteRef[]> {
    const { layout } = this.ctx;
    const inventory = await loadInitializedInventory(this.ctx, "serve", { containers: false });
    const guids = await this.ctx.zfs.snapshotGuids([layout.dataDataset, layout.clonesDataset]);
    return inventory.snapshots.flatMap((s) => {
      const guid = guids.get(s.zfsName);
      // a snapshot destroyed between the two reads is not offered
      if (guid === undefined) return [];
      return [{
        name: s.name,
        guid,
        branch: s.branch,
        created: s.created.toISOString(),
        message: s.message,
        referenced: s.referenced,
      }];
    });
  }
}
