/**
 * `zvpg refresh`: a new copy of main's source is loaded beside main's data directory, in
 * main's own dataset (`pgdata-next`), while main keeps serving; then main is stopped, the
 * two directories are swapped by a rename inside the file system, and main starts again
 * on the same port with the same password (so the same URI). Branches made before keep
 * running untouched: they are clones of main's snapshots, which still hold the old data;
 * the old directory is deleted at once, and its blocks are freed when the last snapshot
 * holding them goes. No dataset is renamed: zfs-fuse cannot rename a dataset whose clones
 * are mounted, and the branches' containers keep theirs mounted.
 *
 * @module
 */
import { renameSync, rmSync } from "node:fs";
import { StateError } from "../errors.ts";
import { PROPS, SOURCE_PROPS } from "../domain/layout.ts";
import { markStopped } from "../domain/lifecycle.ts";
import type { ImportMode } from "../domain/import_source.ts";
import { loadInitializedInventory } from "../ops/store/load_inventory.ts";
import { record } from "../ops/store/record.ts";
import { stopBranchContainer } from "../ops/branch_container.ts";
import { startAndWait } from "../ops/start_on_port.ts";
import type { Context } from "../context.ts";
import { shielded } from "../runtime/interrupt.ts";
import { withLock } from "../runtime/lock.ts";
import { log } from "../runtime/log.ts";
import { emptyDataDirectory, imagePostgresUser, initdb } from "../ops/cluster_init.ts";
import { type ImportRequest, withMaskJob } from "../ops/import/plan.ts";
import { loadMaskJob } from "../ops/import/mask_job.ts";
import { ImportSession } from "../ops/import/session.ts";
import { snapshotImport } from "../ops/import/snapshot_import.ts";

/** What `refresh` did (`refresh -f json`). */
export interface RefreshResult {
  branch: string;
  port: number;
  /** The source, as recorded (never a password). */
  source: string;
  mode: ImportMode;
  /** The snapshot of the new copy. */
  snapshot: string;
  durationMs: number;
  /** `sha256:<hex>` of the rules the new copy was masked with; null: not masked. */
  masked: string | null;
}

/** Refresh of main from its source. */
export class RefreshService {
  constructor(private readonly ctx: Context) {}

  async refresh(request: Partial<ImportRequest> = {}): Promise<RefreshResult> {
    const started = Date.now();
    const { ctx } = this;
    const { layout } = ctx;
    // a rules file that cannot be used stops the run before anything is read
    const given = request.maskFile ? await loadMaskJob(request.maskFile) : undefined;
    await loadInitializedInventory(ctx, "refresh", { containers: false });
    const recorded = await this.recordedSource();
    const from = request.from ?? recorded.from;
    if (!from) {
      throw new StateError(`branch '${ctx.config.branchDefault}' was not imported from a source`, {
        hint: "pass --from <postgresql:// URI, dump or data directory>",
      });
    }
    if (request.maskFile && !recorded.masked) {
      throw new StateError(`branch '${ctx.config.branchDefault}' holds unmasked data`, {
        hint:
          "its snapshots and branches keep it: make a masked environment with 'zvpg init env --from <source> --mask <rules>' on a new pool",
      });
    }
    // a masked main stays masked: its recorded rules unless new ones are given
    const maskFile = request.maskFile ?? recorded.maskRules;
    if (recorded.masked && !maskFile) {
      throw new StateError(
        `branch '${ctx.config.branchDefault}' is masked but no rules are recorded`,
        {
          hint: "pass --mask <rules>",
        },
      );
    }
    const importRequest = await withMaskJob({
      from,
      mode: request.mode ?? (request.from ? undefined : recorded.mode),
      databases: request.databases ?? (request.from ? undefined : recorded.databases),
      jobs: request.jobs,
      noOwner: request.noOwner,
      noPrivileges: request.noPrivileges,
      maskFile,
      mask: given,
    });
    const owner = await imagePostgresUser(ctx);
    const dirs = refreshDirs(ctx);
    return await ImportSession.run(
      ctx,
      importRequest,
      owner,
      async (session) => {
        // what a crashed refresh left is zvpg's own by its name
        for (const dir of [dirs.next, dirs.old]) rmSync(dir, { recursive: true, force: true });
        try {
          emptyDataDirectory(dirs.next, owner);
          await session.load(
            dirs.next,
            layout.dataMount,
            () => initdb(ctx, dirs.next, owner, { sync: false }),
          );
        } catch (error) {
          rmSync(dirs.next, { recursive: true, force: true });
          throw error;
        }
        return await withLock(layout, () => this.switchTo(session, started));
      },
    );
  }

  /** The source recorded on main by the last import, if any. */
  private async recordedSource(): Promise<
    {
      from?: string;
      mode?: ImportMode;
      databases?: string[];
      maskRules?: string;
      masked?: string;
    }
  > {
    const entries = await this.ctx.zfs.get(
      [this.ctx.layout.dataDataset],
      [
        SOURCE_PROPS.source,
        SOURCE_PROPS.sourceMode,
        SOURCE_PROPS.sourceDatabases,
        SOURCE_PROPS.maskRules,
        PROPS.masked,
      ],
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
      maskRules: prop(SOURCE_PROPS.maskRules),
      masked: prop(PROPS.masked)?.startsWith("sha256:") ? prop(PROPS.masked) : undefined,
    };
  }

  /**
   * Stops main, swaps the data directories, starts main on its port, snapshots it. A
   * failure before main runs again puts the old directory back and starts main on it.
   */
  private async switchTo(session: ImportSession, started: number): Promise<RefreshResult> {
    const { ctx } = this;
    const { layout, config } = ctx;
    const dirs = refreshDirs(ctx);
    const inventory = await loadInitializedInventory(ctx, "refresh", { containers: true });
    const main = inventory.branches.find((b) => b.isDefault)!;
    session.phase("stopping main and switching the data directories");
    if (main.container) await stopBranchContainer(ctx, main.container.name);
    await record(ctx, layout.dataDataset, markStopped());
    renameSync(dirs.live, dirs.old);
    renameSync(dirs.next, dirs.live);
    const startMain = async () => {
      const now = await loadInitializedInventory(ctx, "refresh", { containers: true });
      const record = now.branches.find((b) => b.isDefault)!;
      return await startAndWait(ctx, now, { ...record, lastPort: main.lastPort });
    };
    let port: number;
    try {
      session.phase("starting main");
      ({ port } = await startMain());
    } catch (error) {
      log.warn(`main did not start on the new copy; putting the previous one back`);
      await shielded(async () => {
        renameSync(dirs.live, dirs.next);
        renameSync(dirs.old, dirs.live);
        await startMain();
      }).catch((e) => log.warn(`could not restart main: ${(e as Error).message}`));
      rmSync(dirs.next, { recursive: true, force: true });
      throw error;
    }
    if (main.lastPort !== null && port !== main.lastPort) {
      log.warn(`port ${main.lastPort} was taken: main now runs on ${port}`);
    }
    rmSync(dirs.old, { recursive: true, force: true });
    session.phase("snapshot");
    const snapshot = await snapshotImport(ctx, session.plan);
    session.phase("done");
    return {
      branch: config.branchDefault,
      port,
      source: session.plan.recorded,
      mode: session.plan.mode,
      snapshot,
      durationMs: Date.now() - started,
      masked: session.plan.mask?.hash ?? null,
    };
  }
}

/** Main's data directory, the new copy beside it, and the previous one during the swap. */
function refreshDirs(ctx: Context): { live: string; next: string; old: string } {
  const live = ctx.layout.pgdata(ctx.config.branchDefault);
  return { live, next: `${live}-next`, old: `${live}-previous` };
}
