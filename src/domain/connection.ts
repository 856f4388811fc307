/**
 * How a client reaches a running branch: its libpq parameters, URI, pgpass line and the
 * environment a shell or a CI env file takes. Pure: no I/O.
 *
 * Invariants:
 * - the password appears only in {@link pgpassLine} and, when asked, in a URI built with
 *   `password`; every other form names the passfile instead;
 * - every value {@link envLines} prints is read back byte for byte by `eval` (sh dialect)
 *   and by GitHub Actions' `$GITHUB_ENV` parser (github dialect).
 *
 * @module
 */

/** The libpq parameters of one running branch (no secret). */
export interface Connection {
  branch: string;
  host: string;
  port: number;
  user: string;
  database: string;
  /** The 0600 pgpass file that holds the password for exactly this host and port. */
  passfile: string;
}

/** The host as a URI authority needs it: IPv6 literals in brackets. */
function uriHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * A libpq URI. Without `password` it names no secret: `passfile` (when given) is added as
 * libpq's `passfile` parameter, so the URI alone connects with psql and other libpq tools.
 */
export function connectionUri(
  c: Pick<Connection, "host" | "port" | "user" | "database">,
  options: { password?: string; passfile?: string } = {},
): string {
  const user = encodeURIComponent(c.user);
  const auth = options.password === undefined
    ? user
    : `${user}:${encodeURIComponent(options.password)}`;
  const query = options.passfile === undefined
    ? ""
    : `?passfile=${encodeURIComponent(options.passfile)}`;
  return `postgresql://${auth}@${uriHost(c.host)}:${c.port}/${
    encodeURIComponent(c.database)
  }${query}`;
}

/** Escapes one field of a pgpass line (`:` and `\` are backslash-escaped). */
function pgpassField(value: string): string {
  return value.replace(/[\\:]/g, (ch) => `\\${ch}`);
}

/** The pgpass line that gives `password` to this host, port and user, for any database. */
export function pgpassLine(c: Connection, password: string): string {
  return [pgpassField(c.host), String(c.port), "*", pgpassField(c.user), pgpassField(password)]
    .join(":") + "\n";
}

/** The variables `branch env` exports, in the order printed. */
export function connectionEnv(
  c: Connection,
  options: { password?: string } = {},
): Record<string, string> {
  return {
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: c.database,
    PGPASSFILE: c.passfile,
    // libpq and node-postgres find the password through PGPASSFILE
    DATABASE_URL: connectionUri(c, { password: options.password }),
  };
}

/** How env lines are written: `export K=V` for `eval`, or raw `K=V` for `$GITHUB_ENV`. */
export type EnvDialect = "sh" | "github";

/** A word the shell reads back as `value`: bare when safe, else single-quoted. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * One line per variable. sh: `export K=V` with V quoted for the shell. github: `K=V` taken
 * literally by the runner; a value with a newline uses its `K<<DELIM` form with a
 * delimiter the value does not contain.
 */
export function envLines(vars: Record<string, string>, dialect: EnvDialect): string {
  return Object.entries(vars).map(([key, value]) => {
    if (dialect === "sh") return `export ${key}=${shellQuote(value)}`;
    if (!/[\r\n]/.test(value)) return `${key}=${value}`;
    let delimiter = "ZVPG_EOF";
    while (value.includes(delimiter)) delimiter += "_";
    return `${key}<<${delimiter}\n${value}\n${delimiter}`;
  }).join("\n");
}
