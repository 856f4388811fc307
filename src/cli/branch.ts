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
import {
  examples,
  formatOption,
  parseExpiresAt,
  parseExpiryOperand,
  parseOnOff,
  parsePort,
  parseTtl,
} from "./options.ts";
import { ResetService } from "../workflows/reset_service.ts";
import { LifecycleService } from "../workflows/lifecycle_service.ts";
import { type Expiry, expiryAt, expiryFromTtl } from "../domain/duration.ts";
import { UsageError } from "../errors.ts";
import { parsePitrTarget } from "../domain/wal_archive.ts";
import { Phases } from "../runtime/phases.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import {
  branchArchiveView,
  branchChangedView,
  branchCreatedView,
  branchDeleteView,
  branchDiffView,
  branchExpireView,
  branchInfoView,
  branchListView,
  branchMergeView,
  branchResetView,
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
      "snapshot to branch from, or <remote>/<snapshot> received with 'zvpg pull' (default: a new snapshot of the parent's current state)",
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
    .option(
      "--ttl <duration>",
      "expire after this long (30m, 8h, 7d): 'zvpg gc' deletes it",
      parseTtl,
    )
    .option("--expires-at <time>", "expire at this RFC 3339 time (in the future)", parseExpiresAt)
    .option("--force", "with --expires-at: accept a time already past (gc deletes the branch)")
    .option(
      "--at <target>",
      "the parent as it was at this moment, replayed from its WAL archive: an RFC 3339 time, an LSN (0/3000060), or -10m",
    )
    .option("--archive", "archive the new branch's WAL too (point-in-time branches of it)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg branch create feature/new-api",
        "zvpg branch create before-migration --at 2027-06-01T10:05:00Z",
        "zvpg branch create ten-minutes-ago --at -10m",
        "zvpg branch create ci-db --from baseline --if-not-exists",
        "zvpg branch create ci-123 --ttl 8h",
        "zvpg branch create feature/new-api --from my_snapshot",
        "zvpg branch create feature/new-api --parent development",
        "zvpg branch create feature/new-api --port 6433",
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const service = new BranchService(ctx);
      const phases = new Phases();
      const { from, parent, port } = options;
      const expiry = createExpiry(ctx.now(), options);
      const archive = options.archive === true ? true : undefined;
      if (options.at !== undefined) {
        if (from !== undefined || options.ifNotExists) {
          throw new UsageError("--at cannot be combined with --from or --if-not-exists", {
            hint: "--at picks the snapshot itself; drop --from",
          });
        }
        const target = parsePitrTarget(options.at, ctx.now());
        const made = await service.createAt(
          name,
          target,
          { parent, port, expiry, archive },
          phases,
        );
        const timings = options.timings ? phases.done() : undefined;
        return render(
          { branch: made.branch, created: true, timings, pointInTime: { ...made, target } },
          branchCreatedView(ctx),
          options.format,
        );
      }
      const { branch, created } = options.ifNotExists
        ? await ensureBranch(ctx, service, name, { from, parent, port, expiry }, phases)
        : {
          branch: await service.create(name, { from, parent, port, expiry, archive }, phases),
          created: true,
        };
      const timings = options.timings ? phases.done() : undefined;
      return render({ branch, created, timings }, branchCreatedView(ctx), options.format);
    }));

  cmd.command("archive")
    .description(
      "Show or turn on/off a branch's WAL archive (point-in-time branches; from its next start)",
    )
    .argument("<name>", "branch name")
    .argument("[state]", "on or off", parseOnOff)
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples("zvpg branch archive main", "zvpg branch archive staging on"),
    )
    .action(session.action(async (ctx, name, state, options) => {
      const info = await new BranchService(ctx).archive(name, state);
      return render(info, branchArchiveView, options.format);
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
      "also delete its named snapshots, branches made from them, datasets others made inside it, and bases of pushes to remotes",
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

  cmd.command("reset")
    .description(
      "Throw away a branch's changes: back to its origin snapshot, another one, or its parent's current state (same name, port, password and URI)",
    )
    .argument("<name>", "branch name")
    .option("--to <snapshot>", "reset to this snapshot instead of the branch's origin")
    .option("--parent", "reset to a new snapshot of its parent's current state")
    .option(
      "--at <target>",
      "reset to its parent as it was at this moment (RFC 3339 time, LSN, or -10m), replayed from the parent's WAL archive",
    )
    .option(
      "--force",
      "also throw away its named snapshots, the branches made from them, and bases of pushes to remotes",
    )
    .option("--timings", "include phase timings (ms) in the output")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        "zvpg branch reset ci-db",
        "zvpg branch reset ci-db --to baseline",
        "zvpg branch reset ci-db --parent",
        "zvpg branch reset staging --at 2027-06-01T10:05:00Z",
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const result = await new ResetService(ctx).reset(name, {
        to: options.to,
        parent: options.parent,
        force: options.force,
        at: options.at === undefined ? undefined : parsePitrTarget(options.at, ctx.now()),
      });
      return render(result, branchResetView(ctx, options.timings === true), options.format);
    }));

  cmd.command("expire")
    .description("Set when a branch expires ('zvpg gc' deletes it after that), or 'never'")
    .argument("<name>", "branch name")
    .argument(
      "<when>",
      "a duration from now (30m, 8h, 7d), an RFC 3339 time in the future, or never",
      parseExpiryOperand,
    )
    .option("--force", "accept a time already past (the branch expires now: gc deletes it)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples("zvpg branch expire ci-db 7d", "zvpg branch expire ci-db never"),
    )
    .action(session.action(async (ctx, name, when, options) => {
      const expiry = when === null
        ? null
        : "ttlSeconds" in when
        ? expiryFromTtl(ctx.now(), when.ttlSeconds)
        : expiryAt(when.at, ctx.now(), options.force);
      const branch = await new LifecycleService(ctx).expire(name, expiry);
      return render(branch, branchExpireView(ctx), options.format);
    }));

  cmd.command("protect")
    .description(
      "Protect a branch: it refuses delete, reset, expiry and gc, and its snapshots are held in ZFS",
    )
    .argument("<name>", "branch name")
    .addOption(formatOption())
    .addHelpText("after", examples("zvpg branch protect staging"))
    .action(session.action(async (ctx, name, options) => {
      const branch = await new LifecycleService(ctx).protect(name);
      return render(
        branch,
        branchChangedView(ctx, (b) => `Protected branch '${b.name}'`),
        options.format,
      );
    }));

  cmd.command("unprotect")
    .description("Remove a branch's protection and release the holds on its snapshots")
    .argument("<name>", "branch name")
    .addOption(formatOption())
    .addHelpText("after", examples("zvpg branch unprotect staging"))
    .action(session.action(async (ctx, name, options) => {
      const branch = await new LifecycleService(ctx).unprotect(name);
      return render(
        branch,
        branchChangedView(ctx, (b) => `Branch '${b.name}' is no longer protected`),
        options.format,
      );
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
    .option(
      "--allow-difference",
      "merge even where the proof finds the result unlike the branch (each named in a warning)",
    )
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
        allowDifference: options.allowDifference,
      });
      return render(result, branchMergeView, options.format);
    }));
  for (const sub of connectCommands(session)) cmd.addCommand(sub);
  return cmd;
}

/** The expiry of `branch create --ttl | --expires-at [--force]` (not both). */
function createExpiry(
  now: Date,
  { ttl, expiresAt: at, force }: { ttl?: number; expiresAt?: Date; force?: true },
): Expiry | undefined {
  if (ttl !== undefined && at !== undefined) {
    throw new UsageError("--ttl and --expires-at cannot be used together", {
      hint: "give a duration (--ttl 8h) or a time (--expires-at 2027-06-01T18:00:00Z)",
    });
  }
  if (ttl !== undefined) return expiryFromTtl(now, ttl);
  if (at !== undefined) return expiryAt(at, now, force);
  return undefined;
}
