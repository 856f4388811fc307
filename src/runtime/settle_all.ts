/**
 * Awaiting steps that run at once.
 *
 * @module
 */

/**
 * Waits until every step has settled (none is left running behind a failure, so a
 * clean-up never races a step still at work), then throws the first failure, if any, or
 * returns the steps' values in order. `undefined` stands for a step not taken.
 */
export async function settleAll<T extends readonly unknown[]>(
  steps: { [K in keyof T]: Promise<T[K]> | T[K] },
): Promise<T> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
