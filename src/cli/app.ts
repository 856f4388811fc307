/**
 * The command tree.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../version.ts";
import { branchCommand } from "./branch.ts";
import { initCommand } from "./init.ts";
import { snapshotCommand } from "./snapshot.ts";
import { statusCommand } from "./status.ts";

/** Builds the `zvpg` program with every command. */
export function buildProgram(): Command {
  const program = new Command("zvpg")
    .description(
      "Git-like snapshots and branches of PostgreSQL on ZFS, each branch in its own container",
    )
    .version(VERSION, "-V, --version", "print the zvpg version")
    .option(
      "-c, --config <config>",
      "configuration file (default: $ZVPG_CONFIG_DIR/config.json or ~/.zvpg/config.json)",
    )
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => Deno.stdout.writeSync(new TextEncoder().encode(s)) })
    .addHelpText(
      "after",
      `
Examples:
  zvpg init env                                   # pool, datasets, config, running 'main'
  zvpg snapshot create baseline -m "Initial state"
  zvpg branch create feature/auth --from baseline
  zvpg branch info feature/auth                   # port and connection URI
  zvpg branch list -f json | jq .
  zvpg status health

Environment:
  ZVPG_CONFIG_DIR          config directory (default ~/.zvpg)
  ZVPG_LOG_LEVEL           DEBUG, INFO, WARN or ERROR
  ZVPG_CONTAINER_RUNTIME   docker, podman or nerdctl`,
    );
  program.addCommand(initCommand());
  program.addCommand(snapshotCommand("snapshot"));
  program.addCommand(snapshotCommand("commit"));
  program.addCommand(branchCommand());
  program.addCommand(statusCommand());
  for (const command of allCommands(program)) command.exitOverride();
  return program as unknown as Command;
}

function* allCommands(command: Command): Generator<Command> {
  for (const sub of command.commands as Command[]) {
    yield sub;
    yield* allCommands(sub);
  }
}
