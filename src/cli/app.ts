/**
 * The command tree.
 *
 * @module
 */
import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { nameOperation } from "../runtime/interrupt.ts";
import { VERSION } from "../version.ts";
import { branchCommand } from "./branch.ts";
import { initCommand } from "./init.ts";
import { logCommand } from "./log.ts";
import { completeCommand, completionsCommand, CONTEXT_FREE } from "./completions.ts";
import { refreshCommand } from "./refresh.ts";
import { remoteCommand } from "./remote.ts";
import { pullCommand } from "./pull.ts";
import { pushCommand } from "./push.ts";
import { snapshotCommand } from "./snapshot.ts";
import { terminal } from "./render.ts";
import { Session } from "./session.ts";
import { statusCommand } from "./status.ts";
import { gcCommand } from "./gc.ts";
import { serveCommand } from "./serve.ts";
import { fetchCommand } from "./fetch.ts";
import { cloneCommand } from "./clone.ts";

/** Help on stdout, usage errors on stderr, both through the {@link terminal}. */
const OUTPUT = {
  writeOut: (s: string) => terminal.out(s),
  writeErr: (s: string) => terminal.err(s),
};

/**
 * Builds the `zvpg` program with every command. Its `preAction` hook names the operation
 * and builds the session's context once, before any action runs.
 */
export function buildProgram(session: Session = new Session()) {
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
    .configureOutput(OUTPUT)
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
  program.addCommand(initCommand(session));
  program.addCommand(snapshotCommand(session, "snapshot"));
  program.addCommand(snapshotCommand(session, "commit"));
  program.addCommand(branchCommand(session));
  program.addCommand(statusCommand(session));
  program.addCommand(logCommand(session));
  program.addCommand(completionsCommand());
  program.addCommand(completeCommand(session, program), { hidden: true });
  program.addCommand(gcCommand(session));
  program.addCommand(refreshCommand(session));
  program.addCommand(cloneCommand(session));
  program.addCommand(remoteCommand(session));
  program.addCommand(fetchCommand(session));
  program.addCommand(pushCommand(session));
  program.addCommand(pullCommand(session));
  program.addCommand(serveCommand(session));
  for (const command of allCommands(program)) command.exitOverride().configureOutput(OUTPUT);
  program.hook("preAction", (_program, action) => {
    const { what, mutating, command } = describeOperation(action);
    nameOperation(what, { mutating, command });
    if (!CONTEXT_FREE.has(action.name())) session.open(program.opts().config);
  });
  return program;
}

/** Commands that change something (`status health` too, with --repair). */
const MUTATING = new Set([
  "branch create",
  "branch start",
  "branch stop",
  "branch delete",
  "branch reset",
  "branch expire",
  "branch protect",
  "branch unprotect",
  "gc",
  "branch snapshot",
  "branch diff",
  "branch merge",
  "snapshot create",
  "snapshot delete",
  "commit create",
  "commit remove",
  "init env",
  "clone",
  "remote add",
  "remote remove",
  "push",
  "pull",
]);

/** The operation a command runs, for the messages of an interrupt ("branch create 'x'"). */
export function describeOperation(
  command: CommandUnknownOpts,
): { what: string; mutating: boolean; command: string } {
  const path: string[] = [];
  for (let c: CommandUnknownOpts | null = command; c?.parent; c = c.parent) path.unshift(c.name());
  const name = path.join(" ");
  const repair = name === "status health" && command.opts().repair === true;
  const operands = command.args.map((a) => `'${a}'`);
  return {
    what: [name, ...operands, ...(repair ? ["--repair"] : [])].join(" "),
    mutating: MUTATING.has(name) || repair,
    command: name,
  };
}

function* allCommands(command: CommandUnknownOpts): Generator<CommandUnknownOpts> {
  for (const sub of command.commands) {
    yield sub;
    yield* allCommands(sub);
  }
}
