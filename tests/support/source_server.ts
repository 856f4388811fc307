/**
 * A PostgreSQL server zvpg does not manage, for import tests: its own container (no zvpg
 * labels) on a data directory in a host directory, password authentication for TCP and
 * replication, and a small data set with a table, an index, an enum, a view, a function,
 * a sequence, a contrib extension and non-ASCII text.
 *
 * @module
 */
import { appendFileSync, chownSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { sh, TEST_IMAGE, type TestEnv } from "./itest.ts";

/** The tables whose contents import tests compare. */
export const SOURCE_TABLES = ["public.customers", "public.orders", "shop.items"];

const SETUP_SQL = `
CREATE EXTENSION pgcrypto;
CREATE ROLE reader NOLOGIN;
SET ROLE app;
CREATE TYPE mood AS ENUM ('happy', 'sad', 'ok');
CREATE SEQUENCE invoice_no START 1000;
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, feeling mood,
  token text DEFAULT encode(digest('x', 'sha256'), 'hex'));
CREATE INDEX customers_name ON customers (name);
CREATE TABLE orders (id bigint PRIMARY KEY DEFAULT nextval('invoice_no'),
  customer int REFERENCES customers, total numeric(10,2));
CREATE SCHEMA shop;
CREATE TABLE shop.items (sku text PRIMARY KEY, label text);
INSERT INTO customers (name, feeling) SELECT 'Zoë Ångström №' || g, (ARRAY['happy','sad','ok']::mood[])[g % 3 + 1] FROM generate_series(1, 500) g;
INSERT INTO orders (customer, total) SELECT g % 500 + 1, g * 1.25 FROM generate_series(1, 2000) g;
INSERT INTO shop.items VALUES ('ß-1', 'Straße ☕'), ('é-2', 'café 日本語');
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE FUNCTION order_count(c int) RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM orders WHERE customer = c $$;
GRANT SELECT ON customers TO reader;
`;

/** One source server. */
export class SourceServer {
  readonly name: string;
  readonly dir: string;
  readonly password = `Src-${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}:x`;

  constructor(
    readonly port: number,
    readonly image: string,
    readonly uid: number,
  ) {
    const id = crypto.randomUUID().slice(0, 8);
    this.name = `zvpg-import-src-${id}`;
    this.dir = `/tmp/zvpg-import-src-${id}`;
  }

  get pgdata(): string {
    return join(this.dir, "pgdata");
  }

  /** `postgresql://app@127.0.0.1:<port>/app` (no password). */
  uri(user = "app", db = "app"): string {
    return `postgresql://${user}@127.0.0.1:${this.port}/${db}`;
  }

  /** initdb, start, and load the data set. */
  async start(): Promise<void> {
    mkdirSync(this.pgdata, { recursive: true });
    chownSync(this.dir, this.uid, this.uid);
    chownSync(this.pgdata, this.uid, this.uid);
    writeFileSync(join(this.dir, "pw"), this.password + "\n", { mode: 0o600 });
    chownSync(join(this.dir, "pw"), this.uid, this.uid);
    const init = await this.docker([
      "run",
      "--rm",
      "--user",
      `${this.uid}:${this.uid}`,
      "-v",
      `${this.dir}:/src`,
      "--entrypoint",
      "initdb",
      this.image,
      "-D",
      "/src/pgdata",
      "-U",
      "postgres",
      "--pwfile=/src/pw",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
    ]);
    if (init.code !== 0) throw new Error(`initdb of the source failed: ${init.stderr}`);
    rmSync(join(this.dir, "pw"));
    appendFileSync(
      join(this.pgdata, "pg_hba.conf"),
      "host all all 0.0.0.0/0 scram-sha-256\nhost replication all 0.0.0.0/0 scram-sha-256\n",
    );
    await this.run();
    await this.psql("postgres", `CREATE ROLE app LOGIN PASSWORD '${this.password}'`);
    await this.psql(
      "postgres",
      "CREATE ROLE repl LOGIN REPLICATION PASSWORD '" + this.password + "'",
    );
    await this.psql("postgres", "CREATE DATABASE app OWNER app");
    await this.psql("app", "GRANT ALL ON SCHEMA public TO app");
    await this.psql("app", SETUP_SQL);
  }

  /** Starts (or restarts) the server container on the data directory. */
  async run(): Promise<void> {
    const r = await this.docker([
      "run",
      "-d",
      "--name",
      this.name,
      "--user",
      `${this.uid}:${this.uid}`,
      "-p",
      `127.0.0.1:${this.port}:5432`,
      "-v",
      `${this.pgdata}:/var/lib/postgresql/data`,
      "--stop-signal",
      "SIGINT",
      "--entrypoint",
      "postgres",
      this.image,
      "-D",
      "/var/lib/postgresql/data",
      "-c",
      "listen_addresses=*",
      "-c",
      "unix_socket_directories=/tmp",
    ]);
    if (r.code !== 0) throw new Error(`source start failed: ${r.stderr}`);
    for (let i = 0; i < 100; i++) {
      const ready = await this.docker(["exec", this.name, "pg_isready", "-q", "-h", "/tmp"]);
      if (ready.code === 0) return;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error("the source server did not start");
  }

  /** Stops the server cleanly and removes its container (the data directory stays). */
  async stop(): Promise<void> {
    await this.docker(["stop", "-t", "60", this.name]);
    await this.docker(["rm", "-f", this.name]);
  }

  /** Runs SQL as postgres over the container's socket; returns -At output. */
  async psql(db: string, sql: string): Promise<string> {
    const r = await this.docker([
      "exec",
      "--user",
      `${this.uid}:${this.uid}`,
      this.name,
      "psql",
      "-X",
      "-At",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "/tmp",
      "-U",
      "postgres",
      "-d",
      db,
      "-c",
      sql,
    ]);
    if (r.code !== 0) throw new Error(`source psql failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  /**
   * Dumps database `app` with pg_dump inside the server's container (`format`: c, d, t or
   * p; `extra` options) and copies the dump to `hostPath`. Throws when pg_dump fails.
   */
  async dump(format: string, hostPath: string, extra: string[] = []): Promise<void> {
    const inside = `/tmp/${basename(hostPath)}`;
    const made = await this.docker([
      ...["exec", "--user", `${this.uid}:${this.uid}`, this.name],
      ...["pg_dump", `-F${format}`, ...extra, "-h", "/tmp", "-U", "postgres", "-d", "app"],
      ...["-f", inside],
    ]);
    if (made.code !== 0) throw new Error(`source pg_dump failed: ${made.stderr}`);
    const copied = await this.docker(["cp", `${this.name}:${inside}`, hostPath]);
    if (copied.code !== 0) throw new Error(`docker cp of the dump failed: ${copied.stderr}`);
  }

  /** Runs a client program of the image on the host network as the image's postgres user. */
  client(
    args: string[],
    mounts: string[] = [],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.docker([
      "run",
      "--rm",
      "--network",
      "host",
      "--user",
      `${this.uid}:${this.uid}`,
      ...mounts.flatMap((m) => ["-v", m]),
      "--entrypoint",
      args[0],
      this.image,
      ...args.slice(1),
    ]);
  }

  docker(args: string[]) {
    return sh("docker", args);
  }

  async remove(): Promise<void> {
    await this.docker(["rm", "-f", this.name]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A hash of each table's rows, for comparing a copy with its source. */
export function tableHashSql(table: string): string {
  return `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ${table} t`;
}

/** A port free now, outside every test's range (the kernel's ephemeral range). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Runs `body` with a started source server on a port zvpg never allocates; removes it after. */
export async function withSource(
  body: (src: SourceServer) => Promise<void>,
  image = TEST_IMAGE,
  uid = 999,
): Promise<void> {
  const src = new SourceServer(freePort(), image, uid);
  try {
    await src.start();
    await body(src);
  } finally {
    await src.remove();
  }
}

/** The hash of each of {@link SOURCE_TABLES}, read with `query`. */
export async function tableHashes(query: (sql: string) => Promise<string>): Promise<string[]> {
  const out = [];
  for (const t of SOURCE_TABLES) out.push(await query(tableHashSql(t)));
  return out;
}

/** The table hashes of the source's database `app`. */
export function sourceHashes(src: SourceServer): Promise<string[]> {
  return tableHashes((sql) => src.psql("app", sql));
}

/** The table hashes of database `app` on a branch's port. */
export function branchHashes(env: TestEnv, port: number): Promise<string[]> {
  return tableHashes((sql) => env.psql(port, sql, "app"));
}
