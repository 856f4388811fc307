/**
 * `zvpg refresh`: a new copy of main's source is loaded into a sibling dataset while main
 * keeps serving, then main switches to it on the same port with the same password (so the
 * same URI). Branches made before keep running on the copy they were cloned from: the old
 * dataset is renamed aside (`<data>-gen-<time>`, its clones follow it by object) and
 * destroyed as soon as nothing depends on it, here or at a later refresh.
 *
 * @module
 */
import { join } from "node:path";
import { StateError, ZvpgError } from "../errors.ts";
import { PROPS, SOURCE_PROPS } from "../domain/layout.ts";
import { markStopped } from "../domain/lifecycle.ts";
import { importSnapshotName } from "../domain/import_source.ts";
import type { ImportMode } from "../domain/import_source.ts";
import { loadInitializedInventory, record } from "../ops/inventory_store.ts";
import { stopBranchContainer } from "../ops/branch_container.ts";
import { startAndWait } from "../ops/start_on_port.ts";
import type { Context } from "../runtime/context.ts";
import { shielded } from "../runtime/interrupt.ts";
import { withLock } from "../runtime/lock.ts";
import { log } from "../runtime/log.ts";
import { InitService } from "./init_service.ts";
import { type ImportRequest, ImportSession, snapshotImport } from "./import_service.ts";

/** What `refresh` did (`refresh -f json`). */
export interface RefreshResult {
  branch: string;
  port: number;
  /** The source, as recorded (never a password). */
  source: string;
  mode: ImportMode;
  /** The snapshot of the new copy. */
  snapshot: string;
  /** The previous copy's dataset, when branches still depend on it; null once destroyed. */
  previous: string | null;
  /** Previous copies destroyed now (this one and older ones nothing depends on any more). */
  removed: string[];
  durationMs: number;
}

/** Refresh of main from its source. */
export class RefreshService {
  constructor(private readonly ctx: Context) {}

  async refresh(request: Partial<ImportRequest> = {}): Promise<RefreshResult> {
    const started = Date.now();
    const { ctx } = this;
    const { layout, zfs } = ctx;
    await loadInitializedInventory(ctx, "refresh", { containers: false });
    const recorded = await this.recordedSource();
    const from = request.from ?? recorded.from;
    if (!from) {
      throw new StateError(`branch '${ctx.config.branchDefault}' was not imported from a source`, {
        hint: "pass --from <postgresql:// URI, dump or data directory>",
      });
    }
    const init = new InitService(ctx);
    const owner = await init.imagePostgresUser();
    const session = await ImportSession.open(ctx, {
      from,
      mode: request.mode ?? (request.from ? undefined : recorded.mode),
      databases: request.databases ?? (request.from ? undefined : recorded.databases),
      jobs: request.jobs,
    }, owner);
    const next = `${layout.dataDataset}-next`;
    const nextMount = `${layout.dataMount}-next`;
    try {
      // a copy a crashed refresh left is zvpg's own by its name
      if (await zfs.exists(next)) await zfs.destroy(next, { recursive: true });
      await zfs.create(next, { mountpoint: nextMount, atime: "off" });
      try {
        const pgdata = join(nextMount, "pgdata");
        init.emptyDataDirectory(pgdata, owner);
        await session.load(pgdata, nextMount, () => init.initdb(pgdata, owner));
      } catch (error) {
        await shielded(() => zfs.destroy(next, { recursive: true })).catch(() => {});
        throw error;
      }
      return await withLock(layout, () => this.switchTo(next, session, started));
    } finally {
      session.close();
    }
  }

  /** The source recorded on main by the last import, if any. */
  private async recordedSource(): Promise<
    { from?: string; mode?: ImportMode; databases?: string[] }
  > {
    const entries = await this.ctx.zfs.get(
      [this.ctx.layout.dataDataset],
      [SOURCE_PROPS.source, SOURCE_PROPS.sourceMode, SOURCE_PROPS.sourceDatabases],
    );
    const prop = (p: string) => {
      const v = entries.find((e) => e.name === this.ctx.layout.dataDataset)?.props[p];
      return v && v !== "-" ? v : undefined;
    };
    const databases = prop(SOURCE_PROPS.sourceDatabases)?.split(",").filter((d) => d !== "");
    return {
      from: prop(SOURCE_PROPS.source),
      mode: prop(SOURCE_PROPS.sourceMode) as ImportMode | undefined,
      databases: databases && databases.length > 0 ? databases : undefined,
    };
  }

  /**
   * Stops main, renames its dataset aside and the new copy into its place, starts main on
   * its port, snapshots it. A failure before main runs again puts the old copy back.
   */
  private async switchTo(
    next: string,
    session: ImportSession,
    started: number,
  ): Promise<RefreshResult> {
    const { ctx } = this;
    const { layout, zfs, config } = ctx;
    const inventory = await loadInitializedInventory(ctx, "refresh", { containers: true });
    const main = inventory.branches.find((b) => b.isDefault)!;
    const stamp = importSnapshotName(ctx.now()).slice("import-".length);
    const previous = `${layout.dataDataset}-gen-${stamp}`;
    const keep = {
      [PROPS.branch]: config.branchDefault,
      [PROPS.created]: main.created.toISOString(),
      ...(main.lastPort ? { [PROPS.port]: String(main.lastPort) } : {}),
      [PROPS.runtime]: ctx.runtime.flavor,
    };
    if (main.container) await stopBranchContainer(ctx, main.container.name);
    await record(ctx, layout.dataDataset, markStopped());
    // zfs-fuse refuses to rename an unmounted dataset ("dataset is busy"); the engine may
    // also hold the just-stopped container's bind mount for a while
    await zfs.mount(layout.dataDataset);
    await zfs.rename(layout.dataDataset, previous, 60_000);
    try {
      await zfs.set(previous, { mountpoint: `${layout.dataMount}-gen-${stamp}` });
      await zfs.mount(next);
      await zfs.rename(next, layout.dataDataset);
      await zfs.set(layout.dataDataset, { mountpoint: layout.dataMount, ...keep });
      await record(ctx, layout.dataDataset, markStopped());
      // the old copy is no branch any more: its props would make it look like main
      await zfs.inherit(previous, PROPS.branch);
    } catch (error) {
      log.warn(
        `switching main failed; putting the previous copy back: ${(error as Error).message}`,
      );
      await shielded(async () => {
        if (await zfs.exists(layout.dataDataset)) {
          await zfs.mount(layout.dataDataset);
          await zfs.rename(layout.dataDataset, next);
        }
        await zfs.mount(previous);
        await zfs.rename(previous, layout.dataDataset);
        await zfs.set(layout.dataDataset, { mountpoint: layout.dataMount, ...keep });
      });
      throw error;
    }
    const after = await loadInitializedInventory(ctx, "refresh", { containers: true });
    const newMain = after.branches.find((b) => b.isDefault)!;
    const { port } = await startAndWait(ctx, after, { ...newMain, lastPort: main.lastPort });
    if (main.lastPort !== null && port !== main.lastPort) {
      log.warn(`port ${main.lastPort} was taken: main now runs on ${port}`);
    }
    const snapshot = await snapshotImport(ctx, session.plan);
    const removed = await this.removeUnusedCopies();
    return {
      branch: config.branchDefault,
      port,
      source: session.plan.recorded,
      mode: session.plan.mode,
      snapshot,
      previous: removed.includes(previous) ? null : previous,
      removed,
      durationMs: Date.now() - started,
    };
  }

  /** Destroys every previous copy no branch depends on any more; returns their names. */
  async removeUnusedCopies(): Promise<string[]> {
    const { zfs, layout } = this.ctx;
    const prefix = `${layout.dataDataset}-gen-`;
    const all = await zfs.get([layout.pool], ["type"], 1);
    const removed: string[] = [];
    for (const entry of all) {
      if (!entry.name.startsWith(prefix) || entry.name.includes("@")) continue;
      try {
        // -r takes its snapshots; a snapshot a branch was cloned from makes it fail
        await zfs.destroy(entry.name, { recursive: true });
        removed.push(entry.name);
      } catch (error) {
        if (!(error instanceof ZvpgError)) throw error;
        log.debug(`keeping ${entry.name}: ${error.message}`);
      }
    }
    return removed;
  }
}
