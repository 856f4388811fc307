/**
 * A masked import (docs/masking.md): the real data is loaded into a scratch dataset outside
 * the branch tree (never snapshotted, cloned or sent), masked there by the rules, then
 * copied logically (pg_dump, pg_restore) into main's new data directory, which never holds
 * a real value; the scratch is destroyed however the import ends. The rules are checked
 * against the source's schema before anything is made (a server source), and against the
 * loaded copy again before a row is masked.
 *
 * @module
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../../context.ts";
import { ZvpgError } from "../../errors.ts";
import { CONTAINER_CONF_DIR, CONTAINER_SOCKET_DIR, PROPS } from "../../domain/layout.ts";
import {
  checkMaskRules,
  parseSchemaFacts,
  planDatabaseMask,
  SCHEMA_QUERY,
  type SchemaFacts,
  withoutValues,
} from "../../domain/mask_plan.ts";
import type { ServerSource } from "../../domain/import_source.ts";
import { faultPoint } from "../../runtime/fault.ts";
import { shielded } from "../../runtime/interrupt.ts";
import { log } from "../../runtime/log.ts";
import { ensurePrivateDir, writePrivateFile } from "../../runtime/private_fs.ts";
import type { LoaderServer } from "../pg_client.ts";
import { operationAlive } from "../operation_alive.ts";
import { sourceQuery } from "./preflight.ts";
import { directoryDumpArgs, existingRoles, loaderMount, restoreDirectory } from "./restore.ts";
import type { ImportRun, SourceLoader } from "./source_loader.ts";
import { rolesScript } from "./sql.ts";
import type { MaskJob } from "./mask_job.ts";

/** The host's masking key (hex), made once (0600, zvpg's uid only). */
export function maskKey(ctx: Context): string {
  const file = ctx.layout.maskKeyFile;
  if (existsSync(file)) {
    const key = readFileSync(file, "utf8").trim();
    if (/^[0-9a-f]{64}$/.test(key)) return key;
    throw new ZvpgError(`the masking key ${file} is not 64 hex digits`, {
      hint: "restore it from a backup (the fakes change with it), or delete it to make a new one",
    });
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const key = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  ensurePrivateDir(ctx.config.configDir, { fixExisting: false });
  writePrivateFile(file, `${key}\n`);
  return key;
}

/** Checks the rules against the source server's schema; throws naming every problem. */
export async function checkSourceMask(
  run: ImportRun,
  source: ServerSource,
  job: MaskJob,
): Promise<void> {
  run.progress.phase("checking the masking rules against the source");
  const schemas: Record<string, SchemaFacts> = {};
  for (const db of run.plan.databases) {
    schemas[db] = parseSchemaFacts(await sourceQuery(run, source, db, SCHEMA_QUERY));
  }
  checkMaskRules(job.rules, schemas, job.file);
}

/** The scratch dataset of a masked import, made for this run (see {@link withScratch}). */
export interface Scratch {
  dataset: string;
  mount: string;
}

/**
 * Runs `body` with a new scratch dataset (0700), destroyed afterwards whatever happens,
 * Ctrl-C included. A scratch a killed zvpg left behind is destroyed first; one a live zvpg
 * uses is refused.
 */
export async function withScratch<T>(
  ctx: Context,
  body: (scratch: Scratch) => Promise<T>,
): Promise<T> {
  const { zfs, layout } = ctx;
  const scratch = { dataset: layout.maskScratchDataset, mount: layout.maskScratchMount };
  if (await zfs.exists(scratch.dataset)) {
    const pid = Number((await zfs.userProps(scratch.dataset))?.[PROPS.pid] ?? "");
    if (Number.isInteger(pid) && pid > 0 && pid !== Deno.pid && operationAlive(pid)) {
      throw new ZvpgError(`zvpg (pid ${pid}) is running a masked import on this pool`, {
        hint: "wait for it to end",
      });
    }
    log.info(`removing the scratch of an interrupted masked import (${scratch.dataset})`);
    await zfs.destroy(scratch.dataset, { recursive: true }).catch((error) => {
      throw new ZvpgError(
        `cannot remove the scratch of an interrupted masked import (${scratch.dataset}): ${
          (error as Error).message
        }`,
        {
          hint:
            `run 'zvpg status health --repair' (its loader container may still hold it), then 'zfs destroy -r ${scratch.dataset}'`,
        },
      );
    });
  }
  try {
    await zfs.create(scratch.dataset, {
      mountpoint: scratch.mount,
      atime: "off",
      [PROPS.pid]: String(Deno.pid),
    });
    ensurePrivateDir(scratch.mount);
    return await body(scratch);
  } finally {
    await shielded(async () => {
      if (await zfs.exists(scratch.dataset)) {
        await zfs.destroy(scratch.dataset, { recursive: true });
      }
      rmSync(scratch.mount, { recursive: true, force: true });
    }).catch((error) =>
      log.warn(
        `could not destroy the masking scratch ${scratch.dataset}: ${(error as Error).message}` +
          ` — run 'zfs destroy -r ${scratch.dataset}'`,
      )
    );
  }
}

/**
 * Masks the loaded copy served by `scratch` (its schema checked against the rules again,
 * the key in a temporary function of each database's session).
 */
export async function maskScratch(
  run: ImportRun,
  scratch: LoaderServer,
  job: MaskJob,
): Promise<void> {
  const { ctx, plan, progress } = run;
  const user = ctx.config.postgresUser;
  const schemas: Record<string, SchemaFacts> = {};
  for (const db of plan.databases) {
    schemas[db] = parseSchemaFacts(await scratch.sql(user, db, SCHEMA_QUERY));
  }
  checkMaskRules(job.rules, schemas, job.file);
  const key = maskKey(ctx);
  for (const db of plan.databases) {
    progress.phase(`masking database '${db}'`);
    const masked = planDatabaseMask(job.rules, db, schemas[db], key);
    try {
      await scratch.sql(user, db, masked.statements.map((s) => `${s};`).join("\n"));
    } catch (error) {
      // what PostgreSQL says about a row may quote a real value: never shown
      throw new ZvpgError(
        `masking database '${db}' failed: ${withoutValues((error as Error).message)}`,
        {
          hint:
            `check the SQL and type of the rules of '${db}' in ${job.file} (values the error quoted are left out); nothing was kept`,
        },
      );
    }
    faultPoint("mask.after-mask");
  }
}

/** Where the masked dumps are mounted in client containers. */
const DUMP_MOUNT = "/run/zvpg-masked";

/**
 * Loads main's empty data directory from the masked copy `scratch` serves: its roles, then
 * each database with pg_dump into `dumpDir` (in the scratch dataset) and pg_restore.
 */
export function loadMaskedCopy(
  run: ImportRun,
  scratch: LoaderServer,
  dumpDir: string,
): SourceLoader {
  const { ctx, plan, progress, client } = run;
  const user = ctx.config.postgresUser;
  return {
    fresh: true,
    make: async (_pgdata, initdb) => {
      progress.phase("initdb of main's new data");
      await initdb();
    },
    load: async (loader) => {
      ensurePrivateDir(dumpDir, { owner: run.secrets.owner });
      progress.phase("copying the masked roles");
      const roles = await client.check("pg_dumpall --roles-only of the masked copy", {
        program: "pg_dumpall",
        args: ["-w", "--roles-only", "--no-role-passwords", "-h", CONTAINER_SOCKET_DIR, "-U", user],
        mounts: [loaderMount(scratch.socketDir)],
      }, "nothing was kept; run again");
      const existing = await existingRoles(loader, user);
      run.secrets.write("roles.sql", rolesScript(roles, existing));
      await loader.sqlFile(user, "postgres", `${CONTAINER_CONF_DIR}/roles.sql`);
      for (const [i, db] of plan.databases.entries()) {
        progress.phase(`dumping masked database '${db}' (${plan.jobs} jobs)`);
        await client.check(`pg_dump of masked database '${db}'`, {
          program: "pg_dump",
          args: [
            ...directoryDumpArgs(plan, `${DUMP_MOUNT}/${i}`),
            // large objects have no rules: they are not copied (docs/masking.md)
            "-B",
            "-h",
            CONTAINER_SOCKET_DIR,
            "-U",
            user,
            "-d",
            db,
          ],
          mounts: [{ source: dumpDir, target: DUMP_MOUNT }, loaderMount(scratch.socketDir)],
        }, "nothing was kept; run again");
        await restoreDirectory(
          run,
          loader,
          { db, dir: dumpDir, mount: DUMP_MOUNT, entry: String(i), extra: [] },
          "masked database",
          "nothing was kept; a unique index or foreign key broken by a rule is named above",
        );
        rmSync(join(dumpDir, String(i)), { recursive: true, force: true });
      }
    },
    cancel: async () => await client.cancelAll(),
  };
}
