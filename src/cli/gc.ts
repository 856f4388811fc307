/**
 * `zvpg gc`: deletes expired branches and automatic snapshots nothing depends on.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { LifecycleService } from "../workflows/lifecycle_service.ts";
import { examples, formatOption } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { gcView } from "./views.ts";

/** Builds `gc`. */
export function gcCommand(session: Session) {
  return new Command("gc")
    .description(
      "Delete expired branches and unused automatic snapshots (never the default branch, a protected branch or one others depend on)",
    )
    .option("--dry-run", "only say what would be deleted")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples("zvpg gc --dry-run", "zvpg gc -f json"),
    )
    .action(session.action(async (ctx, options) => {
      const result = await new LifecycleService(ctx).gc({ dryRun: options.dryRun === true });
      return render(result, gcView, options.format);
    }));
}
