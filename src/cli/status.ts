/**
 * `zvpg status`: system, branches, snapshots, health.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { UsageError } from "../errors.ts";
import { formatOption } from "./output.ts";

/** Builds `status`. */
export function statusCommand(): Command {
  const cmd = new Command("status").description("Show the state of the whole system");
  for (const [name, description] of [
    ["system", "Pool, space, branch and snapshot counts, runtime, image, versions"],
    ["branches", "Every branch: status, port, readiness, parent, origin, space"],
    ["snapshots", "Every snapshot: branch, time, space, dependents, message"],
    ["health", "Checks with pass/warn/fail and a fix hint; exit 1 when any fails"],
  ] as const) {
    cmd.command(name).description(description).addOption(formatOption()).action(() => {
      throw new UsageError(`'zvpg status ${name}' is not implemented yet`);
    });
  }
  return cmd as unknown as Command;
}
