/**
 * `zvpg init`: env (create what is missing) and check.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InitService } from "../workflows/init_service.ts";
import {
  collectDatabase,
  deviceOption,
  examples,
  formatOption,
  modeOption,
  parseJobs,
  poolSizeOption,
} from "./options.ts";
import { render } from "./render.ts";
import { UsageError } from "../errors.ts";
import type { Session } from "./session.ts";
import { checksView, initEnvView } from "./views.ts";

/** Builds `init`. */
export function initCommand(session: Session) {
  const cmd = new Command("init").description("Initialise the zvpg environment and check it");

  cmd.command("env")
    .description(
      "Create what is missing (pool, datasets, config files, data directory) and start the default branch",
    )
    .addOption(deviceOption())
    .addOption(poolSizeOption())
    .option(
      "--from <source>",
      "import main's data from a postgresql:// URI or 'host=… dbname=…', a pg_dump output or a shut-down data directory",
    )
    .addOption(modeOption())
    .option(
      "--database <name>",
      "copy only this database (repeatable); for a dump, the database to restore into",
      collectDatabase,
    )
    .option(
      "--jobs <n>",
      "parallel jobs of pg_dump and pg_restore (default: cores, at most 4)",
      parseJobs,
    )
    .option("--no-owner", "restore every object as postgresUser's, not its owner's (pg_restore)")
    .option("--no-privileges", "restore no GRANT or REVOKE (pg_restore)")
    .option(
      "--mask <rules>",
      "mask main's data by this rules file: real data only in scratch space (docs/masking.md)",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg init env",
        "zvpg init env --device /dev/nvme1n1",
        "zvpg -c ./zvpg.json init env --pool-size 20G",
        "PGPASSWORD=… zvpg init env --from postgresql://app@db.example:5432/app --jobs 4",
        "zvpg init env --from ./app.dump            # custom, directory, tar or plain SQL",
        "zvpg init env --from postgresql://repl@db.example/postgres --mode physical",
        "PGPASSWORD=… zvpg init env --from postgresql://app@db.example/app --mask masking.json",
      ),
    )
    .action(session.action(async (ctx, options) => {
      if (options.device) ctx.config.zfsPoolDevice = options.device;
      if (options.poolSize) ctx.config.zfsPoolSize = options.poolSize;
      if (options.from === undefined && (options.mode || options.database || options.jobs)) {
        throw new UsageError("--mode, --database and --jobs need --from", {
          hint: "add --from <source>, or drop them",
        });
      }
      if (options.from === undefined && options.mask !== undefined) {
        throw new UsageError("--mask needs --from", {
          hint: "add --from <source>, or drop --mask",
        });
      }
      if (options.from === undefined && (!options.owner || !options.privileges)) {
        throw new UsageError("--no-owner and --no-privileges need --from", {
          hint: "add --from <source>, or drop them",
        });
      }
      const from = options.from === undefined ? undefined : {
        from: options.from,
        mode: options.mode,
        databases: options.database,
        jobs: options.jobs,
        noOwner: !options.owner,
        noPrivileges: !options.privileges,
        maskFile: options.mask,
      };
      return render(await new InitService(ctx).env({ from }), initEnvView, options.format);
    }));

  cmd.command("check")
    .description(
      "Check the environment: zfs, pool, datasets, runtime, image, config, default branch",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg init check",
        `zvpg init check -f json | jq '.checks[] | select(.status != "pass")'`,
      ),
    )
    .action(session.action(async (ctx, options) => {
      return render({ checks: await new InitService(ctx).check() }, checksView, options.format);
    }));
  return cmd;
}
