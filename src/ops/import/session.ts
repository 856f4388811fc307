/**
 * Importing real data into a data directory: from a server (logical pg_dump/pg_restore, or
 * physical pg_basebackup), a pg_dump output, or a shut-down data directory. An
 * {@link ImportSession} first resolves the source and runs the preflight (nothing is made
 * until it passes), then loads a given empty data directory through a private loader
 * server, with the {@link SourceLoader} of the source's kind, and leaves it cleanly shut
 * down. The caller (init env, refresh) owns the dataset and removes it when the load fails.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../../context.ts";
import { faultPoint } from "../../runtime/fault.ts";
import { ensurePrivateDir } from "../../runtime/private_fs.ts";
import { ImportSecrets, LoaderServer, PgClient } from "../pg_client.ts";
import { type ImportPlan, type ImportRequest, planImport } from "./plan.ts";
import { preflight, type PreflightFacts } from "./preflight.ts";
import { ImportProgress } from "./progress.ts";
import { type Env, sessionPgpass } from "./source.ts";
import type { ImportRun, SourceLoader } from "./source_loader.ts";
import { loadDatadir } from "./load_datadir.ts";
import { loadDump } from "./load_dump.ts";
import { loadLogical } from "./load_logical.ts";
import { loadPhysical } from "./load_physical.ts";
import { databaseExists } from "./restore.ts";
import { ident } from "./sql.ts";
import { checkSourceMask, loadMaskedCopy, maskScratch, withScratch } from "./mask.ts";
import { emptyDataDirectory, initdb as initCluster } from "../cluster_init.ts";

/** One import, under {@link ImportSession.run}: resolved and preflighted, then {@link load}. */
export class ImportSession {
  /** The data directory was taken over in place (zero-copy): {@link load} copies nothing. */
  private inPlace = false;

  private constructor(
    private readonly run: ImportRun,
    private readonly facts: PreflightFacts,
  ) {}

  /** The resolved, preflighted import. */
  get plan(): ImportPlan {
    return this.run.plan;
  }

  /** Says that the data directory source now is `pgdata` itself (see src/ops/datadir_adoption.ts). */
  loadInPlace(): void {
    this.inPlace = true;
  }

  /**
   * Opens a session ({@link open}: the source resolved, the preflight passed) and runs
   * `body` with it; the session's private directory (the pgpass copy) is removed when
   * `body` ends, however it ends: every step after the session opens runs inside that
   * clean-up, so no Ctrl-C or failure between two steps can leave the directory behind.
   */
  static async run<T>(
    ctx: Context,
    request: ImportRequest,
    owner: { uid: number; gid: number },
    body: (session: ImportSession) => Promise<T>,
    env: Env = Deno.env.toObject(),
  ): Promise<T> {
    const session = await ImportSession.open(ctx, request, owner, env);
    try {
      faultPoint("import.after-preflight");
      return await body(session);
    } finally {
      session.close();
    }
  }

  /**
   * Resolves the source and runs the preflight; throws a one-line error before anything
   * is made. Only {@link run} calls it: the session holds a private temp dir until closed.
   */
  private static async open(
    ctx: Context,
    request: ImportRequest,
    owner: { uid: number; gid: number },
    env: Env,
  ): Promise<ImportSession> {
    const plan = planImport(request);
    const secrets = new ImportSecrets(owner);
    try {
      secrets.write("pgpass", sessionPgpass(plan.source, env));
      const client = new PgClient(ctx, secrets);
      const run: ImportRun = { ctx, plan, client, secrets, progress: new ImportProgress() };
      const facts = await preflight(run);
      // the rules are checked against the source's schema before anything is made
      if (plan.mask && plan.source.kind === "server") {
        await checkSourceMask(run, plan.source, plan.mask);
      }
      return new ImportSession(run, facts);
    } catch (error) {
      secrets.remove();
      throw error;
    }
  }

  /** Marks a phase of the caller's (init env, refresh) in the import's progress. */
  phase(name: string): void {
    this.run.progress.phase(name);
  }

  /** Removes the private temp dir (the pgpass copy). */
  private close(): void {
    this.run.secrets.remove();
  }

  /**
   * Loads the source into the empty data directory `pgdata` (its parent `workDir` holds
   * scratch space and the loader's socket), setting zvpg's password on its superuser, and
   * leaves it cleanly shut down. `initdb` initialises an empty cluster (logical and dumps).
   * A logical copy dumps the source while the cluster is made and its loader starts. On
   * failure, what it made inside `workDir` is removed; `pgdata` is left for the caller.
   */
  async load(pgdata: string, workDir: string, initdb: () => Promise<void>): Promise<void> {
    if (this.run.plan.mask) return await this.loadMasked(pgdata, workDir, initdb);
    const scratch = join(workDir, "import-scratch");
    await this.loadWith(pgdata, workDir, initdb, this.sourceLoader(scratch));
  }

  /**
   * A masked load (src/ops/import/mask.ts): the source loaded into a scratch dataset and
   * masked there, then copied logically into `pgdata`; the scratch is destroyed whatever
   * happens. No real value is ever written under `workDir`.
   */
  private async loadMasked(
    pgdata: string,
    workDir: string,
    initdb: () => Promise<void>,
  ): Promise<void> {
    const { ctx, secrets, progress } = this.run;
    const job = this.run.plan.mask!;
    await withScratch(ctx, async (scratch) => {
      const real = join(scratch.mount, "pgdata");
      emptyDataDirectory(real, secrets.owner);
      progress.phase("loading the source into the masking scratch");
      await this.loadWith(
        real,
        scratch.mount,
        () => initCluster(ctx, real, secrets.owner, { sync: false }),
        this.sourceLoader(join(scratch.mount, "import-scratch")),
      );
      const socketDir = join(scratch.mount, "mask-sock");
      ensurePrivateDir(socketDir, { owner: secrets.owner });
      const server = new LoaderServer(ctx, secrets, real, socketDir, true);
      try {
        progress.phase("starting the masking scratch");
        await server.start();
        await maskScratch(this.run, server, job);
        await this.loadWith(
          pgdata,
          workDir,
          initdb,
          loadMaskedCopy(this.run, server, join(scratch.mount, "masked-dump")),
        );
      } finally {
        await server.discard();
      }
    });
  }

  /** Loads `pgdata` through the loader `source` (see {@link load}). */
  private async loadWith(
    pgdata: string,
    workDir: string,
    initdb: () => Promise<void>,
    source: SourceLoader,
  ): Promise<void> {
    const { ctx, secrets, progress } = this.run;
    const scratch = join(workDir, "import-scratch");
    const socketDir = join(workDir, "import-sock");
    source.begin?.();
    let loader: LoaderServer | undefined;
    try {
      await source.make(pgdata, initdb);
      ensurePrivateDir(socketDir, { owner: secrets.owner });
      loader = new LoaderServer(ctx, secrets, pgdata, socketDir, source.fresh);
      progress.phase("starting the loader");
      await loader.start();
      await source.load(loader, socketDir);
      await this.finish(loader);
    } catch (error) {
      await source.cancel?.();
      await loader?.discard();
      throw error;
    } finally {
      rmSync(socketDir, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** The loader of the source's kind (and, for a server, of the mode); `scratch` for dumps. */
  private sourceLoader(scratch: string): SourceLoader {
    const { run } = this;
    const source = run.plan.source;
    switch (source.kind) {
      case "server":
        return run.plan.mode === "physical"
          ? loadPhysical(run, source)
          : loadLogical(run, source, scratch);
      case "dump":
        return loadDump(run, source, this.facts.dumpObjects);
      case "datadir":
        return loadDatadir(run, source, this.inPlace);
    }
  }

  /** Creates `postgresDb` if the load did not, then stops the loader cleanly. */
  private async finish(loader: LoaderServer): Promise<void> {
    const { ctx, progress } = this.run;
    const user = ctx.config.postgresUser;
    const db = ctx.config.postgresDb;
    if (!(await databaseExists(loader, user, db))) {
      await loader.sql(user, "postgres", `CREATE DATABASE ${ident(db)}`);
    }
    progress.phase("checkpoint and clean stop");
    await loader.sql(user, "postgres", "CHECKPOINT");
    await loader.stop();
  }
}
