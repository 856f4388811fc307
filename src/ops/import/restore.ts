/**
 * The steps shared by the loaders that restore into an empty cluster (a logical copy of a
 * server, a dump): the loader's socket mount, pg_restore's options, progress counting.
 *
 * @module
 */
import { RestoreObjectCounter } from "../../domain/restore_progress.ts";
import { CONTAINER_SOCKET_DIR } from "../../domain/layout.ts";
import type { LoaderServer } from "../pg_client.ts";
import type { ImportPlan } from "./plan.ts";
import type { ImportProgress } from "./progress.ts";
import type { ImportRun } from "./source_loader.ts";
import { literal } from "./sql.ts";

/** Every client reaching the loader runs with its socket mounted, no network. */
export function loaderMount(socketDir: string) {
  return { source: socketDir, target: CONTAINER_SOCKET_DIR };
}

/** Whether the loader has database `db`. */
export async function databaseExists(
  loader: LoaderServer,
  user: string,
  db: string,
): Promise<boolean> {
  return (await loader.sql(
    user,
    "postgres",
    `SELECT 1 FROM pg_database WHERE datname = ${literal(db)}`,
  )).trim() !== "";
}

/** The roles the loader has. */
export async function existingRoles(loader: LoaderServer, user: string): Promise<Set<string>> {
  return new Set(
    (await loader.sql(user, "postgres", "SELECT rolname FROM pg_roles")).split("\n")
      .filter((l) => l !== ""),
  );
}

/** pg_restore's options for what the user asked not to keep (owners, privileges). */
export function keepOptions(plan: ImportPlan): string[] {
  return [
    ...(plan.noOwner ? ["--no-owner"] : []),
    ...(plan.noPrivileges ? ["--no-privileges"] : []),
  ];
}

/** `--verbose` when progress is shown (its lines are what is counted). */
export function verbose(progress: ImportProgress): string[] {
  return progress.terminal ? ["--verbose"] : [];
}

/** A stderr reader reporting pg_restore's objects done (on a terminal only). */
export function objectCounter(
  progress: ImportProgress,
  total?: number,
): ((text: string) => void) | undefined {
  if (!progress.terminal) return undefined;
  const counter = new RestoreObjectCounter();
  return (text) => progress.objects(counter.feed(text), total);
}

/**
 * Restores the directory dump `entry` of the host directory `dir` (mounted read-only at
 * `mount` in the client's container) into database `db` of `loader`, creating it when missing, with the plan's jobs; pg_restore stops at its first
 * error, whose line and `hint` make the error. `label` names the database in phases and
 * errors ("database", "masked database").
 */
export async function restoreDirectory(
  run: ImportRun,
  loader: LoaderServer,
  dump: { db: string; dir: string; mount: string; entry: string; extra: string[] },
  label: string,
  hint: string,
): Promise<void> {
  const { plan, progress, ctx } = run;
  const user = ctx.config.postgresUser;
  const { db } = dump;
  const exists = await databaseExists(loader, user, db);
  progress.phase(`restoring ${label} '${db}' (${plan.jobs} jobs)`);
  await run.client.check(`pg_restore of ${label} '${db}'`, {
    program: "pg_restore",
    args: [
      "--exit-on-error",
      ...dump.extra,
      ...verbose(progress),
      "-j",
      String(plan.jobs),
      "-h",
      CONTAINER_SOCKET_DIR,
      "-U",
      user,
      ...(exists ? ["-d", db] : ["--create", "-d", "postgres"]),
      `${dump.mount}/${dump.entry}`,
    ],
    mounts: [
      { source: dump.dir, target: dump.mount, readonly: true },
      loaderMount(loader.socketDir),
    ],
    onStderr: objectCounter(progress),
  }, hint);
}

/**
 * The start of a `pg_dump` argv writing a directory dump to `path` with the plan's jobs,
 * uncompressed (the dump is read once, right away, from the same disk: compressing it
 * costs more CPU than the bytes it saves), never prompting for a password.
 */
export function directoryDumpArgs(plan: ImportPlan, path: string): string[] {
  return ["-w", "-Fd", "-j", String(plan.jobs), "-Z", "0", "-f", path];
}
