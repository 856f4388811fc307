/**
 * Shared option declarations and value parsers: a bad value is a usage error (exit 2)
 * raised by commander before any action runs.
 *
 * @module
 */
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";

/** Output formats of `-f/--format`. */
export const FORMATS = ["table", "json"] as const;
/** One of {@link FORMATS}. */
export type Format = typeof FORMATS[number];

/** The `-f, --format` option. */
export function formatOption() {
  return new Option("-f, --format <format>", "output format: table or json").choices(FORMATS)
    .default("table" as const);
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
