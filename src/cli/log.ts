/**
 * `zvpg log`: the history as a graph.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { readHistory } from "../workflows/history_service.ts";
import { examples, formatOption } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { logView } from "./views.ts";

/** Builds `log`. */
export function logCommand(session: Session) {
  return new Command("log")
    .description(
      "Show the history as a graph: snapshots with their messages and times, and where each branch forked",
    )
    .argument("[branch]", "only this branch (or <remote>/<branch>) and what it came from")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples("zvpg log", "zvpg log feature/auth", "zvpg log -f json | jq '.nodes[0]'"),
    )
    .action(session.action(async (ctx, branch, options) => {
      return render(await readHistory(ctx, branch), logView, options.format);
    }));
}
