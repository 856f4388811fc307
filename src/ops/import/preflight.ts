/**
 * The preflight of an import: reads the image and the source, and refuses a mismatch
 * (versions, locales, libraries, extensions; a data directory not shut down cleanly;
 * a dump that cannot be listed) before anything is made. It names the databases a server
 * or dump source holds in the plan.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { settleAll } from "../../runtime/settle_all.ts";
import { log } from "../../runtime/log.ts";
import {
  conninfo,
  type DataDirSource,
  describeSource,
  dumpDatabaseName,
  type DumpSource,
  type ServerSource,
} from "../../domain/import_source.ts";
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
} from "../../domain/import_preflight.ts";
import { tocEntryCount } from "../../domain/restore_progress.ts";
import { CONTAINER_PGDATA } from "../../domain/layout.ts";
import type { ImportRun } from "./source_loader.ts";
import { dumpMounts, dumpPath } from "./source.ts";

/** What the preflight read that the load uses. */
export interface PreflightFacts {
  /** The objects of a dump archive (from its listing), for progress. */
  dumpObjects?: number;
}

/** Reads the source and the image, and refuses a mismatch. */
export async function preflight(run: ImportRun): Promise<PreflightFacts> {
  const { plan } = run;
  run.progress.phase("preflight");
  if (plan.source.kind === "server") {
    // the image and the source are read together; every read finishes before a throw
    const [image, facts] = await settleAll([imageFacts(run), sourceFacts(run, plan.source)]);
    checkPreflight(plan.mode, facts, image, run.ctx.config.pgBaseImage);
    return {};
  }
  const image = await imageFacts(run);
  if (plan.source.kind === "datadir") {
    await checkDataDir(run, plan.source, image);
    return {};
  }
  if (plan.source.format === "plain") return {};
  return await readDumpListing(run, plan.source);
}

async function imageFacts(run: ImportRun): Promise<ImageFacts> {
  const { client } = run;
  const image = run.ctx.config.pgBaseImage;
  const version = client.check("reading the image's PostgreSQL version", {
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
    client.run({ program: "ldd", args: ["--version"] }),
    client.run({ program: "locale", args: ["-a"] }),
    client.run({
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
export async function sourceQuery(
  run: ImportRun,
  source: ServerSource,
  dbname: string | undefined,
  sql: string,
): Promise<string> {
  return await run.client.check(
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

/** The source server's version, libraries and databases; names the databases in the plan. */
async function sourceFacts(run: ImportRun, source: ServerSource): Promise<SourceFacts> {
  const { plan } = run;
  const first = source.params.dbname ? undefined : "postgres";
  const raw = JSON.parse(
    await sourceQuery(
      run,
      source,
      first,
      `SELECT json_build_object('version', current_setting('server_version_num')::int, 'preload', CASE WHEN pg_has_role('pg_read_all_settings', 'MEMBER') THEN current_setting('shared_preload_libraries') ELSE '' END, 'databases', (SELECT json_agg(to_jsonb(d) - 'datacl') FROM pg_database d WHERE datallowconn AND NOT datistemplate))`,
    ),
  ) as { version: number; preload: string; databases: Record<string, string>[] };
  const all = raw.databases.map((d) => String(d.datname));
  const wanted = plan.databases.length > 0 ? plan.databases : all;
  const unknown = wanted.find((d) => !all.includes(d));
  if (unknown) {
    throw new PreflightError(`the source has no database '${unknown}'`, {
      hint: `name one of: ${all.join(", ")}`,
    });
  }
  plan.databases = wanted;
  const extensionLists = await settleAll(wanted.map(async (name) =>
    JSON.parse(
      await sourceQuery(
        run,
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

/** Refuses a data directory of another major version, with a server, or not shut down. */
async function checkDataDir(
  run: ImportRun,
  source: DataDirSource,
  image: ImageFacts,
): Promise<void> {
  const { path } = source;
  const major = Number(readFileSync(join(path, "PG_VERSION"), "utf8").trim());
  if (major !== image.major) {
    throw new PreflightError(
      `data directory ${path} is PostgreSQL ${major} but image '${run.ctx.config.pgBaseImage}' has ${image.major}`,
      { hint: `set pgBaseImage to a PostgreSQL ${major} image` },
    );
  }
  if (existsSync(join(path, "postmaster.pid"))) {
    throw new PreflightError(`data directory ${path} has a postmaster.pid: its server may run`, {
      hint: "stop that server cleanly (pg_ctl stop -m fast) first",
    });
  }
  const control = await run.client.check("reading the data directory's control file", {
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

/** Lists a dump archive: its object count, and the database it holds when none is named. */
async function readDumpListing(run: ImportRun, source: DumpSource): Promise<PreflightFacts> {
  const { plan } = run;
  const listing = await run.client.check("reading the dump", {
    program: "pg_restore",
    args: ["-l", dumpPath(source)],
    mounts: dumpMounts(source),
    user: "0:0",
  }, "check that the file is a complete pg_dump archive");
  if (plan.databases.length === 0) {
    const name = dumpDatabaseName(listing);
    if (name) plan.databases = [name];
  }
  return { dumpObjects: tocEntryCount(listing) };
}
