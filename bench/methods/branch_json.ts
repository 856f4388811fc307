/**
 * The `-f json` documents the benchmark reads, typed by the CLI's own schema.
 *
 * @module
 */
export type { BranchJson } from "../../src/cli/views.ts";

/** What `branch create --timings -f json` adds to {@link BranchJson}: phases in ms. */
export interface PhaseTimingsJson {
  timings?: Record<string, number>;
}
