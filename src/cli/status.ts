/**
 * `zvpg status`: system (the default), branches, snapshots, health [--repair].
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { UsageError } from "../errors.ts";
import { type RepairAction, StatusService, type SystemStatus } from "../services/status_service.ts";
import { contextFor } from "./common.ts";
import {
  type Format,
  formatBytes,
  formatOption,
  formatTime,
  printChecks,
  printFields,
  printJson,
  printTable,
} from "./output.ts";
import { printSnapshots } from "./snapshot.ts";
import { branchJson } from "./views.ts";

function printSystem(s: SystemStatus, format: Format): void {
  if (format === "json") return printJson(s);
  const pool = s.pool;
  printFields([
    ["zvpg", `${s.version} (config ${s.configFile})`],
    ["Pool", pool ? `${pool.name} ${pool.health}` : "not imported"],
    [
      "Pool Size",
      pool
        ? `${formatBytes(pool.size)} (allocated ${formatBytes(pool.allocated)}, free ${
          formatBytes(pool.free)
        })`
        : "-",
    ],
    ["Space Main", formatBytes(s.space.main)],
    ["Space Branches", formatBytes(s.space.branches)],
    ["Space Snapshots", formatBytes(s.space.snapshots)],
    [
      "Branches",
      `${s.branches.total} (${s.branches.running} running, ${s.branches.stopped} stopped, ${s.branches.other} other)`,
    ],
    ["Snapshots", s.snapshots],
    [
      "Runtime",
      s.runtime.reachable
        ? `${s.runtime.name} ${s.runtime.version}`
        : `${s.runtime.name} (not reachable)`,
    ],
    [
      "Image",
      `${s.image.name} (${
        s.image.present === null ? "unknown" : s.image.present ? "present" : "missing"
      })`,
    ],
  ]);
}

async function system(options: { format: Format }, command: Command): Promise<void> {
  printSystem(await new StatusService(contextFor(command)).system(), options.format);
}

/**
 * One line per repair: what was attempted, why, and whether it worked. A failed one says
 * "FAILED … failed: <error>", never a past-tense success word.
 */
export function repairLine(r: RepairAction): string {
  const why = r.reason ? ` (${r.reason})` : "";
  return r.ok
    ? `REPAIRED  ${r.target}: ${r.action}${why}`
    : `FAILED    ${r.target}: ${r.action}${why} failed: ${r.detail ?? "unknown error"}`;
}

/**
 * `status` runs `system` by default, so commander hands any unknown word to `system` as an
 * argument. Named explicitly (`status system x`) that is too many arguments; otherwise it
 * was meant as a command: an unknown one.
 */
function refuseExtraArguments(status: Command, system: Command): void {
  const extra = system.args;
  if (extra.length === 0) return;
  if (status.args[0] === "system") {
    throw new UsageError(`too many arguments for 'system': ${extra.join(" ")}`, {
      hint: "run 'zvpg status system --help'",
    });
  }
  const commands = status.commands.map((c) => c.name()).filter((n) => n !== "help");
  throw new UsageError(`unknown command '${extra[0]}' for 'zvpg status'`, {
    hint: `use one of: ${commands.join(", ")}`,
  });
}

/** Builds `status`. */
export function statusCommand(): Command {
  const cmd = new Command("status")
    .description("Show the state of the whole system (default: status system)");

  cmd.command("system", { isDefault: true })
    .description(
      "Pool health and space, zvpg space, branch and snapshot counts, runtime, image, version",
    )
    .addOption(formatOption())
    // `status bogus` arrives here as the default command's argument: refused in the action
    .allowExcessArguments()
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg status system\n  zvpg status system -f json | jq .space",
    )
    .action(async (options, command) => {
      refuseExtraArguments(cmd as unknown as Command, command as unknown as Command);
      await system(options, command as unknown as Command);
    });

  cmd.command("branches")
    .description(
      "Every branch: status, port, whether PostgreSQL accepts connections, parent, origin, space",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg status branches\n  zvpg status branches -f json | jq '.[] | select(.ready == false)'",
    )
    .action(async (options, command) => {
      const ctx = contextFor(command);
      const rows = await new StatusService(ctx).branches();
      if (options.format === "json") {
        return printJson(rows.map((r) => ({ ...branchJson(ctx, r.branch), ready: r.ready })));
      }
      printTable(
        ["NAME", "STATUS", "PORT", "READY", "PARENT", "ORIGIN", "USED", "REFERENCED", "CREATED"],
        rows.map(({ branch: b, ready }) => [
          b.name,
          b.status,
          branchJson(ctx, b).port ?? "-",
          ready === null ? "-" : ready ? "yes" : "no",
          b.parent ?? "-",
          b.origin ?? "-",
          formatBytes(b.used),
          formatBytes(b.referenced),
          formatTime(b.created),
        ]),
      );
    });

  cmd.command("snapshots")
    .description("Every snapshot: branch, time, space, dependent branches, message")
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg status snapshots\n  zvpg status snapshots -f json | jq 'map(.used) | add'",
    )
    .action(async (options, command) => {
      printSnapshots(await new StatusService(contextFor(command)).snapshots(), options.format);
    });

  cmd.command("health")
    .description("Health checks (pass/warn/fail with a fix hint); exit 1 when any fails")
    .option(
      "--repair",
      "fix drift: roll back interrupted creates, finish interrupted deletes, remove orphan containers, restart dead branches",
    )
    .addOption(formatOption())
    .addHelpText(
      "after",
      "\nExamples:\n  zvpg status health\n  zvpg status health --repair\n  zvpg status health -f json | jq '.checks[] | select(.status == \"fail\")'",
    )
    .action(async (options, command) => {
      const service = new StatusService(contextFor(command));
      const repairs = options.repair ? await service.repair() : undefined;
      const checks = await service.health();
      if (options.format !== "json") {
        for (const r of repairs ?? []) console.log(repairLine(r));
      }
      printChecks(checks, options.format, repairs ? { repairs } : {});
    });
  return cmd as unknown as Command;
}
