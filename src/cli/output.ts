/**
 * Rendering: JSON for scripts (stdout, nothing else), borderless tables and key/value
 * blocks for people.
 *
 * @module
 */
import Table from "cli-table3";
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { allPassed, type Check } from "../services/check.ts";

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

/** Writes a value as JSON (two-space indent) on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Writes a borderless table (like `docker ps`) on stdout. */
export function printTable(head: string[], rows: (string | number)[][]): void {
  const blank = {
    top: "",
    "top-mid": "",
    "top-left": "",
    "top-right": "",
    bottom: "",
    "bottom-mid": "",
    "bottom-left": "",
    "bottom-right": "",
    left: "",
    "left-mid": "",
    mid: "",
    "mid-mid": "",
    right: "",
    "right-mid": "",
    middle: "   ",
  };
  const table = new Table({
    head,
    chars: blank,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of rows) table.push(row.map(String));
  console.log(table.toString().split("\n").map((l) => l.trimEnd()).join("\n"));
}

/** Writes `Key: value` lines, aligned, on stdout. */
export function printFields(fields: [string, string | number | null | undefined][]): void {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  for (const [key, value] of fields) {
    console.log(
      `${(key + ":").padEnd(width)} ${
        value === null || value === undefined || value === "" ? "-" : value
      }`,
    );
  }
}

/** Bytes as a human size: 0 B, 12.0 KiB, 3.4 GiB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A time for tables: local-independent `YYYY-MM-DD HH:MM:SS` UTC. */
export function formatTime(date: Date): string {
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/**
 * Prints checks (one `STATUS  name  detail  (hint)` line each, or `{ok, checks, ...extra}`
 * as JSON) and sets exit code 1 when any failed.
 */
export function printChecks(
  checks: Check[],
  format: Format,
  extra: Record<string, unknown> = {},
): void {
  const ok = allPassed(checks);
  if (format === "json") printJson({ ok, checks, ...extra });
  else {
    const width = Math.max(...checks.map((c) => c.name.length)) + 1;
    for (const c of checks) {
      const hint = c.hint ? `  (${c.hint})` : "";
      console.log(
        `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)} ${c.detail}${hint}`,
      );
    }
  }
  if (!ok) Deno.exitCode = 1;
}
