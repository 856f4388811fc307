/**
 * A pg_dump output on the host, restored into an empty cluster: a plain SQL dump with
 * `psql --single-transaction`, an archive with `pg_restore` (`-j N` but for tar). The roles
 * the dump names but does not hold are made first, as NOLOGIN roles without password.
 *
 * @module
 */
import { ZvpgError } from "../../errors.ts";
import type { DumpSource } from "../../domain/import_source.ts";
import { dumpRoles } from "../../domain/dump_roles.ts";
import { CONTAINER_CONF_DIR, CONTAINER_SOCKET_DIR } from "../../domain/layout.ts";
import { type ClientRun, firstError, type LoaderServer } from "../pg_client.ts";
import type { ImportRun, SourceLoader } from "./source_loader.ts";
import { dumpMounts, dumpPath } from "./source.ts";
import {
  databaseExists,
  existingRoles,
  keepOptions,
  loaderMount,
  objectCounter,
  verbose,
} from "./restore.ts";
import { ident, nologinRolesScript } from "./sql.ts";

/** Loads the dump `source`; `objects` is its archive's object count, for progress. */
export function loadDump(run: ImportRun, source: DumpSource, objects?: number): SourceLoader {
  return {
    fresh: true,
    make: async (_pgdata, initdb) => {
      run.progress.phase("initdb");
      await initdb();
    },
    load: async (loader, socketDir) => await restoreDump(run, source, loader, socketDir, objects),
  };
}

async function restoreDump(
  run: ImportRun,
  source: DumpSource,
  loader: LoaderServer,
  socketDir: string,
  objects: number | undefined,
): Promise<void> {
  const { ctx, plan, progress } = run;
  const user = ctx.config.postgresUser;
  const db = plan.databases[0] ?? ctx.config.postgresDb;
  if (!(await databaseExists(loader, user, db))) {
    await loader.sql(user, "postgres", `CREATE DATABASE ${ident(db)}`);
  }
  progress.phase(`restoring the ${source.format} dump into '${db}'`);
  await createDumpRoles(run, source, loader);
  const mounts = [...dumpMounts(source), loaderMount(socketDir)];
  const hint =
    "nothing was kept; fix the statement named in the dump, or restore into another --database";
  if (source.format === "plain") {
    await run.client.check("restoring the SQL dump", {
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
        dumpPath(source),
      ],
      mounts,
      user: "0:0",
    }, hint);
    return;
  }
  const jobs = source.format === "tar" ? [] : ["-j", String(plan.jobs)];
  await run.client.check("pg_restore of the dump", {
    program: "pg_restore",
    args: [
      "--exit-on-error",
      // owners and grants are kept: the roles they name were made above
      ...keepOptions(plan),
      ...verbose(progress),
      ...jobs,
      "-h",
      CONTAINER_SOCKET_DIR,
      "-U",
      user,
      "-d",
      db,
      dumpPath(source),
    ],
    mounts,
    user: "0:0",
    onStderr: objectCounter(progress, objects),
  }, hint);
}

/**
 * Creates the roles the dump names (owners, grantees, policies) that the loader lacks, as
 * NOLOGIN roles without password: a one-database dump holds grants and owners but not
 * the roles (see src/domain/dump_roles.ts). Roles the user asked to drop are not made.
 */
async function createDumpRoles(
  run: ImportRun,
  source: DumpSource,
  loader: LoaderServer,
): Promise<void> {
  const { ctx, plan } = run;
  const script = source.format === "plain"
    // only the lines that can name a role: a plain dump may be gigabytes of rows
    ? await grepDump(run, {
      program: "grep",
      args: [
        "-E",
        "^(ALTER |GRANT |REVOKE |SET SESSION AUTHORIZATION |CREATE POLICY |CREATE USER MAPPING |COPY |\\\\\\.$)",
        dumpPath(source),
      ],
      mounts: dumpMounts(source),
      user: "0:0",
    })
    : await run.client.check("reading the dump's owners and grants", {
      program: "pg_restore",
      args: ["--schema-only", ...keepOptions(plan), "-f", "-", dumpPath(source)],
      mounts: dumpMounts(source),
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
  const existing = await existingRoles(loader, user);
  const create = nologinRolesScript(roles, existing);
  if (create === "") return;
  run.progress.phase("creating the roles the dump names");
  run.secrets.write("dump-roles.sql", create);
  await loader.sqlFile(user, "postgres", `${CONTAINER_CONF_DIR}/dump-roles.sql`);
}

/** The lines grep finds in the dump (none is not a failure; an unreadable file is). */
async function grepDump(run: ImportRun, call: ClientRun): Promise<string> {
  const result = await run.client.run(call);
  if (result.code > 1) {
    throw new ZvpgError(`reading the dump's owners and grants failed: ${firstError(result)}`, {
      hint: "check that the file is readable",
    });
  }
  return result.stdout;
}
