/**
 * `branch psql`: psql connected to a running branch, on the user's terminal. The host's
 * psql when there is one (it connects over TCP and reads the password from the branch's
 * passfile, named in its environment: never in argv or the environment of a process), else
 * the psql of the branch's own container over its local socket, which needs no password.
 *
 * @module
 */
import type { BranchRecord } from "../domain/inventory.ts";
import type { Connection } from "../domain/connection.ts";
import { CONTAINER_SOCKET_DIR } from "../domain/layout.ts";
import type { Context } from "../context.ts";
import { withSignalsToChild } from "../runtime/interrupt.ts";
import { log } from "../runtime/log.ts";
import { findOnPath } from "../runtime/runner.ts";
import { dataOwner } from "./branch_container.ts";

/** Where psql runs. */
export type PsqlWhere = "host" | "container";

/** Runs psql with `args` on `branch`; returns psql's exit code. Ctrl-C goes to psql. */
export function runPsql(
  ctx: Context,
  branch: BranchRecord,
  connection: Connection,
  args: string[],
  where: PsqlWhere = findOnPath("psql") ? "host" : "container",
): Promise<number> {
  return withSignalsToChild(async () => {
    if (where === "host") {
      const result = await ctx.runner.run("psql", args, {
        interactive: true,
        env: {
          PGHOST: connection.host,
          PGPORT: String(connection.port),
          PGUSER: connection.user,
          PGDATABASE: connection.database,
          PGPASSFILE: connection.passfile,
        },
      });
      return result.code;
    }
    log.debug(`no psql on PATH: running the psql of container ${branch.container!.name}`);
    const owner = dataOwner(ctx, branch.name);
    return await ctx.runtime.execInteractive(
      branch.container!.name,
      `${owner.uid}:${owner.gid}`,
      [
        "psql",
        "-h",
        CONTAINER_SOCKET_DIR,
        "-U",
        connection.user,
        "-d",
        connection.database,
        ...args,
      ],
      { tty: Deno.stdin.isTerminal() && Deno.stdout.isTerminal() },
    );
  });
}
