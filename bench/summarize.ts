/**
 * Summary statistics of benchmark samples: {@link summarize}, {@link median}.
 *
 * @module
 */

/** Summary statistics of a sample (milliseconds or bytes). */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p10: number;
  p90: number;
  mean: number;
}

/** The p-quantile (0..1) of sorted values, by linear interpolation. */
export function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, spread and mean of `values`, ignoring non-finite ones (NaN fields when empty). */
export function summarize(values: number[]): Summary {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    median: quantile(sorted, 0.5),
    min: n ? sorted[0] : NaN,
    max: n ? sorted[n - 1] : NaN,
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : NaN,
  };
}

/** The median of `values` (NaN when empty). */
export function median(values: number[]): number {
  return summarize(values).median;
}
