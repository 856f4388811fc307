/**
 * `zvpg push <remote> <snapshot>`: puts a snapshot on a remote.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { PushService } from "../workflows/push_service.ts";
import { examples, formatOption, parseRemoteName } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { pushView } from "./views.ts";

/** Builds `push`. */
export function pushCommand(session: Session) {
  return new Command("push")
    .description(
      "Put a snapshot on a remote: an increment from the newest one it holds, else whole",
    )
    .argument("<remote>", "remote name (see 'zvpg remote list')", parseRemoteName)
    .argument(
      "<snapshot>",
      "snapshot name, or a branch: pushed as a snapshot taken now (CHECKPOINT first)",
    )
    .option(
      "--force",
      "when the remote holds another snapshot of that name or went another way, keep its copy aside (<name>.pre-<time>) and push",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg push usb baseline",
        "zvpg push staging v2 -f json",
        "zvpg push staging feature/auth",
      ),
    )
    .action(session.action(async (ctx, remote, snapshot, options) => {
      const result = await new PushService(ctx).push(remote, snapshot, { force: options.force });
      return render(result, pushView, options.format);
    }));
}
