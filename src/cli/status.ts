/**
 * `zvpg status`: system (the default), branches, snapshots, health [--repair].
 *
 * @module
 */
import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { UsageError } from "../errors.ts";
import { StatusService } from "../workflows/status_service.ts";
import { examples, formatOption } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { checksView, snapshotListView, statusBranchesView, systemView } from "./views.ts";

export { repairLine } from "./views.ts";

/**
 * `status` runs `system` by default, so commander hands any unknown word to `system` as an
 * argument. Named explicitly (`status system x`) that is too many arguments; otherwise it
 * was meant as a command: an unknown one.
 */
function refuseExtraArguments(status: CommandUnknownOpts, system: CommandUnknownOpts): void {
  const extra = system.args;
  if (extra.length === 0) return;
  if (status.args[0] === "system") {
    throw new UsageError(`too many arguments for 'system': ${extra.join(" ")}`, {
      hint: "run 'zvpg status system --help'",
    });
  }
  const commands = status.commands.map((c) => c.name()).filter((n) => n !== "help");
  throw new UsageError(`unknown command '${extra[0]}' for 'zvpg status'`, {
    hint: `use one of: ${commands.join(", ")}`,
  });
}

/** Builds `status`. */
export function statusCommand(session: Session) {
  const cmd = new Command("status")
    .description("Show the state of the whole system (default: status system)");

  cmd.command("system", { isDefault: true })
    .description(
      "Pool health and space, zvpg space, branch and snapshot counts, runtime, image, version",
    )
    .addOption(formatOption())
    // `status bogus` arrives here as the default command's argument: refused in the action
    .allowExcessArguments()
    .addHelpText(
      "after",
      examples("zvpg status system", "zvpg status system -f json | jq .space"),
    )
    .action(session.action(async (ctx, options, command) => {
      refuseExtraArguments(cmd, command);
      return render(await new StatusService(ctx).system(), systemView, options.format);
    }));

  cmd.command("branches")
    .description(
      "Every branch: status, port, whether PostgreSQL accepts connections, parent, origin, space",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg status branches",
        "zvpg status branches -f json | jq '.[] | select(.ready == false)'",
      ),
    )
    .action(session.action(async (ctx, options) => {
      const rows = await new StatusService(ctx).branches();
      return render(rows, statusBranchesView(ctx), options.format);
    }));

  cmd.command("snapshots")
    .description("Every snapshot: branch, time, space, dependent branches, message")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg status snapshots",
        "zvpg status snapshots -f json | jq 'map(.used) | add'",
      ),
    )
    .action(session.action(async (ctx, options) => {
      return render(await new StatusService(ctx).snapshots(), snapshotListView, options.format);
    }));

  cmd.command("health")
    .description("Health checks (pass/warn/fail with a fix hint); exit 1 when any fails")
    .option(
      "--repair",
      "fix drift: roll back interrupted creates, finish interrupted deletes, remove orphan containers, restart dead branches",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg status health",
        "zvpg status health --repair",
        `zvpg status health -f json | jq '.checks[] | select(.status == "fail")'`,
      ),
    )
    .action(session.action(async (ctx, options) => {
      const service = new StatusService(ctx);
      const repairs = options.repair ? await service.repair() : undefined;
      const checks = await service.health();
      return render({ checks, repairs }, checksView, options.format);
    }));
  return cmd;
}
