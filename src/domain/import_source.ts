/**
 * Import sources, as pure functions: what a `--from` value is (a server, a dump, a data
 * directory), connection strings parsed and redacted, the source password looked up and
 * written in pgpass form. Nothing here reads a file or runs a program: callers pass what
 * they read.
 *
 * Invariant: a {@link ServerSource} keeps the password apart from `params`, so every string
 * built from `params` (argv, ZFS properties, logs, messages) is free of it by construction.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** How a server is copied: pg_dump/pg_restore, or pg_basebackup. */
export type ImportMode = "logical" | "physical";
/** The four pg_dump formats. */
export type DumpFormat = "custom" | "directory" | "tar" | "plain";

/** A PostgreSQL server to copy from. */
export interface ServerSource {
  kind: "server";
  /** Connection parameters, never the password. */
  params: Record<string, string>;
  /** The password given in the connection string itself, if any. */
  password?: string;
}

/** A pg_dump output on the host. */
export interface DumpSource {
  kind: "dump";
  path: string;
  format: DumpFormat;
}

/** A cleanly shut-down data directory on the host. */
export interface DataDirSource {
  kind: "datadir";
  path: string;
}

/** Any import source. */
export type ImportSource = ServerSource | DumpSource | DataDirSource;

/** What the caller found at a path (see {@link classifyPath}). */
export interface PathFacts {
  isDirectory: boolean;
  /** The directory's entries (directories only). */
  entries?: string[];
  /** The first 512 bytes (files only). */
  head?: Uint8Array;
}

/** Whether a `--from` value is a connection string rather than a path. */
export function isConnectionString(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value) || /^\s*[a-z_]+\s*=/i.test(value);
}

/** Parses a `postgresql://` URI or a `key=value` conninfo. */
export function parseConnectionString(value: string): ServerSource {
  const params = /^postgres(ql)?:\/\//i.test(value) ? parseUri(value) : parseKeywords(value);
  const { password, ...rest } = params;
  return password === undefined ? { kind: "server", params: rest } : {
    kind: "server",
    params: rest,
    password,
  };
}

function parseUri(value: string): Record<string, string> {
  let url: URL;
  try {
    url = new URL(value.replace(/^postgres(ql)?:/i, "http:"));
  } catch {
    throw new UsageError(`'${redactConnectionString(value)}' is not a valid postgresql:// URI`, {
      hint: "write postgresql://user@host:5432/dbname (the password in PGPASSWORD or a passfile)",
    });
  }
  const params: Record<string, string> = {};
  const host = decodeURIComponent(url.hostname).replace(/^\[|\]$/g, "");
  if (host !== "") params.host = host;
  if (url.port !== "") params.port = url.port;
  if (url.username !== "") params.user = decodeURIComponent(url.username);
  if (url.password !== "") params.password = decodeURIComponent(url.password);
  const db = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (db !== "") params.dbname = db;
  for (const [key, v] of url.searchParams) params[key] = v;
  return params;
}

/** Parses libpq's `key=value key='quoted value'` form. */
export function parseKeywords(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  const re = /\s*([a-zA-Z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/y;
  let rest = value.trim();
  while (rest !== "") {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) {
      throw new UsageError(`'${redactConnectionString(value)}' is not a valid connection string`, {
        hint: "write key=value pairs, e.g. 'host=db.example dbname=app user=me'",
      });
    }
    params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3];
    rest = rest.slice(re.lastIndex).trim();
  }
  return params;
}

/** A connection string with any password replaced by `***` (for messages only). */
export function redactConnectionString(value: string): string {
  return value
    .replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/i, "$1:***@")
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)/gi, "$1***");
}

/** How a server source is described in messages and recorded in ZFS: no password. */
export function describeServer(source: ServerSource, databases: string[] = []): string {
  const p = source.params;
  const host = p.host ?? p.hostaddr ?? "localhost";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const user = p.user ? `${encodeURIComponent(p.user)}@` : "";
  const port = p.port ? `:${p.port}` : "";
  const db = databases.length === 1 ? databases[0] : p.dbname ?? "";
  return `postgresql://${user}${hostPart}${port}/${encodeURIComponent(db)}`;
}

/** libpq conninfo (`key='value' …`) of the source's parameters, with `overrides`; no password. */
export function conninfo(source: ServerSource, overrides: Record<string, string> = {}): string {
  const all = { ...source.params, ...overrides };
  delete (all as Record<string, string>).password;
  return Object.entries(all)
    .map(([k, v]) => `${k}='${v.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`)
    .join(" ");
}

/** Escapes a field for a pgpass line (`:` and `\`). */
function pgpassField(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
}

/**
 * The pgpass lines that give `password` to the source's server only: one per host of the
 * connection (libpq takes `host=a,b port=1,2` lists), each naming that host (else its
 * `hostaddr`, else `localhost`, as libpq matches them) and its port (default 5432); any
 * database and user. A socket path is matched as itself and as `localhost` (libpq's name
 * for its default socket directory). `:` and `\` are escaped as libpq reads them.
 */
export function sourcePgpass(source: ServerSource, password: string): string {
  if (/[\r\n]/.test(password)) {
    throw new UsageError("the source password contains a line break", {
      hint: "libpq cannot use such a password from a passfile; change it",
    });
  }
  const list = (value: string | undefined) => value === undefined ? [] : value.split(",");
  const hosts = list(source.params.host);
  const addrs = list(source.params.hostaddr);
  const ports = list(source.params.port);
  const count = Math.max(hosts.length, addrs.length, 1);
  const lines = new Set<string>();
  for (let i = 0; i < count; i++) {
    const host = (hosts[i] ?? "").trim() || (addrs[i] ?? "").trim() || "localhost";
    const port = ((ports.length === 1 ? ports[0] : ports[i]) ?? "").trim() || "5432";
    const names = host.startsWith("/") ? [host, "localhost"] : [host];
    for (const name of names) {
      lines.add(`${pgpassField(name)}:${pgpassField(port)}:*:*:${pgpassField(password)}\n`);
    }
  }
  return [...lines].join("");
}

/** Splits a pgpass line into its five fields (unescaping `\:` and `\\`). */
function pgpassFields(line: string): string[] {
  const fields: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && i + 1 < line.length) {
      current += line[++i];
    } else if (c === ":" && fields.length < 4) {
      fields.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  fields.push(current);
  return fields;
}

/**
 * The password for the source from a pgpass file's text (libpq's rules: the first line
 * whose host, port, database and user match, `*` matching anything), or undefined.
 */
export function passwordFromPgpass(
  text: string,
  target: { host: string; port: string; dbname: string; user: string },
): string | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = pgpassFields(line);
    if (f.length < 5) continue;
    const want = [target.host, target.port, target.dbname, target.user];
    if (want.every((w, i) => f[i] === "*" || f[i] === w)) return f[4];
  }
  return undefined;
}

/** The host, port, database and user libpq would use for a source (for pgpass look-ups). */
export function effectiveTarget(
  source: ServerSource,
  env: { user?: string } = {},
): { host: string; port: string; dbname: string; user: string } {
  const p = source.params;
  const user = p.user ?? env.user ?? "postgres";
  return {
    host: p.host ?? p.hostaddr ?? "localhost",
    port: p.port ?? "5432",
    dbname: p.dbname ?? user,
    user,
  };
}

/** The format of a pg_dump output, from its content (never its name), or undefined. */
export function dumpFormat(facts: PathFacts): DumpFormat | undefined {
  if (facts.isDirectory) return facts.entries?.includes("toc.dat") ? "directory" : undefined;
  const head = facts.head ?? new Uint8Array();
  const text = new TextDecoder("latin1").decode(head);
  if (text.startsWith("PGDMP")) return "custom";
  // a tar archive made by pg_dump: "ustar" at offset 257 and a toc.dat member first
  if (text.slice(257, 262) === "ustar" || text.startsWith("toc.dat")) return "tar";
  if (/^(--|SET |CREATE |\\connect|BEGIN|SELECT )/m.test(text)) return "plain";
  return undefined;
}

/** Whether a directory is a PostgreSQL data directory. */
export function isDataDirectory(facts: PathFacts): boolean {
  const entries = facts.entries ?? [];
  return facts.isDirectory && entries.includes("PG_VERSION") && entries.includes("global");
}

/** What a path holds, as an import source; throws a one-line error when it is neither. */
export function classifyPath(path: string, facts: PathFacts): DumpSource | DataDirSource {
  if (isDataDirectory(facts)) return { kind: "datadir", path };
  const format = dumpFormat(facts);
  if (format) return { kind: "dump", path, format };
  throw new UsageError(
    `${path} is neither a pg_dump output nor a PostgreSQL data directory`,
    {
      hint:
        "pass a postgresql:// URI, a dump (custom, directory, tar or plain SQL) or a shut-down data directory",
    },
  );
}

/** How a source is described in messages and recorded in ZFS (never a password). */
export function describeSource(source: ImportSource, databases: string[] = []): string {
  if (source.kind === "server") return describeServer(source, databases);
  return source.kind === "dump"
    ? `${source.format} dump ${source.path}`
    : `data directory ${source.path}`;
}

/** The databases a line of `pg_restore -l` names (`; dbname: app`). */
export function dumpDatabaseName(listing: string): string | undefined {
  return /^;\s+dbname:\s*(.+)$/m.exec(listing)?.[1]?.trim();
}

/** A snapshot name for an import at `when`: `import-YYYYMMDD-HHMMSS`. */
export function importSnapshotName(when: Date): string {
  const iso = when.toISOString();
  return `import-${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
}

/**
 * Removes what a physical copy carries that points back at its source: `primary_conninfo`
 * (with the replication password `pg_basebackup -R` writes), `primary_slot_name`,
 * `restore_command` and the like, from a `postgresql.auto.conf` text.
 */
export function stripSourceSettings(autoConf: string): string {
  const drop =
    /^\s*(primary_conninfo|primary_slot_name|restore_command|archive_cleanup_command|recovery_target\w*|promote_trigger_file)\s*=/i;
  return autoConf.split("\n").filter((l) => !drop.test(l)).join("\n");
}
