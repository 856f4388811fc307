/**
 * Awaiting steps that run at once.
 *
 * @module
 */

/**
 * Waits until every step has settled (none is left running behind a failure, so a
 * clean-up never races a step still at work), then throws the first failure, if any.
 * `undefined` stands for a step not taken.
 */
export async function settleAll(steps: (Promise<unknown> | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
