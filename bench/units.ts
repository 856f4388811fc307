/**
 * Units of the benchmark reports. Bytes print exactly as the CLI prints them
 * (`formatBytes` of src/cli/output.ts); durations have no CLI form, so they live here.
 *
 * @module
 */
import { formatBytes } from "../src/cli/output.ts";

/** Bytes as the CLI prints them, or `n/a` when not measured. */
export function formatSize(bytes: number): string {
  return Number.isFinite(bytes) ? formatBytes(bytes) : "n/a";
}

/** Milliseconds as `123 ms` or `4.56 s`, or `n/a` when not measured. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 100_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(0)} s`;
}

/** Parses `100MB`, `1GB`, `5GB`, `512M`, `20mb` into MiB. */
export function parseSizeMiB(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?\s*$/i.exec(text);
  if (!m) throw new Error(`invalid size '${text}': use e.g. 100MB, 1GB, 5GB`);
  const unit = m[2].toUpperCase();
  const factor = unit === "K" ? 1 / 1024 : unit === "G" ? 1024 : unit === "T" ? 1024 * 1024 : 1;
  const mib = Number(m[1]) * factor;
  if (!(mib >= 1)) throw new Error(`invalid size '${text}': must be at least 1MB`);
  return mib;
}

/** A short label of a size in MiB: `100MB`, `1GB`, `1.5GB`. */
export function sizeLabel(mib: number): string {
  if (mib >= 1024) return `${Number((mib / 1024).toFixed(2))}GB`;
  return `${Number(mib.toFixed(1))}MB`;
}
