/**
 * PostgreSQL client programs (psql, pg_dump, pg_restore, pg_basebackup, pg_controldata)
 * run inside a throwaway container of the configured image, so their version is the
 * image's, never the host's; and the loader server an import restores into.
 *
 * Secrets: the source password reaches a client only as a 0600 pgpass file, owned by the
 * client's uid, in a private temporary directory mounted read-only (`PGPASSFILE` names
 * its path), inside a parent directory only zvpg's uid may enter (see {@link ImportSecrets}). It is never in argv, in the container's environment or labels, and the
 * directory is removed when the import ends, however it ends.
 *
 * Network: clients run with `--network host`, so a source the host reaches (localhost, a
 * LAN name, a published port) is reached the same way under docker and rootful podman.
 *
 * @module
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Mount } from "../adapters/container_runtime.ts";
import { ZvpgError } from "../errors.ts";
import type { RunResult } from "../runtime/runner.ts";
import type { Context } from "../context.ts";
import { shielded } from "../runtime/interrupt.ts";
import { PRIVATE_DIR } from "../runtime/private_fs.ts";
import {
  CONTAINER_CONF_DIR,
  CONTAINER_PGDATA,
  CONTAINER_SOCKET_DIR,
  LABELS,
  serverArgs,
} from "../domain/layout.ts";

/** Where the private directory (pgpass, hba) is mounted in client and loader containers. */
export const SECRET_DIR = "/run/zvpg-secret";
/** How long one client program may run (a large dump or restore takes hours). */
const CLIENT_TIMEOUT_MS = 24 * 3600 * 1000;

/**
 * A private scratch directory for one import: the pgpass file and the loader's config.
 *
 * The client's uid (the image's postgres uid: 999, 100, 70…) may belong to another account
 * of the host, so the directory it owns is never reachable on its own: it is made inside a
 * parent only zvpg's uid may enter (0700, made first, with `mkdtemp`, which creates it
 * 0700 at once), so at no moment can another uid, the client's included, traverse to it.
 * The engine resolves bind-mount sources as root, so the client container still mounts it.
 */
export class ImportSecrets {
  /** The parent only zvpg's uid may enter (removed with everything in it). */
  readonly parent: string;
  /** The client's directory inside {@link parent}: what containers mount. */
  readonly dir: string;

  constructor(readonly owner: { uid: number; gid: number }) {
    this.parent = mkdtempSync(join(Deno.env.get("TMPDIR") ?? "/tmp", "zvpg-import-"));
    try {
      chmodSync(this.parent, PRIVATE_DIR);
      this.dir = join(this.parent, "client");
      mkdirSync(this.dir, { mode: PRIVATE_DIR });
      chmodSync(this.dir, PRIVATE_DIR);
      chownSync(this.dir, owner.uid, owner.gid);
    } catch (error) {
      rmSync(this.parent, { recursive: true, force: true });
      throw error;
    }
  }

  /** Writes a file only the client's uid can read. */
  write(name: string, content: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    chmodSync(path, 0o600);
    chownSync(path, this.owner.uid, this.owner.gid);
    return path;
  }

  /** Copies a file in, readable by the client's uid only. */
  copy(name: string, source: string): void {
    const path = join(this.dir, name);
    copyFileSync(source, path);
    chmodSync(path, 0o600);
    chownSync(path, this.owner.uid, this.owner.gid);
  }

  remove(): void {
    rmSync(this.parent, { recursive: true, force: true });
  }
}

/** What one client run needs. */
export interface ClientRun {
  program: string;
  args: string[];
  mounts?: Mount[];
  /** Reach the network (host networking); otherwise none. */
  network?: boolean;
  /**
   * `uid:gid` to run as instead of the image's postgres user: root, to read a user's dump
   * file whatever its owner (such runs get no network and need no password).
   */
  user?: string;
  /** Receives the program's stderr as it comes (progress reports). */
  onStderr?: (text: string) => void;
}

/** Runs client programs of the image as its postgres uid. */
export class PgClient {
  /** The containers of the runs under way (see {@link cancelAll}). */
  readonly #running = new Set<string>();

  constructor(
    private readonly ctx: Context,
    private readonly secrets: ImportSecrets,
  ) {}

  /** Runs one client program to completion; returns its output (never throws on exit code). */
  async run(call: ClientRun): Promise<RunResult> {
    const { ctx, secrets } = this;
    const name = `zvpg_import_${ctx.layout.pool}_${crypto.randomUUID().slice(0, 8)}`;
    this.#running.add(name);
    try {
      return await ctx.runtime.runToCompletion(
        {
          image: ctx.config.pgBaseImage,
          name,
          labels: { [LABELS.pool]: ctx.layout.pool, "zvpg.role": "import" },
          user: call.user ?? `${secrets.owner.uid}:${secrets.owner.gid}`,
          network: call.network ? "host" : "none",
          mounts: [
            { source: secrets.dir, target: SECRET_DIR, readonly: true },
            ...call.mounts ?? [],
          ],
          env: { PGPASSFILE: `${SECRET_DIR}/pgpass`, PGCONNECT_TIMEOUT: "15" },
          entrypoint: call.program,
          args: call.args,
        },
        CLIENT_TIMEOUT_MS,
        call.onStderr,
      );
    } finally {
      this.#running.delete(name);
      // a `run --rm` stopped by a signal may leave its container
      await shielded(() => ctx.runtime.remove(name)).catch(() => {});
    }
  }

  /**
   * Stops every run under way (their containers are removed, so each run returns a
   * failure): a failed import does not wait for a dump it no longer needs.
   */
  async cancelAll(): Promise<void> {
    for (const name of [...this.#running]) {
      await shielded(() => this.ctx.runtime.remove(name)).catch(() => {});
    }
  }

  /** Runs a client program and throws a one-line error naming `what` when it fails. */
  async check(what: string, call: ClientRun, hint: string): Promise<string> {
    const result = await this.run(call);
    if (result.code !== 0) {
      throw new ZvpgError(`${what} failed: ${firstError(result)}`, { hint });
    }
    return result.stdout;
  }
}

/** The most telling line of a failed client's output. */
export function firstError(result: RunResult): string {
  const lines = (result.stderr + "\n" + result.stdout).split("\n").map((l) => l.trim())
    .filter((l) => l !== "");
  // `--verbose` lines name objects (a table called "failed_jobs"): a line that says
  // "error:" or "FATAL:" is preferred to one that merely contains such a word
  const error = lines.find((l) => /\b(error|fatal|panic):/i.test(l)) ??
    lines.find((l) => /error|fatal|could not|failed|invalid/i.test(l));
  return (error ?? lines.at(-1) ?? `exit code ${result.code}`).slice(0, 400);
}

/**
 * Settings of a loader that fills a fresh cluster (a logical copy or a dump): nothing of it
 * is kept when the load fails, so durability is not needed while it runs. The load ends
 * with a CHECKPOINT and a clean stop, and zvpg snapshots the dataset right after, which
 * makes ZFS commit every written block; `wal_level=minimal` lets COPY skip WAL for tables
 * made in the same transaction. Not for a physical copy or an adopted data directory:
 * their replication slots refuse `wal_level=minimal`.
 */
export const BULK_LOAD_SETTINGS: readonly string[] = [
  "fsync=off",
  "full_page_writes=off",
  "synchronous_commit=off",
  "wal_level=minimal",
  "max_wal_senders=0",
  "archive_mode=off",
  "autovacuum=off",
  "max_wal_size=4GB",
  "checkpoint_timeout=30min",
  "maintenance_work_mem=256MB",
].flatMap((setting) => ["-c", setting]);

/**
 * A PostgreSQL server on a data directory being loaded: no network, socket only, local
 * trust (its own hba file), zvpg's postgresql.conf. Nothing but zvpg reaches it.
 */
export class LoaderServer {
  readonly name: string;
  private started = false;

  constructor(
    private readonly ctx: Context,
    private readonly secrets: ImportSecrets,
    private readonly pgdata: string,
    /** Host directory for the socket (private, owned by the postgres uid). */
    readonly socketDir: string,
    /** Fill a fresh cluster with {@link BULK_LOAD_SETTINGS}. */
    private readonly bulkLoad = false,
  ) {
    this.name = `zvpg_import_${ctx.layout.pool}_loader_${crypto.randomUUID().slice(0, 8)}`;
  }

  async start(): Promise<void> {
    const { ctx, secrets } = this;
    secrets.copy("postgresql.conf", ctx.config.pgConfPath);
    secrets.write("pg_hba.conf", "local all all trust\n");
    secrets.write("pg_ident.conf", "");
    this.started = true;
    await ctx.runtime.runDetached({
      image: ctx.config.pgBaseImage,
      name: this.name,
      labels: { [LABELS.pool]: ctx.layout.pool, "zvpg.role": "import" },
      user: `${secrets.owner.uid}:${secrets.owner.gid}`,
      network: "none",
      mounts: [
        { source: this.pgdata, target: CONTAINER_PGDATA },
        { source: this.socketDir, target: CONTAINER_SOCKET_DIR },
        { source: secrets.dir, target: CONTAINER_CONF_DIR, readonly: true },
      ],
      stopSignal: "SIGINT",
      shmSize: "256m",
      entrypoint: "postgres",
      args: [...serverArgs(false), ...(this.bulkLoad ? BULK_LOAD_SETTINGS : [])],
    });
    await this.waitReady();
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + this.ctx.config.readyTimeoutSeconds * 1000 * 4;
    while (Date.now() < deadline) {
      const state = await this.ctx.runtime.inspectState(this.name);
      if (state?.state !== "running") break;
      const r = await this.ctx.runtime.exec(
        this.name,
        `${this.secrets.owner.uid}:${this.secrets.owner.gid}`,
        ["pg_isready", "-q", "-h", CONTAINER_SOCKET_DIR],
        { tolerate: () => true },
      );
      if (r.code === 0) return;
      await new Promise((res) => setTimeout(res, 200));
    }
    const logs = await this.ctx.runtime.logs(this.name, 20).catch(() => "");
    const line = logs.split("\n").filter((l) => /FATAL|PANIC|ERROR/.test(l)).pop() ??
      logs.split("\n").pop() ?? "";
    throw new ZvpgError(`the imported data directory does not start: ${line.trim()}`, {
      hint: "check that the source is a cleanly shut-down cluster of the image's major version",
    });
  }

  /**
   * Runs SQL on the loader as `user` over the socket; returns stdout (`-At`). The SQL goes
   * on psql's standard input: no process list shows it (a password verifier, say).
   */
  sql(user: string, database: string, sql: string): Promise<string> {
    return this.psql(user, database, [], `${sql}\n`);
  }

  /** Runs a script of the private directory (`/etc/zvpg/<name>` inside) in one transaction. */
  sqlFile(user: string, database: string, path: string): Promise<string> {
    return this.psql(user, database, ["--single-transaction", "-f", path]);
  }

  private async psql(
    user: string,
    database: string,
    input: string[],
    stdin?: string,
  ): Promise<string> {
    const r = await this.ctx.runtime.exec(
      this.name,
      `${this.secrets.owner.uid}:${this.secrets.owner.gid}`,
      [
        "psql",
        "-X",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        CONTAINER_SOCKET_DIR,
        "-U",
        user,
        "-d",
        database,
        ...input,
      ],
      { tolerate: () => true, ...(stdin === undefined ? {} : { stdin }) },
    );
    if (r.code !== 0) {
      throw new ZvpgError(`SQL on the imported copy failed: ${firstError(r)}`, {
        hint: "check the source; nothing was kept",
      });
    }
    return r.stdout;
  }

  /** Stops the server cleanly (fast shutdown) and removes its container. */
  async stop(): Promise<void> {
    if (!this.started) return;
    await this.ctx.runtime.stop(this.name, 120);
    await this.ctx.runtime.remove(this.name);
    this.started = false;
  }

  /** Removes the container whatever its state (rollback). */
  async discard(): Promise<void> {
    await shielded(() => this.ctx.runtime.remove(this.name)).catch(() => {});
    this.started = false;
  }
}
