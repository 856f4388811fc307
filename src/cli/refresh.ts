/**
 * `zvpg refresh`: main switched to a new copy of its source, on the same port.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { RefreshService } from "../workflows/refresh_service.ts";
import { collectDatabase, examples, formatOption, modeOption, parseJobs } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { refreshView } from "./views.ts";

/** Builds `refresh`. */
export function refreshCommand(session: Session) {
  return new Command("refresh")
    .description(
      "Load a new copy of main's source beside it, then switch main to it (same port, password and URI)",
    )
    .option("--from <source>", "a new source (default: the one main was imported from)")
    .addOption(modeOption())
    .option(
      "--database <name>",
      "copy only this database (repeatable); for a dump, the database to restore into",
      collectDatabase,
    )
    .option("--jobs <n>", "parallel jobs of pg_dump and pg_restore", parseJobs)
    .option("--no-owner", "restore every object as postgresUser's, not its owner's (pg_restore)")
    .option("--no-privileges", "restore no GRANT or REVOKE (pg_restore)")
    .option(
      "--mask <rules>",
      "mask the copy by this rules file (docs/masking.md; default: the rules main was masked by)",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "PGPASSWORD=… zvpg refresh",
        "zvpg refresh --from ./nightly.dump -f json",
        "zvpg refresh --mask ./masking.json",
      ),
    )
    .action(session.action(async (ctx, options) => {
      const result = await new RefreshService(ctx).refresh({
        from: options.from,
        mode: options.mode,
        databases: options.database,
        jobs: options.jobs,
        noOwner: !options.owner,
        noPrivileges: !options.privileges,
        maskFile: options.mask,
      });
      return render(result, refreshView, options.format);
    }));
}
