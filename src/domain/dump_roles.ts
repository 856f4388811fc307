/**
 * The roles a pg_dump script names. A dump of one database carries its objects' owners and
 * grants but not the roles themselves: restored into a cluster that lacks them, the first
 * `ALTER … OWNER TO app` fails (`role "app" does not exist`). zvpg reads which roles the
 * script names and creates those main lacks as NOLOGIN roles without a password (a server
 * import copies the roles themselves instead: `pg_dumpall --roles-only`). Pure: it reads
 * the lines pg_dump writes (one statement of these kinds per line).
 *
 * @module
 */
/** The roles a dump names, by what names them (see {@link dumpRoles}). */
export interface DumpRoles {
  /** Owners: `ALTER … OWNER TO`, `SET SESSION AUTHORIZATION`. */
  owners: string[];
  /** Grantees and grantors: `GRANT … TO`, `REVOKE … FROM`, `ALTER DEFAULT PRIVILEGES FOR ROLE`. */
  privileges: string[];
  /** Roles of row-level security policies and user mappings. */
  other: string[];
}

/** One identifier as pg_dump writes it: quoted (`""` inside), or bare (folded to lower case). */
const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
/** A comma-separated list of identifiers. */
const LIST = String.raw`${IDENT}(?:, ${IDENT})*`;

const OWNER_TO = new RegExp(String.raw`^ALTER .+ OWNER TO (${IDENT});$`);
const SESSION = new RegExp(String.raw`^SET SESSION AUTHORIZATION ('(?:[^']|'')+'|${IDENT});$`);
const GRANT = new RegExp(
  String
    .raw`(?:^| )GRANT .+ TO (${LIST})(?: WITH (?:GRANT|ADMIN) OPTION)?(?: GRANTED BY (${IDENT}))?;$`,
);
const REVOKE = new RegExp(
  String.raw`(?:^| )REVOKE .+ FROM (${LIST})(?: GRANTED BY (${IDENT}))?(?: CASCADE)?;$`,
);
const DEFAULT_FOR = new RegExp(String.raw`^ALTER DEFAULT PRIVILEGES FOR ROLE (${IDENT}) `);
const POLICY = new RegExp(
  String
    .raw`^CREATE POLICY ${IDENT} ON ${IDENT}(?:\.${IDENT})?(?: AS \w+)?(?: FOR \w+)? TO (${LIST})(?: USING| WITH CHECK|;)`,
);
const MAPPING = new RegExp(String.raw`^CREATE USER MAPPING FOR (${IDENT}) SERVER `);

/** Words that stand for roles without being one. */
const NOT_ROLES = new Set(["public", "current_user", "session_user", "current_role"]);

/** The names in a list matched by {@link LIST}; keywords and reserved `pg_` roles left out. */
function names(list: string | undefined): string[] {
  if (list === undefined) return [];
  const out: string[] = [];
  for (const [raw] of list.matchAll(new RegExp(IDENT, "g"))) {
    if (raw.startsWith('"')) {
      out.push(raw.slice(1, -1).replaceAll('""', '"'));
    } else if (!NOT_ROLES.has(raw.toLowerCase())) {
      out.push(raw.toLowerCase());
    }
  }
  return out.filter((n) => !n.startsWith("pg_"));
}

/**
 * The roles the statements of a pg_dump script name, each once, in order of appearance.
 * Reads only lines that begin a statement of the kinds above; a COPY block's rows are
 * skipped. A role only a function's body names is not seen (pg_dump writes no such line).
 */
export function dumpRoles(script: string): DumpRoles {
  const found: Record<keyof DumpRoles, Set<string>> = {
    owners: new Set(),
    privileges: new Set(),
    other: new Set(),
  };
  const add = (kind: keyof DumpRoles, list: string[]) => list.forEach((n) => found[kind].add(n));
  let copying = false;
  for (const raw of script.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (copying) {
      if (line === "\\.") copying = false;
      continue;
    }
    if (/^COPY .+ FROM stdin;$/.test(line)) {
      copying = true;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = OWNER_TO.exec(line))) add("owners", names(m[1]));
    if ((m = SESSION.exec(line))) {
      add("owners", m[1].startsWith("'") ? [m[1].slice(1, -1).replaceAll("''", "'")] : names(m[1]));
    }
    if ((m = DEFAULT_FOR.exec(line))) add("privileges", names(m[1]));
    if ((m = GRANT.exec(line))) add("privileges", [...names(m[1]), ...names(m[2])]);
    if ((m = REVOKE.exec(line))) add("privileges", [...names(m[1]), ...names(m[2])]);
    if ((m = POLICY.exec(line))) add("other", names(m[1]));
    if ((m = MAPPING.exec(line))) add("other", names(m[1]));
  }
  return {
    owners: [...found.owners],
    privileges: [...found.privileges],
    other: [...found.other],
  };
}
