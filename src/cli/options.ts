/**
 * Shared option declarations and value parsers: a bad value is a usage error (exit 2)
 * raised by commander before any action runs.
 *
 * @module
 */
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { parseDuration, readRfc3339 } from "../domain/duration.ts";
import { validateRemoteName } from "../domain/names.ts";

/** Output formats of `-f/--format`. */
export const FORMATS = ["table", "json"] as const;
/** One of {@link FORMATS}. */
export type Format = typeof FORMATS[number];

/** The `-f, --format` option. */
export function formatOption() {
  return new Option("-f, --format <format>", "output format: table or json").choices(FORMATS)
    .default("table" as const);
}

/** `--device`: where a new pool goes (`init env`, `clone`). */
export function deviceOption() {
  return new Option(
    "--device <path>",
    "create the pool on this device or file instead of a sparse file (sets zfsPoolDevice)",
  );
}

/** `--pool-size`: the sparse file of a new file-backed pool (`init env`, `clone`). */
export function poolSizeOption() {
  return new Option(
    "--pool-size <size>",
    "size of the sparse file of a new file-backed pool, e.g. 20G (sets zfsPoolSize)",
  ).argParser(parsePoolSize);
}

/** Parses a TCP port argument (1-65535). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError("must be a whole number from 1 to 65535.");
  }
  return port;
}

/** Parses the size of a sparse pool file: digits and an optional K, M, G or T. */
export function parsePoolSize(value: string): string {
  if (!/^[1-9][0-9]*[KMGT]?$/.test(value)) {
    throw new InvalidArgumentError("use a size such as 10G or 512M.");
  }
  return value;
}

/** The `Examples:` help block (one example a line, `# comment` kept). */
export function examples(...lines: string[]): string {
  const title = lines.length === 1 ? "Example" : "Examples";
  return `\n${title}:\n${lines.map((l) => `  ${l}`).join("\n")}`;
}

/** Parses a duration such as 30m, 8h, 7d (units s, m, h, d, w) into seconds. */
export function parseTtl(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined) {
    throw new InvalidArgumentError("use a duration such as 30m, 8h or 7d (at most 10 years).");
  }
  return seconds;
}

/**
 * Parses an RFC 3339 time with a zone, e.g. 2027-06-01T18:00:00Z; one that names no
 * calendar instant (2027-02-30, 24:00) is refused, saying why.
 */
export function parseExpiresAt(value: string): Date {
  const read = readRfc3339(value);
  if (read === undefined) {
    throw new InvalidArgumentError("use an RFC 3339 time with a zone, e.g. 2027-06-01T18:00:00Z.");
  }
  if ("problem" in read) {
    throw new InvalidArgumentError(
      `${read.problem}: use a date and time that exist, e.g. 2027-06-01T18:00:00Z.`,
    );
  }
  return read.date;
}

/** `branch expire`'s operand: a duration, an RFC 3339 time, or `never` (null). */
export function parseExpiryOperand(value: string): { ttlSeconds: number } | { at: Date } | null {
  if (value === "never") return null;
  const seconds = parseDuration(value);
  if (seconds !== undefined) return { ttlSeconds: seconds };
  if (readRfc3339(value) !== undefined) return { at: parseExpiresAt(value) };
  throw new InvalidArgumentError(
    "use a duration such as 30m, 8h or 7d, an RFC 3339 time, or 'never'.",
  );
}

/** `--jobs`: parallel jobs, 1 to 64. */
export function parseJobs(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > 64) {
    throw new InvalidArgumentError("use a number of jobs from 1 to 64.");
  }
  return n;
}

/** Repeatable `--database`: collects the names. */
export function collectDatabase(value: string, previous: string[] | undefined): string[] {
  if (value === "" || value.length > 63) {
    throw new InvalidArgumentError("use a database name of 1 to 63 characters.");
  }
  return [...previous ?? [], value];
}

/** `--mode` of a data import. */
export function modeOption() {
  return new Option(
    "--mode <mode>",
    "server sources: logical (pg_dump/pg_restore, default) or physical (pg_basebackup)",
  ).choices(["logical", "physical"] as const);
}

/** A remote name operand, checked: one that breaks the rules is a usage error (exit 2). */
export function parseRemoteName(value: string): string {
  validateRemoteName(value);
  return value;
}

/** Parses `on` or `off` (`branch archive`). */
export function parseOnOff(value: string): boolean {
  if (value === "on") return true;
  if (value === "off") return false;
  throw new InvalidArgumentError("use on or off.");
}
