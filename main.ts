/**
 * zvpg: Git-like snapshots and branches of PostgreSQL on ZFS.
 *
 * @module
 */
import { CommanderError } from "@commander-js/extra-typings";
import { buildProgram } from "./src/cli/app.ts";
import { type ContextFactory, Session } from "./src/cli/session.ts";
import { ZvpgError } from "./src/errors.ts";
import { log } from "./src/runtime/log.ts";
import { withInterrupts } from "./src/runtime/interrupt.ts";

/** Options of {@link main}. */
export interface MainOptions {
  /** Builds the context from the `-c` path (tests give one on a fake runner). */
  context?: ContextFactory;
}

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  const session = new Session(options.context);
  try {
    // every command runs as one operation that SIGINT/SIGTERM stop cleanly (exit 130);
    // the command tree names it and says whether it changes anything
    const program = buildProgram(session);
    await withInterrupts("zvpg", () => program.parseAsync(args, { from: "user" }), {
      mutating: false,
    });
    return session.exitCode;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its own message already.
    if (["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code)) {
      return 0;
    }
    return 2;
  }
  if (error instanceof ZvpgError) {
    log.error(error.hint ? `${error.message} — ${error.hint}` : error.message);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  log.error(`unexpected failure: ${message.split("\n")[0]}`);
  if (error instanceof Error && error.stack) log.debug(error.stack);
  return 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
