/**
 * `zvpg init`: env (create what is missing) and check.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InitService } from "../services/init_service.ts";
import { contextFor } from "./common.ts";
import { formatOption, printChecks, printJson } from "./output.ts";

/** Builds `init`. */
export function initCommand(): Command {
  const cmd = new Command("init").description("Initialise the zvpg environment and check it");

  cmd.command("env")
    .description(
      "Create what is missing (pool, datasets, config files, data directory) and start the default branch",
    )
    .option(
      "--device <path>",
      "create the pool on this device or file instead of a sparse file (sets zfsPoolDevice)",
    )
    .option(
      "--pool-size <size>",
      "size of the sparse file of a new file-backed pool, e.g. 20G (sets zfsPoolSize)",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg init env\n  zvpg init env --device /dev/nvme1n1\n  zvpg -c ./zvpg.json init env --pool-size 20G",
    )
    .action(async (options, command) => {
      const ctx = contextFor(command);
      if (options.device) ctx.config.zfsPoolDevice = options.device;
      if (options.poolSize) {
        if (!/^[1-9][0-9]*[KMGT]?$/.test(options.poolSize)) {
          const { UsageError } = await import("../errors.ts");
          throw new UsageError(
            `invalid --pool-size '${options.poolSize}': use a size such as 10G or 512M`,
          );
        }
        ctx.config.zfsPoolSize = options.poolSize;
      }
      const steps = await new InitService(ctx).env();
      const changed = steps.filter((s) => s.changed).length;
      if (options.format === "json") return printJson({ changed: changed > 0, steps });
      console.log(
        changed === 0
          ? "Nothing to do: the environment is already initialised."
          : `Initialised: ${changed} change(s) made.`,
      );
    });

  cmd.command("check")
    .description(
      "Check the environment: zfs, pool, datasets, runtime, image, config, default branch",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg init check\n  zvpg init check -f json | jq '.checks[] | select(.status != \"pass\")'",
    )
    .action(async (options, command) => {
      const ctx = contextFor(command);
      printChecks(await new InitService(ctx).check(), options.format);
    });
  return cmd as unknown as Command;
}
