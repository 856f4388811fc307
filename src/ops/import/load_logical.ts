/**
 * A logical copy of a server: its roles with `pg_dumpall --roles-only` and each database
 * with `pg_dump -Fd -j N`, dumped while the empty cluster is made and its loader starts,
 * then restored with `pg_restore -j N` as soon as each dump is complete. No role password
 * is copied.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { conninfo, type ServerSource } from "../../domain/import_source.ts";
import { CONTAINER_CONF_DIR } from "../../domain/layout.ts";
import { ensurePrivateDir } from "../../runtime/private_fs.ts";
import type { LoaderServer } from "../pg_client.ts";
import type { ImportRun, SourceLoader } from "./source_loader.ts";
import { directoryDumpArgs, existingRoles, keepOptions, restoreDirectory } from "./restore.ts";
import { rolesScript } from "./sql.ts";

/** Where the scratch space is mounted in client containers. */
const SCRATCH_MOUNT = "/run/zvpg-scratch";

/** The dumps of a logical copy under way (see {@link startDumps}). */
interface Dumps {
  roles: Promise<string>;
  databases: Promise<void>[];
  scratch: string;
}

/** Loads `source` by a logical copy, its dumps in `scratch` (removed by the session). */
export function loadLogical(run: ImportRun, source: ServerSource, scratch: string): SourceLoader {
  let dumps: Dumps | undefined;
  return {
    fresh: true,
    begin: () => {
      dumps = startDumps(run, source, scratch);
    },
    make: async (_pgdata, initdb) => {
      run.progress.phase("initdb");
      await initdb();
    },
    load: async (loader) => await restoreDumps(run, dumps!, loader),
    cancel: async () => {
      if (!dumps) return;
      await run.client.cancelAll();
      await Promise.allSettled([dumps.roles, ...dumps.databases]);
    },
  };
}

/**
 * Starts reading the source: its roles, and each database with `pg_dump -Fd -j N` into
 * `scratch/<i>`, one database after the other. Each promise is marked handled (a failure
 * is seen when the restore awaits it, or by the rollback).
 */
function startDumps(run: ImportRun, source: ServerSource, scratch: string): Dumps {
  const { plan, client } = run;
  ensurePrivateDir(scratch, { owner: run.secrets.owner });
  run.progress.phase(`dumping roles and ${plan.databases.length} database(s)`);
  const roles = client.check("pg_dumpall --roles-only", {
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
      client.check(`pg_dump of database '${db}'`, {
        program: "pg_dump",
        args: [
          ...directoryDumpArgs(plan, `${SCRATCH_MOUNT}/${i}`),
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
async function restoreDumps(run: ImportRun, dumps: Dumps, loader: LoaderServer): Promise<void> {
  const { ctx, plan, progress } = run;
  const user = ctx.config.postgresUser;
  const roles = await dumps.roles;
  progress.phase("restoring roles");
  const existing = await existingRoles(loader, user);
  run.secrets.write("roles.sql", rolesScript(roles, existing));
  await loader.sqlFile(user, "postgres", `${CONTAINER_CONF_DIR}/roles.sql`);
  for (const [i, db] of plan.databases.entries()) {
    progress.phase(`dumping database '${db}' (${plan.jobs} jobs)`);
    await dumps.databases[i];
    await restoreDirectory(
      run,
      loader,
      { db, dir: dumps.scratch, mount: SCRATCH_MOUNT, entry: String(i), extra: keepOptions(plan) },
      "database",
      "nothing was kept; fix the source object named, or import with --database",
    );
    rmSync(join(dumps.scratch, String(i)), { recursive: true, force: true });
  }
}
