/**
 * Text forms for people: borderless tables, aligned key/value blocks, sizes and times.
 * Pure: every function returns text, {@link render} writes it.
 *
 * @module
 */
import Table from "cli-table3";

/** A table cell or field value; null, undefined and "" print as `-` in fields. */
export type Cell = string | number | null | undefined;

const BLANK = {
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

/** A borderless table (like `docker ps`), trailing spaces trimmed. */
export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head,
    chars: BLANK,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of rows) t.push(row.map(String));
  return t.toString().split("\n").map((l) => l.trimEnd()).join("\n");
}

/** `Key: value` lines, aligned. */
export function fields(pairs: [string, Cell][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([key, value]) =>
    `${(key + ":").padEnd(width)} ${
      value === null || value === undefined || value === "" ? "-" : value
    }`
  ).join("\n");
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

/** A time for tables: local-independent `YYYY-MM-DD HH:MM:SSZ` UTC. */
export function formatTime(date: Date): string {
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
