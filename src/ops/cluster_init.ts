/**
 * Initialising a PostgreSQL cluster in the image: the image's `postgres` user, an empty
 * data directory it owns, and initdb with zvpg's user and password. `init env` makes the
 * default branch's data with it; an import or a refresh the directory it loads into.
 *
 * @module
 */
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ZvpgError } from "../errors.ts";
import { CONTAINER_PGDATA } from "../domain/layout.ts";
import type { Context } from "../context.ts";
import { log } from "../runtime/log.ts";
import { readPassword } from "./credentials.ts";

/** The uid and gid a data directory belongs to (the image's `postgres` user). */
export type Owner = { uid: number; gid: number };

/** The uid and gid of `id <user>` output (`uid=999(postgres) gid=999(postgres) …`). */
export function parseIdOutput(text: string): { uid: number; gid: number } | undefined {
  const m = /uid=(\d+)\S* gid=(\d+)/.exec(text);
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : undefined;
}

/** uid and gid of the image's `postgres` user (one container: `id postgres`). */
export async function imagePostgresUser(ctx: Context): Promise<Owner> {
  const r = await ctx.runtime.runToCompletion({
    image: ctx.config.pgBaseImage,
    user: "0:0",
    entrypoint: "id",
    args: ["postgres"],
  }, 120_000);
  const ids = r.code === 0 ? parseIdOutput(r.stdout) : undefined;
  if (!ids) {
    throw new ZvpgError(
      `image '${ctx.config.pgBaseImage}' has no 'postgres' user: ${(r.stderr || r.stdout).trim()}`,
      { hint: "use a PostgreSQL image whose server runs as user 'postgres'" },
    );
  }
  return ids;
}

/** Makes `pgdata` (0700, owned by the image's postgres user), empty. */
export function emptyDataDirectory(pgdata: string, owner: Owner): void {
  mkdirSync(pgdata, { recursive: true });
  chownSync(pgdata, owner.uid, owner.gid);
  chmodSync(pgdata, 0o700);
}

/**
 * Runs initdb in the image on the empty `pgdata`, with zvpg's user and password. An
 * import passes `sync: false` (`initdb --no-sync`): its loader ends with a CHECKPOINT and
 * the dataset is snapshotted, which commits every block to disk anyway.
 */
export async function initdb(
  ctx: Context,
  pgdata: string,
  owner: Owner,
  options: { sync?: boolean } = {},
): Promise<void> {
  const { layout, config, runtime } = ctx;
  emptyDataDirectory(pgdata, owner);
  const secretDir = mkdtempSync(join(layout.runtimeDir(config.branchDefault) + "-init-"));
  try {
    chmodSync(secretDir, 0o700);
    chownSync(secretDir, owner.uid, owner.gid);
    const pwfile = join(secretDir, "pwfile");
    writeFileSync(pwfile, readPassword(layout.passFile) + "\n", { mode: 0o600 });
    chownSync(pwfile, owner.uid, owner.gid);
    log.info(`running initdb in ${config.pgBaseImage} as uid ${owner.uid}…`);
    const result = await runtime.runToCompletion({
      image: config.pgBaseImage,
      user: `${owner.uid}:${owner.gid}`,
      mounts: [
        { source: pgdata, target: CONTAINER_PGDATA },
        { source: secretDir, target: "/run/zvpg-init", readonly: true },
      ],
      entrypoint: "initdb",
      args: [
        "-D",
        CONTAINER_PGDATA,
        "-U",
        config.postgresUser,
        "--pwfile=/run/zvpg-init/pwfile",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--data-checksums",
        ...(options.sync === false ? ["--no-sync"] : []),
      ],
    }, 300_000);
    if (result.code !== 0) {
      for (const entry of readdirSync(pgdata)) {
        rmSync(join(pgdata, entry), { recursive: true, force: true });
      }
      const lines = (result.stderr || result.stdout).trim().split("\n").slice(-3).join(" | ");
      throw new ZvpgError(`initdb failed in image ${config.pgBaseImage}: ${lines}`, {
        hint: "check that the image is a PostgreSQL image with initdb on PATH",
      });
    }
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
}
