/**
 * `zvpg snapshot` and its alias `zvpg commit`: create, list, info|show, delete|remove.
 * Both trees are built from one description; only the words differ.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { SnapshotService } from "../workflows/snapshot_service.ts";
import { examples, formatOption } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import {
  snapshotCreatedView,
  snapshotDeleteView,
  snapshotInfoView,
  snapshotListView,
} from "./views.ts";

/** The words of one of the two trees: its description and the name and alias of each command. */
interface Nouns {
  description: string;
  info: [name: string, alias: string];
  delete: [name: string, alias: string];
}

const NOUNS: Record<"snapshot" | "commit", Nouns> = {
  snapshot: {
    description: "Manage snapshots: immutable point-in-time images of a branch (alias: commit)",
    info: ["info", "show"],
    delete: ["delete", "remove"],
  },
  commit: {
    description: "Manage commits (an alias of 'snapshot': same operations, options and output)",
    info: ["show", "info"],
    delete: ["remove", "delete"],
  },
};

/** Builds `snapshot` (and its alias `commit`). */
export function snapshotCommand(session: Session, noun: "snapshot" | "commit") {
  const { description, info, delete: del } = NOUNS[noun];
  const cmd = new Command(noun).description(description);

  cmd.command("create")
    .description(`Create a ${noun} of a branch (CHECKPOINT first when it is running)`)
    .argument("<name>", `${noun} name (letters, digits, - _ . :), unique across all branches`)
    .option("-m, --message <message>", "message stored with it", "")
    .option("-b, --branch <branch>", "branch to snapshot (default: the default branch)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        `zvpg ${noun} create baseline -m "Initial production state"`,
        `zvpg ${noun} create before-migration --branch feature/auth`,
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const { message, branch } = options;
      const snapshot = await new SnapshotService(ctx).create(name, { message, branch });
      return render(snapshot, snapshotCreatedView(noun), options.format);
    }));

  cmd.command("list")
    .alias("ls")
    .description(`List ${noun}s, oldest first; those pulled from remotes last, as <remote>/<name>`)
    .option("-b, --branch <branch>", "only those of this branch (or <remote>/<branch>)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(`zvpg ${noun} list`, `zvpg ${noun} list -f json | jq -r '.[].name'`),
    )
    .action(session.action(async (ctx, options) => {
      const snapshots = await new SnapshotService(ctx).list({ branch: options.branch });
      return render(snapshots, snapshotListView, options.format);
    }));

  cmd.command(info[0])
    .alias(info[1])
    .description(`Show one ${noun}: branch, time, message, space, dependent branches`)
    .argument("<name>", `${noun} name, or <remote>/<name> for one pulled from a remote`)
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(`zvpg ${noun} ${info[0]} baseline`, `zvpg ${noun} ${info[0]} baseline -f json`),
    )
    .action(session.action(async (ctx, name, options) => {
      return render(await new SnapshotService(ctx).info(name), snapshotInfoView, options.format);
    }));

  cmd.command(del[0])
    .alias(del[1])
    .description(
      `Delete a ${noun}; refused while branches depend on it or it is the base of the next push to a remote, unless --force`,
    )
    .argument("<name>", `${noun} name, or <remote>/<name> for one pulled from a remote`)
    .option(
      "--force",
      "also delete the branches that depend on it (their containers are stopped); delete it even when it is the base of the next push to a remote",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        `zvpg ${noun} ${del[0]} old-baseline`,
        `zvpg ${noun} ${del[0]} baseline --force`,
        `zvpg ${noun} ${del[0]} origin/v2                # pulled from remote origin`,
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const result = await new SnapshotService(ctx).delete(name, { force: options.force });
      return render(result, snapshotDeleteView(noun), options.format);
    }));
  return cmd;
}
