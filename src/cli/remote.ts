/**
 * `zvpg remote add|list|remove`: names for other places snapshots go to and come from.
 * The name and URL are checked where they are declared: a bad one is a usage error (exit
 * 2) before anything runs.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { parseRemoteUrl, REMOTE_URL_FORMS } from "../domain/remote.ts";
import { RemoteService } from "../workflows/remote_service.ts";
import { examples, formatOption, parseRemoteName } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { remoteAddedView, remoteListView, remoteRemovedView } from "./views.ts";

/** Builds `remote`. */
export function remoteCommand(session: Session) {
  const cmd = new Command("remote")
    .description("Manage remotes: other hosts (ssh://) or directories (file://) for snapshots");

  cmd.command("add")
    .description("Add a remote: a name for an ssh:// host or a file:// directory (no secret)")
    .argument("<name>", "remote name (letters, digits, - _ .; no '/')", parseRemoteName)
    .argument("<url>", REMOTE_URL_FORMS, parseRemoteUrl)
    .option(
      "--masked-only",
      "push refuses every snapshot that is not masked (docs/masking.md)",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg remote add origin ssh://backup@db2.example.com:2222/tank/zvpg",
        "zvpg remote add usb file:///media/usb/zvpg",
        "zvpg remote add shared ssh://dev@laptops.example/zvpg --masked-only",
      ),
    )
    .action(session.action(async (ctx, name, url, options) => {
      const remote = await new RemoteService(ctx).add(name, url, {
        maskedOnly: options.maskedOnly === true,
      });
      return render(remote, remoteAddedView, options.format);
    }));

  cmd.command("list")
    .alias("ls")
    .description("List remotes, in the order they were added")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples("zvpg remote list", "zvpg remote list -f json | jq -r '.[].url'"),
    )
    .action(session.action((ctx, options) => {
      const remotes = new RemoteService(ctx).list();
      return Promise.resolve(render(remotes, remoteListView, options.format));
    }));

  cmd.command("remove")
    .alias("rm")
    .description(
      "Remove a remote and the snapshots pulled from it (refused while branches are made from them); nothing on the remote is touched",
    )
    .argument("<name>", "remote name", parseRemoteName)
    .addOption(formatOption())
    .addHelpText("after", examples("zvpg remote remove origin"))
    .action(session.action(async (ctx, name, options) => {
      const removed = await new RemoteService(ctx).remove(name);
      return render(removed, remoteRemovedView, options.format);
    }));

  return cmd;
}
