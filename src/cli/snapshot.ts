/**
 * `zvpg snapshot` (alias `zvpg commit`): create, list, info|show, delete|remove.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { SnapshotService } from "../services/snapshot_service.ts";
import type { SnapshotRecord } from "../services/inventory.ts";
import { contextFor } from "./common.ts";
import {
  type Format,
  formatBytes,
  formatOption,
  formatTime,
  printFields,
  printJson,
  printTable,
} from "./output.ts";
import { snapshotJson } from "./views.ts";

/** Prints snapshots as a table or JSON array. */
export function printSnapshots(snapshots: SnapshotRecord[], format: Format): void {
  if (format === "json") return printJson(snapshots.map(snapshotJson));
  if (snapshots.length === 0) return console.error("no snapshots");
  printTable(
    ["NAME", "BRANCH", "CREATED", "USED", "REFERENCED", "DEPENDENTS", "MESSAGE"],
    snapshots.map((s) => [
      s.name,
      s.branch,
      formatTime(s.created),
      formatBytes(s.used),
      formatBytes(s.referenced),
      s.dependents.length === 0 ? "-" : [...s.dependents].sort().join(","),
      s.message.replace(/\s+/g, " ").slice(0, 60),
    ]),
  );
}

/** Prints one snapshot as fields or a JSON object. */
export function printSnapshot(s: SnapshotRecord, format: Format): void {
  if (format === "json") return printJson(snapshotJson(s));
  printFields([
    ["Snapshot", s.name],
    ["Branch", s.branch],
    ["Created", s.created.toISOString()],
    ["Message", s.message],
    ["Used", `${formatBytes(s.used)} (${s.used} bytes)`],
    ["Referenced", `${formatBytes(s.referenced)} (${s.referenced} bytes)`],
    ["Dependents", s.dependents.length === 0 ? "-" : [...s.dependents].sort().join(", ")],
    ["ZFS Name", s.zfsName],
  ]);
}

/** Builds `snapshot` (and its alias `commit`). */
export function snapshotCommand(name: "snapshot" | "commit"): Command {
  const noun = name;
  const cmd = new Command(name)
    .description(
      name === "snapshot"
        ? "Manage snapshots: immutable point-in-time images of a branch (alias: commit)"
        : "Manage commits (an alias of 'snapshot': same operations, options and output)",
    );

  cmd.command("create")
    .description(`Create a ${noun} of a branch (CHECKPOINT first when it is running)`)
    .argument("<name>", `${noun} name (letters, digits, - _ . :), unique across all branches`)
    .option("-m, --message <message>", "message stored with it", "")
    .option("-b, --branch <branch>", "branch to snapshot (default: the default branch)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      `\nExamples:\n  zvpg ${noun} create baseline -m "Initial production state"\n  zvpg ${noun} create before-migration --branch feature/auth`,
    )
    .action(async (snapshotName, options, command) => {
      const service = new SnapshotService(contextFor(command));
      const snapshot = await service.create(snapshotName, {
        message: options.message,
        branch: options.branch,
      });
      if (options.format === "json") printJson(snapshotJson(snapshot));
      else console.log(`Created ${noun} '${snapshot.name}' of branch '${snapshot.branch}'`);
    });

  cmd.command("list")
    .alias("ls")
    .description(`List ${noun}s, oldest first`)
    .option("-b, --branch <branch>", "only those of this branch")
    .addOption(formatOption())
    .addHelpText(
      "after",
      `\nExamples:\n  zvpg ${noun} list\n  zvpg ${noun} list -f json | jq -r '.[].name'`,
    )
    .action(async (options, command) => {
      const service = new SnapshotService(contextFor(command));
      printSnapshots(await service.list({ branch: options.branch }), options.format);
    });

  cmd.command(name === "snapshot" ? "info" : "show")
    .alias(name === "snapshot" ? "show" : "info")
    .description(`Show one ${noun}: branch, time, message, space, dependent branches`)
    .argument("<name>", `${noun} name`)
    .addOption(formatOption())
    .addHelpText(
      "after",
      `\nExamples:\n  zvpg ${noun} ${
        name === "snapshot" ? "info" : "show"
      } baseline\n  zvpg ${noun} ${name === "snapshot" ? "info" : "show"} baseline -f json`,
    )
    .action(async (snapshotName, options, command) => {
      const service = new SnapshotService(contextFor(command));
      printSnapshot(await service.info(snapshotName), options.format);
    });

  cmd.command(name === "snapshot" ? "delete" : "remove")
    .alias(name === "snapshot" ? "remove" : "delete")
    .description(`Delete a ${noun}; refused while branches depend on it unless --force`)
    .argument("<name>", `${noun} name`)
    .option("--force", "also delete the branches that depend on it (their containers are stopped)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      `\nExamples:\n  zvpg ${noun} ${
        name === "snapshot" ? "delete" : "remove"
      } old-baseline\n  zvpg ${noun} ${name === "snapshot" ? "delete" : "remove"} baseline --force`,
    )
    .action(async (snapshotName, options, command) => {
      const service = new SnapshotService(contextFor(command));
      const result = await service.delete(snapshotName, { force: options.force });
      if (options.format === "json") return printJson(result);
      for (const branch of result.removedBranches) console.log(`Deleted branch '${branch}'`);
      console.log(`Deleted ${noun} '${result.snapshot}'`);
    });
  return cmd as unknown as Command;
}
