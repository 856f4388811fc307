/**
 * Durations and expiry times of branches (`--ttl 7d`, `--expires-at <RFC 3339>`,
 * `branch expire <name> 8h|never`), parsed without I/O.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

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

/** The parts of an RFC 3339 date-time with a zone (RFC 3339 §5.6; `t`, `z` and a space too). */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 time with a zone (`2027-06-01T18:00:00Z`, `...+01:00`); why not, when `text`
 * has the form of one but names no instant of the calendar (`2027-02-30`, `24:00:00`, a
 * `:60` leap second: each field is checked, never rolled over into the next month or day);
 * undefined when it does not have the form, such as a time without a zone (its meaning
 * would depend on the machine).
 */
export function readRfc3339(text: string): { date: Date } | { problem: string } | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const [sign, offsetHours, offsetMinutes] = [m[9], Number(m[10] ?? 0), Number(m[11] ?? 0)];
  const problem = month < 1 || month > 12
    ? `there is no month ${m[2]}`
    : day < 1 || day > daysInMonth(year, month)
    ? `${m[1]}-${m[2]} has no day ${m[3]}`
    : hour > 23
    ? `there is no hour ${m[4]} (00 to 23)`
    : minute > 59
    ? `there is no minute ${m[5]} (00 to 59)`
    : second > 59
    ? `there is no second ${m[6]} (00 to 59)`
    : offsetHours > 23 || offsetMinutes > 59
    ? `there is no zone offset ${sign}${m[10]}:${m[11]}`
    : undefined;
  if (problem) return { problem };
  const millis = Math.floor(Number(`0${m[7] ?? ""}`) * 1000);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  const offset = (sign === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  date.setTime(date.getTime() - offset * 60_000);
  return { date };
}

/** An RFC 3339 time with a zone, or undefined (see {@link readRfc3339}). */
export function parseRfc3339(text: string): Date | undefined {
  const read = readRfc3339(text);
  return read && "date" in read ? read.date : undefined;
}

/** Days in `month` (1-12) of `year`, by the Gregorian rule. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
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

/**
 * The expiry at time `at` (no TTL). A time not after `now` would make the branch expired at
 * once (the next `zvpg gc` deletes it): refused as a likely typo unless `force`.
 */
export function expiryAt(at: Date, now: Date, force = false): Expiry {
  if (!force && isExpired(at, now)) {
    throw new UsageError(
      `expiry time ${at.toISOString()} is not in the future (it is now ${now.toISOString()})`,
      { hint: "give a later time, or add --force to expire the branch now ('zvpg gc' deletes it)" },
    );
  }
  return { expiresAt: at, ttlSeconds: null };
}

/** Whether a branch expiring at `expiresAt` has expired at `now`. */
export function isExpired(expiresAt: Date | null | undefined, now: Date): boolean {
  return expiresAt !== null && expiresAt !== undefined && expiresAt.getTime() <= now.getTime();
}
