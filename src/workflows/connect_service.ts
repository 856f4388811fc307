/**
 * `branch url|env|psql`: how to reach a running branch. Each call (re)writes the branch's
 * own pgpass file (0600, in a 0700 directory under the config directory) for its current
 * host and port, so `PGPASSFILE` and the URI's `passfile` parameter always name a file that
 * holds the password; the password itself is printed only when asked.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, StateError } from "../errors.ts";
import { type Connection, pgpassLine } from "../domain/connection.ts";
import type { BranchRecord } from "../domain/inventory.ts";
import { validateBranchName } from "../domain/names.ts";
import { loadBranch } from "../ops/store/load_branch.ts";
import { runPsql } from "../ops/branch_psql.ts";
import type { Context } from "../context.ts";
import { ensurePrivateDir, replacePrivateFile } from "../runtime/private_fs.ts";
import { readPassword } from "../ops/credentials.ts";

/** A running branch's connection, and its password when asked for. */
export interface BranchConnection {
  connection: Connection;
  /** Only with `--show-password`. */
  password?: string;
}

/** The connection helpers. */
export class ConnectService {
  constructor(private readonly ctx: Context) {}

  /** The connection of a running branch; writes its passfile. */
  async connect(
    name: string,
    options: { showPassword?: boolean } = {},
  ): Promise<BranchConnection> {
    const branch = await this.runningBranch(name);
    const { connection, password } = this.prepare(branch);
    return options.showPassword ? { connection, password } : { connection };
  }

  /** Runs psql on a running branch with `args`; returns psql's exit code. */
  async psql(name: string, args: string[]): Promise<number> {
    const branch = await this.runningBranch(name);
    return await runPsql(this.ctx, branch, this.prepare(branch).connection, args);
  }

  /** The branch, refused unless it serves on a port now. */
  private async runningBranch(name: string): Promise<BranchRecord> {
    validateBranchName(name, this.ctx.config.branchNamingPattern);
    const branch = await loadBranch(this.ctx, "branch connect", name);
    if (branch.status !== "running" || branch.port === null || !branch.container) {
      throw new StateError(`branch '${name}' is not running (status: ${branch.status})`, {
        hint: `start it with 'zvpg branch start ${name}'`,
      });
    }
    return branch;
  }

  /** The connection of a running branch, its passfile written for its host and port. */
  private prepare(branch: BranchRecord): { connection: Connection; password: string } {
    const { config, layout } = this.ctx;
    const connection: Connection = {
      branch: branch.name,
      host: layout.connectHost,
      port: branch.port!,
      user: config.postgresUser,
      database: config.postgresDb,
      passfile: layout.branchPassFile(branch.name),
    };
    if (!existsSync(layout.passFile)) {
      throw new ConfigError(`there is no password file ${layout.passFile}`, {
        hint: "run 'zvpg init env' to create it",
      });
    }
    const password = readPassword(layout.passFile);
    ensurePrivateDir(dirname(connection.passfile));
    replacePrivateFile(connection.passfile, pgpassLine(connection, password));
    return { connection, password };
  }
}
