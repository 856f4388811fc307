/**
 * A physical copy of a server with `pg_basebackup`, and the steps every copy of a whole
 * cluster takes (a data directory's too, see load_datadir.ts): what points back at the
 * source is removed, zvpg's password is set on its superuser and no other role keeps one.
 *
 * @module
 */
import { chownSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ZvpgError } from "../../errors.ts";
import { conninfo, type ServerSource, stripSourceSettings } from "../../domain/import_source.ts";
import { baseBackupProgress } from "../../domain/restore_progress.ts";
import { CONTAINER_PGDATA } from "../../domain/layout.ts";
import type { Context } from "../../context.ts";
import { adoptPasswordSql } from "../credentials.ts";
import type { LoaderServer } from "../pg_client.ts";
import type { ImportRun, SourceLoader } from "./source_loader.ts";
import { literal } from "./sql.ts";

/** Loads `source` by a physical copy of its whole cluster. */
export function loadPhysical(run: ImportRun, source: ServerSource): SourceLoader {
  return {
    fresh: false,
    make: async (pgdata) => await baseBackup(run, source, pgdata),
    load: async (loader) => await adoptSuperuser(run.ctx, loader),
  };
}

async function baseBackup(run: ImportRun, source: ServerSource, pgdata: string): Promise<void> {
  const { progress } = run;
  progress.phase("pg_basebackup");
  await run.client.check("pg_basebackup", {
    program: "pg_basebackup",
    args: [
      ...["-w", "-D", CONTAINER_PGDATA, "-X", "stream", "-c", "fast", "-d", conninfo(source)],
      ...(progress.terminal ? ["--progress"] : []),
    ],
    mounts: [{ source: pgdata, target: CONTAINER_PGDATA }],
    network: true,
    onStderr: progress.terminal
      ? (text) => {
        const seen = baseBackupProgress(text);
        if (seen) progress.bytes(seen.done, seen.total);
      }
      : undefined,
  }, "the source role needs REPLICATION and a pg_hba 'replication' line; max_wal_senders >= 2");
  scrubCopy(pgdata);
}

/** Removes from a physical copy what points back at the source (and its credentials). */
export function scrubCopy(pgdata: string): void {
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

/** Sets zvpg's password on the copy's superuser (as a SCRAM verifier: never in clear). */
export async function adoptSuperuser(ctx: Context, loader: LoaderServer): Promise<void> {
  const user = ctx.config.postgresUser;
  const adopt = await adoptPasswordSql(ctx.layout.passFile, user);
  try {
    await loader.sql(user, "postgres", adopt);
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
