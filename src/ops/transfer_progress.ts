/**
 * The progress of a transfer (push, pull): on a terminal, the bytes so far, the rate and,
 * when the size is known, how much is left, on stderr at most once a second. Nothing is
 * shown when stderr is not a terminal.
 *
 * @module
 */
import { log } from "../runtime/log.ts";
import { stderrIsTerminal } from "./import/progress.ts";

/** Progress lines of one transfer. */
export class TransferProgress {
  readonly #started: number;
  #shownAt = 0;

  /** `what`: the transfer, as a line starts (e.g. `push 'v1' to 'staging'`). */
  constructor(
    private readonly what: string,
    readonly terminal: boolean = stderrIsTerminal(),
    private readonly now: () => number = Date.now,
    private readonly show: (line: string) => void = (line) => log.info(line),
  ) {
    this.#started = now();
  }

  /** Reports `done` bytes (out of `total` when known). */
  bytes(done: number, total?: number | null): void {
    if (!this.terminal) return;
    const now = this.now();
    if (now - this.#shownAt < 1000) return;
    this.#shownAt = now;
    this.show(`${this.what}: ${progressText(done, (now - this.#started) / 1000, total)}`);
  }
}

/** `12.0 MiB, 4.0 MiB/s`, with `of 48.0 MiB, ~9 s left` when the total is known. */
export function progressText(done: number, seconds: number, total?: number | null): string {
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const rate = seconds > 0 ? done / seconds : 0;
  const known = total !== undefined && total !== null && total > 0;
  const left = known && rate > 0 ? `, ~${Math.ceil(Math.max(0, total - done) / rate)} s left` : "";
  return `${mib(done)}${known ? ` of ${mib(total)}` : ""}, ${mib(rate)}/s${left}`;
}
