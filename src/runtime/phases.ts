/**
 * Phase timings of a workflow (`--timings`): {@link Phases.time} measures one step under a
 * name, {@link Phases.total} the time since the timer was made, {@link Phases.done} gives
 * the record back.
 *
 * - A phase is recorded when its step returns: a step that throws records nothing.
 * - The record lists the phases in the order they were recorded, in milliseconds, unrounded
 *   (the output rounds them).
 * - A phase recorded twice keeps its last time.
 *
 * @module
 */

/** Time spent in each phase of a workflow, in milliseconds. */
export type PhaseTimings = Record<string, number>;

/** The phase timer of one workflow run. */
export class Phases {
  readonly #timings: PhaseTimings = {};
  readonly #began: number;

  /** Starts the timer; `clock` reads the time in milliseconds. */
  constructor(private readonly clock: () => number = () => performance.now()) {
    this.#began = clock();
  }

  /** Runs `step` and records its wall time under `phase`; returns its value. */
  async time<T>(phase: string, step: () => T | Promise<T>): Promise<T> {
    const started = this.clock();
    const value = await step();
    this.#timings[phase] = this.clock() - started;
    return value;
  }

  /** Records `total`: the time since the timer was made. */
  total(): void {
    this.#timings.total = this.clock() - this.#began;
  }

  /** The phases recorded so far (a copy). */
  done(): PhaseTimings {
    return { ...this.#timings };
  }
}
