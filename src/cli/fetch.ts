/**
 * `zvpg fetch <remote>`: what a remote holds, and which of it this pool has (by GUID).
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { FetchService } from "../workflows/fetch_service.ts";
import { examples, formatOption, parseRemoteName } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { fetchView } from "./views.ts";

/** Builds `fetch`. */
export function fetchCommand(session: Session) {
  return new Command("fetch")
    .description(
      "List what a remote holds and which of it is here, matched by ZFS GUID (changes nothing)",
    )
    .argument("<remote>", "remote name (see 'zvpg remote list')", parseRemoteName)
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg fetch origin",
        "zvpg fetch usb -f json | jq -r '.refs[] | select(.here == null) | .name'",
      ),
    )
    .action(session.action(async (ctx, remote, options) => {
      return render(await new FetchService(ctx).fetch(remote), fetchView, options.format);
    }));
}
