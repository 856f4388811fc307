/**
 * A small leveled logger. Messages go to stderr (never stdout, which is kept for data)
 * and, when a log directory is configured and writable, are appended to `zvpg.log` there.
 *
 * @module
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** Log levels, in increasing order of severity. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

const rank = (level: LogLevel) => LOG_LEVELS.indexOf(level);

/** Writes leveled messages to stderr and an optional log file. */
export class Logger {
  #level: LogLevel = "INFO";
  #file?: string;
  #quiet = false;

  /** Only messages at `level` or above are shown. */
  setLevel(level: LogLevel): void {
    this.#level = level;
  }

  /** Appends messages of every level to `<dir>/zvpg.log`; silently off when not writable. */
  setLogDir(dir: string | undefined): void {
    this.#file = undefined;
    if (!dir) return;
    try {
      mkdirSync(dir, { recursive: true });
      this.#file = join(dir, "zvpg.log");
      appendFileSync(this.#file, "");
    } catch {
      this.#file = undefined;
    }
  }

  /** Hides INFO progress lines on stderr (errors and warnings still show). */
  setQuiet(quiet: boolean): void {
    this.#quiet = quiet;
  }

  debug(message: string): void {
    this.#write("DEBUG", message);
  }
  info(message: string): void {
    this.#write("INFO", message);
  }
  warn(message: string): void {
    this.#write("WARN", message);
  }
  error(message: string): void {
    this.#write("ERROR", message);
  }

  #write(level: LogLevel, message: string): void {
    if (this.#file) {
      try {
        appendFileSync(
          this.#file,
          `${new Date().toISOString()} ${Deno.pid} ${level} ${message}\n`,
        );
      } catch {
        // The log file is best effort: never fail a command because of it.
      }
    }
    if (rank(level) < rank(this.#level)) return;
    if (this.#quiet && level === "INFO") return;
    const prefix = level === "INFO" ? "" : `${level.toLowerCase()}: `;
    console.error(`${prefix}${message}`);
  }
}

/** The process-wide logger. */
export const log: Logger = new Logger();
