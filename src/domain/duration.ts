/**
 * Durations and expiry times of branches (`--ttl 7d`, `--expires-at <RFC 3339>`,
 * `branch expire <name> 8h|never`), parsed without I/O.
 *
 * @module
 */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** The longest TTL accepted (10 years): a longer one is a typo, not a plan. */
export const MAX_TTL_SECONDS = 10 * 365 * 86400;

/**
 * Seconds in a duration such as `30m`, `8h`, `7d` (units s, m, h, d, w; one positive
 * whole number and one unit), or undefined when it is not one.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,8})([smhdw])$/.exec(text.trim());
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]];
  return seconds <= MAX_TTL_SECONDS ? seconds : undefined;
}

/**
 * An RFC 3339 time with a zone (`2026-12-01T18:00:00Z`, `...+01:00`), or undefined. A
 * time without a zone is refused: its meaning would depend on the machine.
 */
export function parseRfc3339(text: string): Date | undefined {
  const re = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  if (!re.test(text.trim())) return undefined;
  const date = new Date(text.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A branch's expiry: when, and the TTL it came from (restarted by a reset), if any. */
export interface Expiry {
  expiresAt: Date;
  ttlSeconds: number | null;
}

/** The expiry `ttlSeconds` from `now`. */
export function expiryFromTtl(now: Date, ttlSeconds: number): Expiry {
  return { expiresAt: new Date(now.getTime() + ttlSeconds * 1000), ttlSeconds };
}

/** Whether a branch expiring at `expiresAt` has expired at `now`. */
export function isExpired(expiresAt: Date | null | undefined, now: Date): boolean {
  return expiresAt !== null && expiresAt !== undefined && expiresAt.getTime() <= now.getTime();
}
