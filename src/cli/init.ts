/**
 * `zvpg init`: env (create what is missing) and check.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InitService } from "../workflows/init_service.ts";
import { examples, formatOption, parsePoolSize } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { checksView, initEnvView } from "./views.ts";

/** Builds `init`. */
export function initCommand(session: Session) {
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
      parsePoolSize,
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg init env",
        "zvpg init env --device /dev/nvme1n1",
        "zvpg -c ./zvpg.json init env --pool-size 20G",
      ),
    )
    .action(session.action(async (ctx, options) => {
      if (options.device) ctx.config.zfsPoolDevice = options.device;
      if (options.poolSize) ctx.config.zfsPoolSize = options.poolSize;
      return render(await new InitService(ctx).env(), initEnvView, options.format);
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
