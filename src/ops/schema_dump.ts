/**
 * A database's schema as `pg_dump --schema-only` writes it, run in the branch's own
 * container (the server's version of pg_dump, over its local socket, as the data
 * directory's owner): what a merge is proven with, independently of the diff engine.
 *
 * @module
 */
import { parseSchemaDump, type SchemaDump } from "../domain/schema_proof.ts";
import { CommandFailedError, ZvpgError } from "../errors.ts";
import type { Context } from "../context.ts";
import { execInBranch, localClientArgs } from "./branch_container.ts";

/** A branch whose container runs, and the database to read. */
export interface DumpTarget {
  branch: string;
  container: string;
  database: string;
}

/** How long one schema dump may take (a schema of thousands of objects takes seconds). */
const DUMP_TIMEOUT_MS = 10 * 60 * 1000;

/** The schema of `t.database` on branch `t.branch`, split into its objects. */
export async function dumpSchema(ctx: Context, t: DumpTarget): Promise<SchemaDump> {
  const argv = [
    "pg_dump",
    "--schema-only",
    "--no-password",
    ...localClientArgs(ctx),
    "-d",
    t.database,
  ];
  try {
    const result = await execInBranch(ctx, t.branch, t.container, argv, {
      timeoutMs: DUMP_TIMEOUT_MS,
    });
    return parseSchemaDump(result.stdout);
  } catch (error) {
    if (!(error instanceof CommandFailedError)) throw error;
    const detail = error.stderr.trim().split("\n").pop();
    throw new ZvpgError(
      `could not dump the schema of database '${t.database}' on branch '${t.branch}': ${detail}`,
      { hint: `check that the branch runs ('zvpg branch info ${t.branch}')` },
    );
  }
}
