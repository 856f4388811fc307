/**
 * `branch create --if-not-exists`: the branch of that exact name, made when missing,
 * started when stopped. Idempotent under concurrency: a second zvpg racing to make the
 * same branch waits for the first (the pool lock serialises the creates; a create still
 * waiting for its server to accept connections is waited for), and both exit 0.
 *
 * @module
 */
import { BranchExistsError, StateError } from "../errors.ts";
import type { BranchRecord } from "../domain/inventory.ts";
import { inFlightError } from "../domain/lifecycle.ts";
import { validateBranchName } from "../domain/names.ts";
import { loadBranchIfExists } from "../ops/store/load_branch.ts";
import { inFlightAlive } from "../ops/operation_alive.ts";
import type { Context } from "../context.ts";
import { throwIfInterrupted } from "../runtime/interrupt.ts";
import { log } from "../runtime/log.ts";
import type { CreateBranchOptions } from "../ops/create_branch.ts";
import { Phases } from "../runtime/phases.ts";

/** The branch, and whether this call made it. */
export interface BranchEnsured {
  branch: BranchRecord;
  created: boolean;
}

/** What {@link ensureBranch} needs of the branch workflow (`BranchService`). */
export interface BranchMaker {
  create(name: string, options: CreateBranchOptions, phases: Phases): Promise<BranchRecord>;
  start(name: string, options: { port?: number }, phases: Phases): Promise<BranchRecord>;
}

/** How often a branch another zvpg process is creating is looked at again. */
const POLL_MS = 100;

/**
 * The branch `name`: created as `branch create` would when it does not exist, started when
 * it exists but does not run, returned as it is when it runs. Matches the exact name only.
 * The phases of a create or start go to `phases`.
 */
export async function ensureBranch(
  ctx: Context,
  service: BranchMaker,
  name: string,
  options: CreateBranchOptions = {},
  phases: Phases = new Phases(),
): Promise<BranchEnsured> {
  validateBranchName(name, ctx.config.branchNamingPattern);
  // the other process's create includes its ready wait: give it that and some more
  const deadline = Date.now() + (ctx.config.readyTimeoutSeconds * 2 + 30) * 1000;
  for (;;) {
    throwIfInterrupted();
    const existing = await findBranch(ctx, name);
    if (existing === undefined || (existing.state === "creating" && !inFlightAlive(existing))) {
      // missing, or the leftover of a dead create, which create rolls back first
      try {
        return { branch: await service.create(name, options, phases), created: true };
      } catch (error) {
        if (error instanceof BranchExistsError) continue; // another process made it first
        throw error;
      }
    }
    if (inFlightAlive(existing)) {
      if (existing.state === "deleting" || Date.now() > deadline) throw inFlightError(existing);
      log.debug(`branch '${name}' is being created by process ${existing.operationPid}: waiting`);
      await pause(POLL_MS);
      continue;
    }
    warnIfDifferent(existing, options);
    if (existing.status === "running") return { branch: existing, created: false };
    log.info(`branch '${name}' exists but is ${existing.status}: starting it`);
    try {
      return { branch: await service.start(name, { port: options.port }, phases), created: false };
    } catch (error) {
      // another process started it between the read and the start
      if (error instanceof StateError && /already running/.test(error.message)) continue;
      throw error;
    }
  }
}

/** The branch of exactly this name, or undefined (a narrow read, no lock). */
function findBranch(ctx: Context, name: string): Promise<BranchRecord | undefined> {
  return loadBranchIfExists(ctx, "branch create", name);
}

/** Says so on stderr when the existing branch does not come from what was asked. */
function warnIfDifferent(branch: BranchRecord, options: CreateBranchOptions): void {
  const differs = (options.from !== undefined && options.from !== branch.origin) ||
    (options.parent !== undefined && options.parent !== branch.parent);
  if (!differs) return;
  log.warn(
    `branch '${branch.name}' exists already (parent '${branch.parent}', origin '${branch.origin}'): kept as it is`,
  );
}

/** Waits `ms`, or throws at once on Ctrl-C. */
async function pause(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  throwIfInterrupted();
}
