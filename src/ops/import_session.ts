/**
 * Importing real data into a data directory: from a server (logical pg_dump/pg_restore, or
 * physical pg_basebackup), a pg_dump output, or a shut-down data directory. An
 * {@link ImportSession} first resolves the source and runs the preflight (nothing is made
 * until it passes), then loads a given empty data directory through a private loader
 * server and leaves it cleanly shut down. The caller (init env, refresh) owns the dataset
 * and removes it when the load fails.
 *
 * @module
 */
import { settleAll } from "../runtime/settle_all.ts";
import {
  chownSync,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError, ZvpgError } from "../errors.ts";
import {
  classifyPath,
  conninfo,
  describeSource,
  dumpDatabaseName,
  effectiveTarget,
  type ImportMode,
  importSnapshotName,
  type ImportSource,
  isConnectionString,
  parseConnectionString,
  passwordFromPgpass,
  type PathFacts,
  redactConnectionString,
  type ServerSource,
  sourcePgpass,
  stripSourceSettings,
} from "../domain/import_source.ts";
import {
  checkPreflight,
  type ImageFacts,
  majorOf,
  parseGlibcVersion,
  parseImageFiles,
  parseLibraryList,
  parseServerVersion,
  PreflightError,
  type SourceFacts,
} from "../domain/import_preflight.ts";
import { scramVerifier } from "../domain/scram.ts";
import { dumpRoles } from "../domain/dump_roles.ts";
import {
  CONTAINER_CONF_DIR,
  CONTAINER_PGDATA,
  CONTAINER_SOCKET_DIR,
  SOURCE_PROPS,
} from "../domain/layout.ts";
import { loadForSnapshot } from "./store/load_branch.ts";
import { takeSnapshot } from "./take_snapshot.ts";
import { type ClientRun, firstError, ImportSecrets, LoaderServer, PgClient } from "./pg_client.ts";
import type { Context } from "../context.ts";
import { log } from "../runtime/log.ts";
import { faultPoint } from "../runtime/fault.ts";
import { readPassword } from "./credentials.ts";
import { ensurePrivateDir } from "../runtime/private_fs.ts";
import { ImportProgress } from "./import_progress.ts";
import {
  baseBackupProgress,
  RestoreObjectCounter,
  tocEntryCount,
} from "../domain/restore_progress.ts";

/** What the user asked to import. */
export interface ImportRequest {
  from: string;
  mode?: ImportMode;
  /** Databases to copy (server sources), or the one to restore a dump into. */
  databases?: string[];
  /** Parallel jobs of pg_dump and pg_restore. */
  jobs?: number;
  /** Objects go to zvpg's superuser, not to their owners (pg_restore --no-owner). */
  noOwner?: boolean;
  /** No GRANT or REVOKE is restored (pg_restore --no-privileges). */
  noPrivileges?: boolean;
}

/** A resolved, preflighted import. */
export interface ImportPlan {
  source: ImportSource;
  mode: ImportMode;
  databases: string[];
  jobs: number;
  /** How the source is named in messages and snapshots (no password). */
  description: string;
  /** What is recorded in ZFS to refresh from later (no password). */
  recorded: string;
  /** The databases named with --database (recorded for refresh; empty: all of them). */
  requested: string[];
  /** pg_restore's `--no-owner` and `--no-privileges` (see {@link ImportRequest}). */
  noOwner: boolean;
  noPrivileges: boolean;
}

/** Where the client is mounted in containers. */
const DUMP_MOUNT = "/run/zvpg-dump";
const SCRATCH_MOUNT = "/run/zvpg-scratch";

/** The environment an import reads its password from (replaceable in tests). */
export type Env = Record<string, string | undefined>;

/** Reads what a path holds, for {@link classifyPath}. */
function pathFacts(path: string): PathFacts {
  const info = statSync(path);
  if (info.isDirectory()) return { isDirectory: true, entries: readdirSync(path) };
  const file = Deno.openSync(path, { read: true });
  try {
    const head = new Uint8Array(512);
    const n = file.readSync(head) ?? 0;
    return { isDirectory: false, head: head.slice(0, n) };
  } finally {
    file.close();
  }
}

/** Resolves a `--from` value into a source; never touches the network. */
export function resolveSource(from: string): ImportSource {
  if (isConnectionString(from)) return parseConnectionString(from);
  let path: string;
  try {
    path = realpathSync(from);
  } catch {
    throw new UsageError(`import source '${redactConnectionString(from)}' does not exist`, {
      hint:
        "pass a postgresql:// URI, 'host=… dbname=…', a dump file or directory, or a data directory",
    });
  }
  return classifyPath(path, pathFacts(path));
}

/** The source password: from the URI, else PGPASSWORD, else a passfile; or undefined. */
export function sourcePassword(source: ServerSource, env: Env): string | undefined {
  if (source.password !== undefined) return source.password;
  if (env.PGPASSWORD) return env.PGPASSWORD;
  const file = env.PGPASSFILE ?? join(env.HOME ?? homedir(), ".pgpass");
  if (!existsSync(file)) return undefined;
  return passwordFromPgpass(
    readFileSync(file, "utf8"),
    effectiveTarget(source, { user: env.PGUSER }),
  );
}

/** One import, under {@link ImportSession.run}: resolved and preflighted, then {@link load}. */
export class ImportSession {
  private constructor(
    private readonly ctx: Context,
    readonly plan: ImportPlan,
    private readonly secrets: ImportSecrets,
    private readonly client: PgClient,
    private readonly progress: ImportProgress,
  ) {}

  /** The objects of a dump archive (from its listing), for progress. */
  private dumpObjects?: number;
  /** The data directory was taken over in place (zero-copy): {@link load} copies nothing. */
  private inPlace = false;

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
    env: Env = Deno.env.toObject(),
  ): Promise<ImportSession> {
    const source = resolveSource(request.from);
    const mode: ImportMode = request.mode ?? "logical";
    if (mode === "physical" && source.kind !== "server") {
      throw new UsageError("--mode physical needs a server source (a postgresql:// URI)", {
        hint: "drop --mode, or pass the server's URI",
      });
    }
    const noOwner = request.noOwner === true;
    const noPrivileges = request.noPrivileges === true;
    const restored = source.kind === "server" ? mode === "logical" : source.kind === "dump" &&
      source.format !== "plain";
    if ((noOwner || noPrivileges) && !restored) {
      throw new UsageError(
        "--no-owner and --no-privileges need a pg_dump archive or a logical copy of a server",
        {
          hint:
            "drop them: a plain SQL dump runs as written (make it with pg_dump --no-owner --no-privileges), a data directory or physical copy is taken whole",
        },
      );
    }
    const jobs = request.jobs ?? Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 2));
    const secrets = new ImportSecrets(owner);
    try {
      const password = source.kind === "server" ? sourcePassword(source, env) : undefined;
      secrets.write(
        "pgpass",
        password === undefined || source.kind !== "server" ? "" : sourcePgpass(source, password),
      );
      const client = new PgClient(ctx, secrets);
      const plan: ImportPlan = {
        source,
        mode,
        databases: request.databases ?? [],
        jobs,
        description: describeSource(source, request.databases),
        recorded: source.kind === "server" ? describeSource(source) : source.path,
        requested: request.databases ?? [],
        noOwner,
        noPrivileges,
      };
      const session = new ImportSession(ctx, plan, secrets, client, new ImportProgress());
      await session.preflight();
      return session;
    } catch (error) {
      secrets.remove();
      throw error;
    }
  }

  /** Marks a phase of the caller's (init env, refresh) in the import's progress. */
  phase(name: string): void {
    this.progress.phase(name);
  }

  /** Removes the private temp dir (the pgpass copy). */
  private close(): void {
    this.secrets.remove();
  }

  /** The preflight: reads the source and the image, and refuses a mismatch. */
  private async preflight(): Promise<void> {
    const { plan } = this;
    this.progress.phase("preflight");
    if (plan.source.kind === "server") {
      // the image and the source are read together; every read finishes before a throw
      const [image, facts] = await settleAll([this.imageFacts(), this.sourceFacts(plan.source)]);
      checkPreflight(plan.mode, facts, image, this.ctx.config.pgBaseImage);
      return;
    }
    const image = await this.imageFacts();
    if (plan.source.kind === "datadir") {
      await this.checkDataDir(plan.source.path, image);
    } else if (plan.source.format !== "plain") {
      const listing = await this.client.check("reading the dump", {
        program: "pg_restore",
        args: ["-l", this.dumpPath()],
        mounts: this.dumpMounts(),
        user: "0:0",
      }, "check that the file is a complete pg_dump archive");
      this.dumpObjects = tocEntryCount(listing);
      if (plan.databases.length === 0) {
        const name = dumpDatabaseName(listing);
        if (name) plan.databases = [name];
      }
    }
  }

  private async imageFacts(): Promise<ImageFacts> {
    const image = this.ctx.config.pgBaseImage;
    const version = this.client.check("reading the image's PostgreSQL version", {
      program: "postgres",
      args: ["--version"],
    }, `check that '${image}' is a PostgreSQL image`);
    version.catch(() => {});
    const major = parseServerVersion(await version);
    if (major === undefined) {
      throw new PreflightError(`cannot read the PostgreSQL version of image '${image}'`, {
        hint: "use a PostgreSQL image with 'postgres' on PATH",
      });
    }
    const [ldd, locales, files] = await settleAll([
      this.client.run({ program: "ldd", args: ["--version"] }),
      this.client.run({ program: "locale", args: ["-a"] }),
      this.client.run({
        program: "find",
        args: [
          "/usr",
          "(",
          "-name",
          "*.control",
          "-o",
          "-name",
          "*.so",
          ")",
          "-path",
          "*postgresql*",
        ],
      }),
    ]);
    return {
      major,
      glibc: parseGlibcVersion(ldd.stdout + ldd.stderr),
      locales: locales.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== ""),
      ...parseImageFiles(files.stdout),
    };
  }

  /** Runs one query on the source through psql in a client container; returns stdout. */
  private async sourceQuery(source: ServerSource, dbname: string | undefined, sql: string) {
    return await this.client.check(
      `connecting to ${describeSource(source)}`,
      {
        program: "psql",
        args: [
          "-X",
          "-w",
          "-At",
          "-v",
          "ON_ERROR_STOP=1",
          "-d",
          conninfo(source, dbname ? { dbname } : {}),
          "-c",
          sql,
        ],
        network: true,
      },
      "check the URI, that the server is reachable and the password (URI, PGPASSWORD or passfile)",
    );
  }

  private async sourceFacts(source: ServerSource): Promise<SourceFacts> {
    const first = source.params.dbname ? undefined : "postgres";
    const raw = JSON.parse(
      await this.sourceQuery(
        source,
        first,
        `SELECT json_build_object('version', current_setting('server_version_num')::int, 'preload', CASE WHEN pg_has_role('pg_read_all_settings', 'MEMBER') THEN current_setting('shared_preload_libraries') ELSE '' END, 'databases', (SELECT json_agg(to_jsonb(d) - 'datacl') FROM pg_database d WHERE datallowconn AND NOT datistemplate))`,
      ),
    ) as { version: number; preload: string; databases: Record<string, string>[] };
    const all = raw.databases.map((d) => String(d.datname));
    const wanted = this.plan.databases.length > 0 ? this.plan.databases : all;
    const unknown = wanted.find((d) => !all.includes(d));
    if (unknown) {
      throw new PreflightError(`the source has no database '${unknown}'`, {
        hint: `name one of: ${all.join(", ")}`,
      });
    }
    this.plan.databases = wanted;
    const extensionLists = await settleAll(wanted.map(async (name) =>
      JSON.parse(
        await this.sourceQuery(
          source,
          name,
          "SELECT coalesce(json_agg(extname), '[]') FROM pg_extension",
        ),
      ) as string[]
    ));
    const databases = wanted.map((name, i) => {
      const d = raw.databases.find((x) => x.datname === name)!;
      return {
        name,
        localeProvider: String(d.datlocprovider ?? "c"),
        collate: String(d.datcollate ?? "C"),
        ctype: String(d.datctype ?? "C"),
        collationVersion: d.datcollversion ? String(d.datcollversion) : undefined,
        extensions: extensionLists[i],
      };
    });
    log.debug(`source is PostgreSQL ${majorOf(raw.version)}`);
    return {
      versionNum: raw.version,
      sharedPreloadLibraries: parseLibraryList(raw.preload ?? ""),
      databases,
    };
  }

  private async checkDataDir(path: string, image: ImageFacts): Promise<void> {
    const major = Number(readFileSync(join(path, "PG_VERSION"), "utf8").trim());
    if (major !== image.major) {
      throw new PreflightError(
        `data directory ${path} is PostgreSQL ${major} but image '${this.ctx.config.pgBaseImage}' has ${image.major}`,
        { hint: `set pgBaseImage to a PostgreSQL ${major} image` },
      );
    }
    if (existsSync(join(path, "postmaster.pid"))) {
      throw new PreflightError(`data directory ${path} has a postmaster.pid: its server may run`, {
        hint: "stop that server cleanly (pg_ctl stop -m fast) first",
      });
    }
    const control = await this.client.check("reading the data directory's control file", {
      program: "pg_controldata",
      args: [CONTAINER_PGDATA],
      mounts: [{ source: path, target: CONTAINER_PGDATA, readonly: true }],
      user: "0:0",
    }, "check that it is a PostgreSQL data directory");
    const state = /Database cluster state:\s*(.+)/.exec(control)?.[1]?.trim() ?? "unknown";
    if (state !== "shut down") {
      throw new PreflightError(`data directory ${path} was not shut down cleanly (${state})`, {
        hint: "start and stop its server cleanly (pg_ctl stop -m fast), then import again",
      });
    }
  }

  private dumpPath(): string {
    const source = this.plan.source;
    if (source.kind !== "dump") throw new Error("not a dump source");
    return source.format === "directory" ? DUMP_MOUNT : `${DUMP_MOUNT}/dump`;
  }

  private dumpMounts() {
    const source = this.plan.source;
    if (source.kind !== "dump") return [];
    return [{
      source: source.path,
      target: source.format === "directory" ? DUMP_MOUNT : `${DUMP_MOUNT}/dump`,
      readonly: true,
    }];
  }

  /**
   * Loads the source into the empty data directory `pgdata` (its parent `workDir` holds
   * scratch space and the loader's socket), setting zvpg's password on its superuser, and
   * leaves it cleanly shut down. `initdb` initialises an empty cluster (logical and dumps).
   * A logical copy dumps the source while the cluster is made and its loader starts. On
   * failure, what it made inside `workDir` is removed; `pgdata` is left for the caller.
   */
  async load(pgdata: string, workDir: string, initdb: () => Promise<void>): Promise<void> {
    const { plan, ctx } = this;
    const owner = this.secrets.owner;
    const scratch = join(workDir, "import-scratch");
    const socketDir = join(workDir, "import-sock");
    const dumps = plan.source.kind === "server" && plan.mode === "logical"
      ? this.startDumps(plan.source, scratch)
      : undefined;
    let loader: LoaderServer | undefined;
    try {
      if (plan.source.kind === "server" && plan.mode === "physical") {
        await this.baseBackup(plan.source, pgdata);
      } else if (plan.source.kind === "datadir") {
        if (this.inPlace) this.scrubCopy(pgdata);
        else await this.copyDataDir(plan.source.path, pgdata);
      } else {
        this.progress.phase("initdb");
        await initdb();
      }
      ensurePrivateDir(socketDir, { owner });
      const fresh = plan.source.kind !== "datadir" && plan.mode !== "physical";
      loader = new LoaderServer(ctx, this.secrets, pgdata, socketDir, fresh);
      this.progress.phase("starting the loader");
      await loader.start();
      const user = ctx.config.postgresUser;
      if (dumps) {
        await this.restoreDumps(dumps, loader);
      } else if (plan.source.kind === "dump") {
        await this.restoreDump(loader, socketDir);
      } else {
        await this.adoptSuperuser(loader);
      }
      const db = ctx.config.postgresDb;
      if (!(await databaseExists(loader, user, db))) {
        await loader.sql(user, "postgres", `CREATE DATABASE ${ident(db)}`);
      }
      this.progress.phase("checkpoint and clean stop");
      await loader.sql(user, "postgres", "CHECKPOINT");
      await loader.stop();
    } catch (error) {
      if (dumps) {
        await this.client.cancelAll();
        await Promise.allSettled([dumps.roles, ...dumps.databases]);
      }
      await loader?.discard();
      throw error;
    } finally {
      rmSync(socketDir, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** Every client reaching the loader runs with its socket mounted, no network. */
  private loaderMount(socketDir: string) {
    return { source: socketDir, target: CONTAINER_SOCKET_DIR };
  }

  /**
   * Starts reading the source: its roles, and each database with `pg_dump -Fd -j N` into
   * `scratch/<i>`, one database after the other. Each promise is marked handled (a failure
   * is seen when the restore awaits it, or by the rollback).
   */
  private startDumps(source: ServerSource, scratch: string): Dumps {
    const { plan } = this;
    ensurePrivateDir(scratch, { owner: this.secrets.owner });
    this.progress.phase(`dumping roles and ${plan.databases.length} database(s)`);
    const roles = this.client.check("pg_dumpall --roles-only", {
      program: "pg_dumpall",
      args: [
        "-w",
        "--roles-only",
        "--no-role-passwords",
        "-d",
        conninfo(source, { dbname: plan.databases[0] ?? "postgres" }),
      ],
      network: true,
    }, "the source role needs to read pg_authid or pg_roles; or import a dump");
    let previous: Promise<unknown> = Promise.resolve();
    const databases = plan.databases.map((db, i) => {
      const dumped = previous.then(() =>
        this.client.check(`pg_dump of database '${db}'`, {
          program: "pg_dump",
          args: [
            "-w",
            "-Fd",
            "-j",
            String(plan.jobs),
            // the dump is read once, right away, from the same disk: compressing it costs
            // more CPU than the bytes it saves
            "-Z",
            "0",
            "-f",
            `${SCRATCH_MOUNT}/${i}`,
            "-d",
            conninfo(source, { dbname: db }),
          ],
          mounts: [{ source: scratch, target: SCRATCH_MOUNT }],
          network: true,
        }, "check the source role's rights on that database")
      );
      previous = dumped;
      return dumped.then(() => {});
    });
    for (const p of [roles, ...databases]) p.catch(() => {});
    return { roles, databases, scratch };
  }

  /** Restores the roles, then each database as soon as its dump is complete. */
  private async restoreDumps(dumps: Dumps, loader: LoaderServer): Promise<void> {
    const { ctx, plan } = this;
    const user = ctx.config.postgresUser;
    const roles = await dumps.roles;
    this.progress.phase("restoring roles");
    const existing = new Set(
      (await loader.sql(user, "postgres", "SELECT rolname FROM pg_roles")).split("\n")
        .filter((l) => l !== ""),
    );
    this.secrets.write("roles.sql", rolesScript(roles, existing));
    await loader.sqlFile(user, "postgres", `${CONTAINER_CONF_DIR}/roles.sql`);
    for (const [i, db] of plan.databases.entries()) {
      this.progress.phase(`dumping database '${db}' (${plan.jobs} jobs)`);
      await dumps.databases[i];
      const exists = await databaseExists(loader, user, db);
      this.progress.phase(`restoring database '${db}' (${plan.jobs} jobs)`);
      await this.client.check(`pg_restore of database '${db}'`, {
        program: "pg_restore",
        args: [
          "--exit-on-error",
          ...this.keepOptions(),
          ...this.verbose(),
          "-j",
          String(plan.jobs),
          "-h",
          CONTAINER_SOCKET_DIR,
          "-U",
          user,
          ...(exists ? ["-d", db] : ["--create", "-d", "postgres"]),
          `${SCRATCH_MOUNT}/${i}`,
        ],
        mounts: [
          { source: dumps.scratch, target: SCRATCH_MOUNT, readonly: true },
          this.loaderMount(loader.socketDir),
        ],
        onStderr: this.objectCounter(),
      }, "nothing was kept; fix the source object named, or import with --database");
      rmSync(join(dumps.scratch, String(i)), { recursive: true, force: true });
    }
  }

  /** pg_restore's options for what the user asked not to keep (owners, privileges). */
  private keepOptions(): string[] {
    return [
      ...(this.plan.noOwner ? ["--no-owner"] : []),
      ...(this.plan.noPrivileges ? ["--no-privileges"] : []),
    ];
  }

  /**
   * Creates the roles the dump names (owners, grantees, policies) that the loader lacks, as
   * NOLOGIN roles without password: a one-database dump holds grants and owners but not
   * the roles (see src/domain/dump_roles.ts). Roles the user asked to drop are not made.
   */
  private async createDumpRoles(loader: LoaderServer): Promise<void> {
    const { ctx, plan } = this;
    const source = plan.source;
    if (source.kind !== "dump") return;
    const script = source.format === "plain"
      // only the lines that can name a role: a plain dump may be gigabytes of rows
      ? await this.grepDump({
        program: "grep",
        args: [
          "-E",
          "^(ALTER |GRANT |REVOKE |SET SESSION AUTHORIZATION |CREATE POLICY |CREATE USER MAPPING |COPY |\\\\\\.$)",
          this.dumpPath(),
        ],
        mounts: this.dumpMounts(),
        user: "0:0",
      })
      : await this.client.check("reading the dump's owners and grants", {
        program: "pg_restore",
        args: ["--schema-only", ...this.keepOptions(), "-f", "-", this.dumpPath()],
        mounts: this.dumpMounts(),
        user: "0:0",
      }, "check that the file is a complete pg_dump archive");
    const named = dumpRoles(script);
    const roles = [
      ...(plan.noOwner ? [] : named.owners),
      ...(plan.noPrivileges ? [] : named.privileges),
      ...named.other,
    ];
    if (roles.length === 0) return;
    const user = ctx.config.postgresUser;
    const existing = new Set(
      (await loader.sql(user, "postgres", "SELECT rolname FROM pg_roles")).split("\n")
        .filter((l) => l !== ""),
    );
    const create = nologinRolesScript(roles, existing);
    if (create === "") return;
    this.progress.phase("creating the roles the dump names");
    this.secrets.write("dump-roles.sql", create);
    await loader.sqlFile(user, "postgres", `${CONTAINER_CONF_DIR}/dump-roles.sql`);
  }

  /** The lines grep finds in the dump (none is not a failure; an unreadable file is). */
  private async grepDump(call: ClientRun): Promise<string> {
    const result = await this.client.run(call);
    if (result.code > 1) {
      throw new ZvpgError(`reading the dump's owners and grants failed: ${firstError(result)}`, {
        hint: "check that the file is readable",
      });
    }
    return result.stdout;
  }

  /** `--verbose` when progress is shown (its lines are what is counted). */
  private verbose(): string[] {
    return this.progress.terminal ? ["--verbose"] : [];
  }

  /** A stderr reader reporting pg_restore's objects done (on a terminal only). */
  private objectCounter(total?: number): ((text: string) => void) | undefined {
    if (!this.progress.terminal) return undefined;
    const counter = new RestoreObjectCounter();
    return (text) => this.progress.objects(counter.feed(text), total);
  }

  private async restoreDump(loader: LoaderServer, socketDir: string) {
    const { ctx, plan } = this;
    const source = plan.source;
    if (source.kind !== "dump") return;
    const user = ctx.config.postgresUser;
    const db = plan.databases[0] ?? ctx.config.postgresDb;
    if (!(await databaseExists(loader, user, db))) {
      await loader.sql(user, "postgres", `CREATE DATABASE ${ident(db)}`);
    }
    this.progress.phase(`restoring the ${source.format} dump into '${db}'`);
    await this.createDumpRoles(loader);
    const mounts = [...this.dumpMounts(), this.loaderMount(socketDir)];
    const hint =
      "nothing was kept; fix the statement named in the dump, or restore into another --database";
    if (source.format === "plain") {
      await this.client.check("restoring the SQL dump", {
        program: "psql",
        args: [
          "-X",
          "-q",
          "-v",
          "ON_ERROR_STOP=1",
          "--single-transaction",
          "-h",
          CONTAINER_SOCKET_DIR,
          "-U",
          user,
          "-d",
          db,
          "-f",
          this.dumpPath(),
        ],
        mounts,
        user: "0:0",
      }, hint);
      return;
    }
    const jobs = source.format === "tar" ? [] : ["-j", String(plan.jobs)];
    await this.client.check("pg_restore of the dump", {
      program: "pg_restore",
      args: [
        "--exit-on-error",
        // owners and grants are kept: the roles they name were made above
        ...this.keepOptions(),
        ...this.verbose(),
        ...jobs,
        "-h",
        CONTAINER_SOCKET_DIR,
        "-U",
        user,
        "-d",
        db,
        this.dumpPath(),
      ],
      mounts,
      user: "0:0",
      onStderr: this.objectCounter(this.dumpObjects),
    }, hint);
  }

  private async baseBackup(source: ServerSource, pgdata: string) {
    this.progress.phase("pg_basebackup");
    await this.client.check("pg_basebackup", {
      program: "pg_basebackup",
      args: [
        ...["-w", "-D", CONTAINER_PGDATA, "-X", "stream", "-c", "fast", "-d", conninfo(source)],
        ...(this.progress.terminal ? ["--progress"] : []),
      ],
      mounts: [{ source: pgdata, target: CONTAINER_PGDATA }],
      network: true,
      onStderr: this.progress.terminal
        ? (text) => {
          const seen = baseBackupProgress(text);
          if (seen) this.progress.bytes(seen.done, seen.total);
        }
        : undefined,
    }, "the source role needs REPLICATION and a pg_hba 'replication' line; max_wal_senders >= 2");
    this.scrubCopy(pgdata);
  }

  private async copyDataDir(path: string, pgdata: string) {
    this.progress.phase("copying the data directory");
    const owner = this.secrets.owner;
    // on a terminal, the bytes copied so far are the copy's size, read once a second
    const total = this.progress.terminal ? treeBytes(path) : 0;
    const timer = this.progress.terminal
      ? setInterval(() => this.progress.bytes(treeBytes(pgdata), total), 1000)
      : undefined;
    try {
      await this.ctx.runner.run("cp", ["-a", "--sparse=always", `${path}/.`, `${pgdata}/`], {
        timeoutMs: 24 * 3600 * 1000,
      });
    } finally {
      clearInterval(timer);
    }
    await this.ctx.runner.run("chown", ["-R", `${owner.uid}:${owner.gid}`, pgdata]);
    this.scrubCopy(pgdata);
  }

  /** Removes from a physical copy what points back at the source (and its credentials). */
  private scrubCopy(pgdata: string) {
    for (const f of ["standby.signal", "recovery.signal", "postmaster.pid", "postmaster.opts"]) {
      rmSync(join(pgdata, f), { force: true });
    }
    const auto = join(pgdata, "postgresql.auto.conf");
    if (existsSync(auto)) {
      const stat = statSync(auto);
      writeFileSync(auto, stripSourceSettings(readFileSync(auto, "utf8")), { mode: 0o600 });
      chownSync(auto, stat.uid, stat.gid);
    }
  }

  /** Sets zvpg's password on the imported superuser (as a SCRAM verifier: never in clear). */
  private async adoptSuperuser(loader: LoaderServer) {
    const { ctx } = this;
    const user = ctx.config.postgresUser;
    const verifier = await scramVerifier(readPassword(ctx.layout.passFile));
    try {
      await loader.sql(
        user,
        "postgres",
        `ALTER ROLE ${ident(user)} WITH SUPERUSER LOGIN PASSWORD ${literal(verifier)}`,
      );
      // a physical copy carries the source's role passwords (as verifiers): none is kept
      await loader.sql(
        user,
        "postgres",
        `DO $$DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_authid WHERE rolpassword IS NOT NULL AND rolname <> ${
          literal(user)
        } LOOP EXECUTE format('ALTER ROLE %I PASSWORD NULL', r.rolname); END LOOP; END$$`,
      );
    } catch (error) {
      throw new ZvpgError(
        `the imported cluster has no superuser '${user}' zvpg can use: ${(error as Error).message}`,
        { hint: "set postgresUser in config.json to the source's superuser, then import again" },
      );
    }
  }
}

/** The bytes of the regular files under `dir` (what a copy of it writes); 0 when unreadable. */
export function treeBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      try {
        if (e.isDirectory) walk(p);
        else if (e.isFile) total += Deno.statSync(p).size;
      } catch {
        // removed while walking
      }
    }
  };
  walk(dir);
  return total;
}

/** The dumps of a logical copy under way (see `startDumps`). */
interface Dumps {
  roles: Promise<string>;
  databases: Promise<void>[];
  scratch: string;
}

/** Whether the loader has database `db`. */
async function databaseExists(loader: LoaderServer, user: string, db: string): Promise<boolean> {
  return (await loader.sql(
    user,
    "postgres",
    `SELECT 1 FROM pg_database WHERE datname = ${literal(db)}`,
  )).trim() !== "";
}

/** A SQL string literal. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL identifier. */
export function ident(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * The roles script of `pg_dumpall --roles-only` without the `CREATE ROLE` of roles the
 * target has already (its superuser): their `ALTER ROLE` still applies.
 */
export function rolesScript(dump: string, existing: Set<string>): string {
  return dump.split("\n").filter((line) => {
    const m = /^CREATE ROLE (.+);$/.exec(line);
    if (!m) return true;
    const name = m[1].startsWith('"') ? m[1].slice(1, -1).replaceAll('""', '"') : m[1];
    return !existing.has(name);
  }).join("\n");
}

/** The script that creates `roles` missing from `existing` as NOLOGIN roles without password. */
export function nologinRolesScript(roles: string[], existing: Set<string>): string {
  return [...new Set(roles)].filter((r) => !existing.has(r))
    .map((r) => `CREATE ROLE ${ident(r)} NOLOGIN;\n`).join("");
}

/**
 * Records where main's data came from (no password) and snapshots it as `import-<time>`
 * with a message naming the source; the caller holds the lock. Returns the snapshot name.
 */
export async function snapshotImport(ctx: Context, plan: ImportPlan): Promise<string> {
  const main = ctx.config.branchDefault;
  await ctx.zfs.set(ctx.layout.dataDataset, {
    [SOURCE_PROPS.source]: plan.recorded,
    [SOURCE_PROPS.sourceMode]: plan.mode,
  });
  // an empty value is refused by the old zfs CLI: no databases named means no property
  if (plan.requested.length > 0) {
    await ctx.zfs.set(ctx.layout.dataDataset, {
      [SOURCE_PROPS.sourceDatabases]: plan.requested.join(","),
    });
  } else {
    await ctx.zfs.inherit(ctx.layout.dataDataset, SOURCE_PROPS.sourceDatabases);
  }
  const { branch, names } = await loadForSnapshot(ctx, "import", main);
  const name = importSnapshotName(ctx.now());
  await takeSnapshot(
    ctx,
    names,
    branch,
    name,
    `imported from ${plan.description}`,
  );
  return name;
}
