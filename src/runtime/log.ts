/**
 * A small leveled logger. Messages go to stderr (never stdout, which is kept for data)
 * and, when a log directory is configured and writable, are appended to `zvpg.log` there.
 *
 * @module
 */
import { join } from "node:path";
import { ensurePrivateDir, ensurePrivateFile } from "./private_fs.ts";

/** Log levels, in increasing order of severity. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

const rank = (level: LogLevel) => LOG_LEVELS.indexOf(level);

/** Writes leveled messages to stderr and an optional log file. */
export class Logger {
  #level: LogLevel = "INFO";
  #file?: string;
  #dir?: string;
  #quiet = false;

  /** Only messages at `level` or above are shown. */
  setLevel(level: LogLevel): void {
    this.#level = level;
  }

  /**
   * Appends messages of every level to `<dir>/zvpg.log` (mode 0600; a directory made here
   * is 0700); silently off when not writable.
   */
  setLogDir(dir: string | undefined): void {
    this.#file = undefined;
    this.#dir = undefined;
    if (!dir) return;
    try {
      // an existing directory may be shared (e.g. /var/log): only the file is made private
      ensurePrivateDir(dir, { fixExisting: false });
      const file = join(dir, "zvpg.log");
      ensurePrivateFile(file);
      this.#file = file;
      this.#dir = dir;
    } catch {
      this.#file = undefined;
    }
  }

  /** The directory `zvpg.log` is written to, when logging to a file works. */
  get logDir(): string | undefined {
    return this.#dir;
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
        // not node:fs appendFileSync: it chmods the file to 0666 on every call
        Deno.writeTextFileSync(
          this.#file,
          `${new Date().toISOString()} ${Deno.pid} ${level} ${message}\n`,
          { append: true },
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
