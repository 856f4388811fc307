/**
 * `zvpg branch`: create, start, stop, list, info, delete, snapshot.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { BranchService } from "../services/branch_service.ts";
import type { Context } from "../services/context.ts";
import type { BranchRecord } from "../services/inventory.ts";
import { contextFor } from "./common.ts";
import {
  type Format,
  formatBytes,
  formatOption,
  formatTime,
  parsePort,
  printFields,
  printJson,
  printTable,
} from "./output.ts";
import { printSnapshot } from "./snapshot.ts";
import { branchJson } from "./views.ts";

/** Prints branches as a table or a JSON array. */
export function printBranches(ctx: Context, branches: BranchRecord[], format: Format): void {
  if (format === "json") return printJson(branches.map((b) => branchJson(ctx, b)));
  printTable(
    ["NAME", "STATUS", "PORT", "PARENT", "ORIGIN", "USED", "CREATED"],
    branches.map((b) => [
      b.isDefault ? `${b.name} *` : b.name,
      b.status,
      branchJson(ctx, b).port ?? "-",
      b.parent ?? "-",
      b.origin ?? "-",
      formatBytes(b.used),
      formatTime(b.created),
    ]),
  );
}

/** Prints one branch as `Key: value` lines (the port line reads `PostgreSQL Port: N`). */
export function printBranch(
  ctx: Context,
  b: BranchRecord,
  format: Format,
  timings?: Record<string, number>,
): void {
  const json = branchJson(ctx, b);
  if (format === "json") {
    return printJson(timings ? { ...json, timings: roundTimings(timings) } : json);
  }
  printFields([
    ["Branch", b.name + (b.isDefault ? " (default)" : "")],
    ["Status", b.status],
    // only a live port: for a stopped branch the spec's `grep "PostgreSQL Port" | awk`
    // yields "-", never a port another branch may serve by now
    ["PostgreSQL Port", json.port],
    ["Last Port", json.port === null ? b.lastPort : null],
    ["Connection URI", json.uri],
    ["Container", json.container],
    ["Parent", b.parent],
    ["Origin Snapshot", b.origin],
    ["Created", json.created],
    ["Used", `${formatBytes(b.used)} (${b.used} bytes)`],
    ["Referenced", `${formatBytes(b.referenced)} (${b.referenced} bytes)`],
    ["Dataset", b.dataset],
    ["Mountpoint", b.mountpoint],
  ]);
}

function roundTimings(timings: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)]));
}

/** Builds `branch`. */
export function branchCommand(): Command {
  const cmd = new Command("branch")
    .description(
      "Manage branches: writable clones of a snapshot, each with its own PostgreSQL container",
    );

  cmd.command("create")
    .description("Create a branch from a snapshot and start its PostgreSQL")
    .argument("<name>", "branch name (git rules: e.g. feature/login)")
    .option(
      "--from <snapshot>",
      "snapshot to branch from (default: a new snapshot of the parent's current state)",
    )
    .option("--parent <parent>", "parent branch (default: the default branch)")
    .option(
      "-p, --port <port>",
      "host port (default: first free in the configured range)",
      parsePort,
    )
    .option("--timings", "include phase timings (ms) in the output")
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg branch create feature/new-api\n  zvpg branch create feature/new-api --from my_snapshot\n  zvpg branch create feature/new-api --parent development\n  zvpg branch create feature/new-api --port 6433",
    )
    .action(async (name, options, command) => {
      const ctx = contextFor(command);
      const service = new BranchService(ctx);
      const branch = await service.create(name, {
        from: options.from,
        parent: options.parent,
        port: options.port,
      });
      if (options.format === "json") {
        return printBranch(ctx, branch, "json", options.timings ? service.timings : undefined);
      }
      console.log(`Created branch '${branch.name}' from snapshot '${branch.origin}'`);
      printBranch(ctx, branch, "table");
      if (options.timings) console.log(`Timings: ${JSON.stringify(roundTimings(service.timings))}`);
    });

  cmd.command("start")
    .description("Start the PostgreSQL container of a branch")
    .argument("<name>", "branch name")
    .option(
      "-p, --port <port>",
      "host port (default: its previous port, else the first free)",
      parsePort,
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg branch start feature/new-api\n  zvpg branch start feature/new-api --port 6433",
    )
    .action(async (name, options, command) => {
      const ctx = contextFor(command);
      const branch = await new BranchService(ctx).start(name, { port: options.port });
      if (options.format === "json") return printBranch(ctx, branch, "json");
      console.log(`Started branch '${branch.name}' on port ${branch.port}`);
    });

  cmd.command("stop")
    .description(
      "Stop (fast shutdown) and remove the PostgreSQL container of a branch; data is kept",
    )
    .argument("<name>", "branch name")
    .addOption(formatOption())
    .addHelpText("after", "\nExample:\n  zvpg branch stop feature/new-api")
    .action(async (name, options, command) => {
      const ctx = contextFor(command);
      const wasRunning = await new BranchService(ctx).stop(name);
      if (options.format === "json") return printJson({ branch: name, wasRunning });
      console.log(wasRunning ? `Stopped branch '${name}'` : `Branch '${name}' was not running`);
    });

  cmd.command("list")
    .alias("ls")
    .description("List branches (the default branch first, marked *)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg branch list\n  zvpg branch list -f json | jq -r '.[] | \"\\(.name) \\(.port)\"'",
    )
    .action(async (options, command) => {
      const ctx = contextFor(command);
      printBranches(ctx, await new BranchService(ctx).list(), options.format);
    });

  cmd.command("info")
    .alias("show")
    .description("Show one branch: status, port, connection URI, origin, space")
    .argument("<name>", "branch name")
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg branch info feature/new-api\n  PORT=$(zvpg branch info testing -f json | jq .port)",
    )
    .action(async (name, options, command) => {
      const ctx = contextFor(command);
      printBranch(ctx, await new BranchService(ctx).info(name), options.format);
    });

  cmd.command("delete")
    .alias("remove")
    .description("Delete a branch: its container, dataset and snapshots")
    .argument("<name>", "branch name")
    .option(
      "--force",
      "also delete its named snapshots, branches made from them, and datasets others made inside it",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg branch delete feature/new-api\n  zvpg branch delete feature/new-api --force",
    )
    .action(async (name, options, command) => {
      const ctx = contextFor(command);
      const result = await new BranchService(ctx).delete(name, { force: options.force });
      if (options.format === "json") return printJson(result);
      for (const d of result.removedDatasets) console.log(`Destroyed dataset '${d}'`);
      for (const b of result.removedBranches) console.log(`Deleted branch '${b}'`);
      for (const s of result.removedSnapshots) console.log(`Deleted snapshot '${s}'`);
      console.log(`Deleted branch '${result.branch}'`);
    });

  cmd.command("snapshot")
    .description(
      "Create a snapshot of a branch (same as 'zvpg snapshot create <snapshot> --branch <branch>')",
    )
    .argument("<branch>", "branch name")
    .argument("<snapshot>", "snapshot name")
    .option("-m, --message <message>", "message stored with it", "")
    .addOption(formatOption())
    .addHelpText(
      "after",
      '\nExample:\n  zvpg branch snapshot feature/new-api milestone-1 -m "First milestone completed"',
    )
    .action(async (branch, snapshot, options, command) => {
      const ctx = contextFor(command);
      const record = await new BranchService(ctx).snapshot(branch, snapshot, options.message);
      if (options.format === "json") return printSnapshot(record, "json");
      console.log(`Created snapshot '${record.name}' of branch '${record.branch}'`);
    });
  return cmd as unknown as Command;
}
