/**
 * `zvpg completions <shell>` and the hidden `zvpg __complete -- <words>` its scripts call.
 *
 * @module
 */
import { Argument, Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { log } from "../runtime/log.ts";
import { listNames } from "../workflows/name_service.ts";
import { complete } from "./complete.ts";
import { completionScript, SHELLS } from "./completion_script.ts";
import { examples } from "./options.ts";
import { terminal } from "./render.ts";
import type { Session } from "./session.ts";

/** Commands that run without a context (no configuration is loaded for them). */
export const CONTEXT_FREE = new Set(["completions", "__complete"]);

/** Builds `completions`. */
export function completionsCommand() {
  return new Command("completions")
    .description("Print a shell completion script (commands, options, branch and snapshot names)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .addHelpText(
      "after",
      examples(
        "source <(zvpg completions bash)            # in ~/.bashrc",
        "source <(zvpg completions zsh)             # in ~/.zshrc, after compinit",
        "zvpg completions fish > ~/.config/fish/completions/zvpg.fish",
      ),
    )
    .action((shell) => {
      terminal.out(completionScript(shell));
    });
}

/**
 * Builds the hidden `__complete`: prints, one a line, what the last word may be. Names are
 * read from the pool of the configuration named by `-c` among the words (or the default);
 * any failure prints nothing and exits 0, so a shell never shows an error on Tab.
 */
export function completeCommand(session: Session, program: CommandUnknownOpts) {
  return new Command("__complete")
    .argument("[words...]", "the words after 'zvpg', the last one being completed")
    .action(async (words) => {
      try {
        const current = words.at(-1) ?? "";
        const candidates = await candidatesFor(session, program, words);
        const matching = candidates.filter((c) => c.startsWith(current));
        if (matching.length > 0) terminal.out(matching.join("\n") + "\n");
      } catch (error) {
        log.debug(`completion: ${(error as Error).message}`);
      }
    });
}

async function candidatesFor(
  session: Session,
  program: CommandUnknownOpts,
  words: string[],
): Promise<string[]> {
  const what = complete(program, words.length === 0 ? [""] : words);
  if (what.kind === "words") return what.words;
  if (what.kind === "none") return [];
  session.open(configIn(words));
  return await listNames(session.ctx, what.kind, {
    pulled: what.kind === "snapshots" && what.pulled,
  });
}

/** The `-c/--config` value among the words typed, if any. */
function configIn(words: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if ((w === "-c" || w === "--config") && i + 1 < words.length - 1) return words[i + 1];
    if (w.startsWith("--config=")) return w.slice("--config=".length);
  }
  return undefined;
}
