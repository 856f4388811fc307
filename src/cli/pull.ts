/**
 * `zvpg pull <remote> <snapshot>`: receives a snapshot from a remote.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { PullService } from "../workflows/pull_service.ts";
import { examples, formatOption, parseRemoteName } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { pullView } from "./views.ts";

/** Builds `pull`. */
export function pullCommand(session: Session) {
  return new Command("pull")
    .description(
      "Receive a snapshot from a remote into <pool>/remotes/<remote>/<branch>, only what is missing here",
    )
    .argument("<remote>", "remote name (see 'zvpg remote list')", parseRemoteName)
    .argument("<snapshot>", "snapshot name")
    .option(
      "--force",
      "when what is here of that branch went another way, keep it aside as <branch>.pre-<time> and pull whole",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples("zvpg pull usb baseline", "zvpg pull staging v2 -f json"),
    )
    .action(session.action(async (ctx, remote, snapshot, options) => {
      const result = await new PullService(ctx).pull(remote, snapshot, { force: options.force });
      return render(result, pullView, options.format);
    }));
}
