/**
 * The result of one environment or health check, shared by `init check` and
 * `status health`.
 *
 * @module
 */

/** One check: what was checked, its outcome, what was found, and how to fix it. */
export interface Check {
  name: string;
  status: "pass" | "warn" | "fail";
  detail: string;
  hint?: string;
}

/** Whether no check failed (warnings pass). */
export function allPassed(checks: Check[]): boolean {
  return checks.every((c) => c.status !== "fail");
}
