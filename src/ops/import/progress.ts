/**
 * The progress of an import: each phase is logged at DEBUG (so the log file holds a
 * timed trace of every import, which bench/import_bench.ts reads), and on a terminal
 * shown on stderr with the elapsed time; counts (objects restored, bytes copied) are shown
 * on a terminal only, at most once a second. Nothing is shown when stderr is not a
 * terminal.
 *
 * @module
 */
import { log } from "../../runtime/log.ts";

/** The prefix of the DEBUG line that starts a phase (bench/import_bench.ts parses it). */
export const PHASE_MARK = "import phase: ";

/** Whether stderr is a terminal (false when it cannot be told). */
export function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** Phases and counts of one import. */
export class ImportProgress {
  readonly #started: number;
  #phase = "";
  #shownAt = 0;

  constructor(
    readonly terminal: boolean = stderrIsTerminal(),
    private readonly now: () => number = Date.now,
    private readonly show: (line: string) => void = (line) => log.info(line),
  ) {
    this.#started = now();
  }

  /** Starts a phase. */
  phase(name: string): void {
    this.#phase = name;
    log.debug(`${PHASE_MARK}${name}`);
    if (this.terminal) this.show(`import: ${name} (${this.#elapsed()})`);
  }

  /** Reports objects done in the current phase (out of `total` when known). */
  objects(done: number, total?: number): void {
    this.#count(`${done}${total ? `/${total}` : ""} objects`);
  }

  /** Reports bytes done in the current phase (out of `total` when known). */
  bytes(done: number, total?: number): void {
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    this.#count(`${mib(done)}${total ? ` of ${mib(total)}` : ""}`);
  }

  #count(what: string): void {
    if (!this.terminal) return;
    const now = this.now();
    if (now - this.#shownAt < 1000) return;
    this.#shownAt = now;
    this.show(`import: ${this.#phase}: ${what} (${this.#elapsed()})`);
  }

  #elapsed(): string {
    return `${((this.now() - this.#started) / 1000).toFixed(1)} s`;
  }
}
