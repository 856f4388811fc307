/**
 * Whether the zvpg process that recorded an operation on a branch is still at work: the
 * guard every command applies before it touches a branch another process is creating or
 * deleting. Reads `/proc`; the states themselves are in `src/domain/lifecycle.ts`.
 *
 * @module
 */
import type { BranchRecord } from "../domain/inventory.ts";
import { inFlightError, isInFlight } from "../domain/lifecycle.ts";

/** Whether a zvpg process with this pid is still running (its operation is in flight). */
export function operationAlive(pid: number | null): boolean {
  if (pid === null || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  try {
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return /zvpg|main\.ts|deno/.test(cmdline);
  } catch {
    return false;
  }
}

/** Whether the zvpg process recorded on an in-flight branch is still at work. */
export function inFlightAlive(b: Pick<BranchRecord, "state" | "operationPid">): boolean {
  return isInFlight(b) && operationAlive(b.operationPid);
}

/**
 * Refuses a branch that another live zvpg process is creating or deleting. A branch left
 * in flight by a dead process passes: each command decides how to finish it.
 */
export function assertNotBusy(b: BranchRecord): void {
  if (inFlightAlive(b)) throw inFlightError(b);
}
