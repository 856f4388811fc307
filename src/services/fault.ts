/**
 * Fault points: `ZVPG_FAULT=<step>` makes zvpg kill itself with SIGKILL when it reaches
 * that step, so tests can crash every step of a multi-step operation for real.
 *
 * @module
 */
import { log } from "../log.ts";

/** Dies like `kill -9` when `ZVPG_FAULT` names this step. */
export function faultPoint(step: string): void {
  const wanted = Deno.env.get("ZVPG_FAULT");
  if (!wanted || wanted !== step) return;
  log.warn(`fault point '${step}' reached: killing zvpg (ZVPG_FAULT)`);
  Deno.kill(Deno.pid, "SIGKILL");
}
