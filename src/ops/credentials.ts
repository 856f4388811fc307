/**
 * The pool's PostgreSQL password: made once by `init env` (or `clone`), read by every step
 * that connects (initdb, import, connect, diff and merge), and set on the data a remote
 * sent (a branch of a pulled snapshot, a cloned main).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { ZvpgError } from "../errors.ts";
import { scramVerifier } from "../domain/scram.ts";
import { ident, literal } from "./import/sql.ts";
import { execSql } from "./branch_container.ts";
import type { Context } from "../context.ts";

/** A random password of 32 URL-safe characters. */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** The password stored in a pgpass file written by zvpg. */
export function readPassword(passFile: string): string {
  const line = readFileSync(passFile, "utf8").split("\n").find((l) =>
    l.trim() !== "" && !l.startsWith("#")
  );
  const password = line?.split(":").slice(4).join(":");
  if (!password) {
    throw new ZvpgError(`no password in ${passFile}`, {
      hint: "delete the file and run 'zvpg init env'",
    });
  }
  return password;
}

/**
 * The SQL that makes zvpg's user (`postgresUser`) a superuser that logs in with the
 * pool's password, given as a SCRAM verifier (never in clear): what a data directory made
 * elsewhere (an imported copy, a pulled snapshot) needs before zvpg connects to it. It
 * names a verifier: send it on a client's stdin, never in an argv.
 */
export async function adoptPasswordSql(
  passFile: string,
  user: string,
): Promise<string> {
  const verifier = await scramVerifier(readPassword(passFile));
  return `ALTER ROLE ${ident(user)} WITH SUPERUSER LOGIN PASSWORD ${literal(verifier)}`;
}

/**
 * Sets this pool's password (a SCRAM verifier, never in clear) on zvpg's user of branch
 * `branch`, whose data came from a remote (a branch of a pulled snapshot, a cloned main),
 * over its container's socket (trusted locally): its data directory holds the sender's.
 * The sender's other roles keep theirs. `what` names where the data came from, for the
 * error.
 */
export async function setPoolPassword(
  ctx: Context,
  branch: string,
  container: string,
  what: string,
): Promise<void> {
  const user = ctx.config.postgresUser;
  const sql = await adoptPasswordSql(ctx.layout.passFile, user);
  try {
    await execSql(ctx, branch, container, sql, { database: "postgres" });
  } catch (error) {
    throw new ZvpgError(
      `cannot set this pool's password on '${user}' in ${what}: ${(error as Error).message}`,
      { hint: "set postgresUser in config.json to the sender's superuser, then try again" },
    );
  }
}
