/**
 * `zvpg branch`: create, start, stop, list, info, delete, snapshot, diff, merge.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { BranchService } from "../workflows/branch_service.ts";
import { DiffMergeService } from "../workflows/diff_merge_service.ts";
import { ensureBranch } from "../workflows/branch_ensure.ts";
import { connectCommands } from "./branch_connect.ts";
import { examples, formatOption, parsePort } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import {
  branchCreatedView,
  branchDeleteView,
  branchDiffView,
  branchInfoView,
  branchListView,
  branchMergeView,
  branchStartedView,
  branchStopView,
  snapshotCreatedView,
} from "./views.ts";

/** Builds `branch`. */
export function branchCommand(session: Session) {
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
    .option(
      "--if-not-exists",
      "exit 0 with the existing branch of that exact name (started if stopped)",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg branch create feature/new-api",
        "zvpg branch create ci-db --from baseline --if-not-exists",
        "zvpg branch create feature/new-api --from my_snapshot",
        "zvpg branch create feature/new-api --parent development",
        "zvpg branch create feature/new-api --port 6433",
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const service = new BranchService(ctx);
      const { from, parent, port } = options;
      const { branch, created } = options.ifNotExists
        ? await ensureBranch(ctx, service, name, { from, parent, port })
        : { branch: await service.create(name, { from, parent, port }), created: true };
      const timings = options.timings ? service.timings : undefined;
      return render({ branch, created, timings }, branchCreatedView(ctx), options.format);
    }));

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
      examples(
        "zvpg branch start feature/new-api",
        "zvpg branch start feature/new-api --port 6433",
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const branch = await new BranchService(ctx).start(name, { port: options.port });
      return render(branch, branchStartedView(ctx), options.format);
    }));

  cmd.command("stop")
    .description(
      "Stop (fast shutdown) and remove the PostgreSQL container of a branch; data is kept",
    )
    .argument("<name>", "branch name")
    .addOption(formatOption())
    .addHelpText("after", examples("zvpg branch stop feature/new-api"))
    .action(session.action(async (ctx, name, options) => {
      const wasRunning = await new BranchService(ctx).stop(name);
      return render({ branch: name, wasRunning }, branchStopView, options.format);
    }));

  cmd.command("list")
    .alias("ls")
    .description("List branches (the default branch first, marked *)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg branch list",
        `zvpg branch list -f json | jq -r '.[] | "\\(.name) \\(.port)"'`,
      ),
    )
    .action(session.action(async (ctx, options) => {
      return render(await new BranchService(ctx).list(), branchListView(ctx), options.format);
    }));

  cmd.command("info")
    .alias("show")
    .description("Show one branch: status, port, connection URI, origin, space")
    .argument("<name>", "branch name")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg branch info feature/new-api",
        "PORT=$(zvpg branch info testing -f json | jq .port)",
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      return render(await new BranchService(ctx).info(name), branchInfoView(ctx), options.format);
    }));

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
      examples("zvpg branch delete feature/new-api", "zvpg branch delete feature/new-api --force"),
    )
    .action(session.action(async (ctx, name, options) => {
      const result = await new BranchService(ctx).delete(name, { force: options.force });
      return render(result, branchDeleteView, options.format);
    }));

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
      examples('zvpg branch snapshot feature/new-api milestone-1 -m "First milestone completed"'),
    )
    .action(session.action(async (ctx, branch, snapshot, options) => {
      const record = await new BranchService(ctx).snapshot(branch, snapshot, options.message);
      return render(record, snapshotCreatedView("snapshot"), options.format);
    }));

  cmd.command("diff")
    .description(
      "Show the schema changes of a branch since its origin snapshot, or between two branches",
    )
    .argument("<branch>", "branch name (the base when <other> is given)")
    .argument("[other]", "branch to compare with <branch> (default: <branch> vs its origin)")
    .option("--database <name>", "database to compare (default: the configured one)")
    .option("--data", "also show, per table, whether rows changed (estimated counts)")
    .option("--exact", "with --data: count rows exactly (count(*), slower)")
    .option("--exit-code", "exit 1 when there are differences, 0 when none (as git diff)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg branch diff feature/new-api",
        "zvpg branch diff main feature/new-api --data",
        "zvpg branch diff feature/new-api -f json | jq .hasChanges",
      ),
    )
    .action(session.action(async (ctx, branch, other, options) => {
      const diff = await new DiffMergeService(ctx).diff(branch, {
        other,
        database: options.database,
        data: options.data,
        exact: options.exact,
      });
      return render({ diff, exitCode: options.exitCode }, branchDiffView, options.format);
    }));

  cmd.command("merge")
    .description(
      "Apply a branch's schema changes since its origin to its parent (three-way; rows are not merged)",
    )
    .argument("<branch>", "branch whose schema changes are merged")
    .option("--into <target>", "branch to merge into (default: the branch's parent)")
    .option("--database <name>", "database to merge (default: the configured one)")
    .option("--dry-run", "print the SQL and change nothing")
    .option("--output <file>", "also write the SQL as a migration file")
    .option("--allow-data-loss", "allow statements that lose data (drops, narrowing types)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg branch merge feature/new-api --dry-run",
        "zvpg branch merge feature/new-api",
        "zvpg branch merge feature/new-api --dry-run --output migrations/042_new_api.sql",
      ),
    )
    .action(session.action(async (ctx, branch, options) => {
      const result = await new DiffMergeService(ctx).merge(branch, {
        into: options.into,
        database: options.database,
        dryRun: options.dryRun,
        output: options.output,
        allowDataLoss: options.allowDataLoss,
      });
      return render(result, branchMergeView, options.format);
    }));
  for (const sub of connectCommands(session)) cmd.addCommand(sub);
  return cmd;
}
