/**
 * `zvpg clone <url>`: a new environment whose main is a copy of a remote's snapshot.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { parseRemoteUrl, REMOTE_URL_FORMS } from "../domain/remote.ts";
import { validateSnapshotName } from "../domain/names.ts";
import { InitService } from "../workflows/init_service.ts";
import {
  deviceOption,
  examples,
  formatOption,
  parseRemoteName,
  poolSizeOption,
} from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { cloneView, connectionUri } from "./views.ts";

/** Builds `clone`. */
export function cloneCommand(session: Session) {
  return new Command("clone")
    .description(
      "Make a new environment (pool, datasets, config) whose main is a copy of a remote's main, running with this host's password",
    )
    .argument("<url>", REMOTE_URL_FORMS, parseRemoteUrl)
    .option(
      "--snapshot <name>",
      "copy this snapshot of the remote (of any branch) instead of the newest of its main",
      parseSnapshotName,
    )
    .option(
      "-o, --origin <name>",
      "the name the remote is registered under",
      parseRemoteName,
      "origin",
    )
    .addOption(deviceOption())
    .addOption(poolSizeOption())
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg clone ssh://backup@db2.example.com",
        "zvpg clone file:///media/usb/zvpg --snapshot v2",
        "zvpg -c ./laptop.json clone ssh://db2 --origin db2 --pool-size 20G -f json",
      ),
    )
    .action(session.action(async (ctx, url, options) => {
      if (options.device) ctx.config.zfsPoolDevice = options.device;
      if (options.poolSize) ctx.config.zfsPoolSize = options.poolSize;
      const result = await new InitService(ctx).clone({
        url,
        origin: options.origin,
        snapshot: options.snapshot,
      });
      return render({ ...result, uri: connectionUri(ctx, result.port) }, cloneView, options.format);
    }));
}

/** A snapshot name option, checked: a bad one is a usage error (exit 2). */
function parseSnapshotName(value: string): string {
  validateSnapshotName(value);
  return value;
}
