/**
 * PostgreSQL client checks run from the host (`pg_isready`).
 *
 * @module
 */
import type { CommandRunner } from "../process/runner.ts";

/** Answers whether a server accepts connections. */
export class PostgresProbe {
  constructor(private readonly runner: CommandRunner, private readonly pgIsReady = "pg_isready") {}

  /** True when the server at host:port accepts connections. */
  async isReady(host: string, port: number, user: string, database: string): Promise<boolean> {
    const result = await this.runner.run(
      this.pgIsReady,
      ["-q", "-h", host, "-p", String(port), "-U", user, "-d", database, "-t", "2"],
      { allowFailure: true, timeoutMs: 10_000 },
    );
    return result.code === 0;
  }

  /**
   * Polls {@link isReady} every `intervalMs` until it answers yes, `timeoutMs` passes, or
   * `stillAlive` says the server is gone. Returns whether it became ready.
   */
  async waitReady(
    host: string,
    port: number,
    user: string,
    database: string,
    options: { timeoutMs: number; intervalMs?: number; stillAlive?: () => Promise<boolean> },
  ): Promise<boolean> {
    const interval = options.intervalMs ?? 100;
    const deadline = Date.now() + options.timeoutMs;
    let checks = 0;
    while (Date.now() < deadline) {
      if (await this.isReady(host, port, user, database)) return true;
      checks++;
      if (options.stillAlive && checks % 10 === 0 && !(await options.stillAlive())) return false;
      await new Promise((r) => setTimeout(r, interval));
    }
    return false;
  }
}
