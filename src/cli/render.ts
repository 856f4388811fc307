/**
 * The one place that switches on the output format (after neonctl's `writer`): a handler
 * hands its result and the result's {@link View} to {@link render} and returns what it
 * returns, the exit code.
 *
 * @module
 */
import type { Format } from "./options.ts";

/** How one kind of result is shown: its JSON document and its text for people. */
export interface View<T> {
  /** The `-f json` document (schemas documented in the README: fields are never renamed). */
  json(value: T): unknown;
  /** The text on stdout; an empty string prints nothing. */
  text(value: T): string;
  /** A note on stderr in the text format (e.g. an empty listing). */
  note?(value: T): string | undefined;
  /** The exit code the result stands for (default 0). */
  exitCode?(value: T): number;
}

/** Where output goes: stdout for data, stderr for notes. Tests replace both. */
export const terminal = {
  out(text: string): void {
    writeAll(Deno.stdout, text);
  },
  err(text: string): void {
    writeAll(Deno.stderr, text);
  },
};

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = new TextEncoder().encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

/** Writes `value` in `format` as `view` describes it and returns its exit code. */
export function render<T>(value: T, view: View<T>, format: Format): number {
  if (format === "json") {
    terminal.out(JSON.stringify(view.json(value), null, 2) + "\n");
  } else {
    const text = view.text(value);
    if (text !== "") terminal.out(text + "\n");
    const note = view.note?.(value);
    if (note) terminal.err(note + "\n");
  }
  return view.exitCode?.(value) ?? 0;
}
