/**
 * SQL text an import sends to its loader server: quoting, and the role scripts made from a
 * source's roles. Pure: nothing here runs SQL.
 *
 * @module
 */

/** A SQL string literal. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL identifier. */
export function ident(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * The roles script of `pg_dumpall --roles-only` without the `CREATE ROLE` of roles the
 * target has already (its superuser): their `ALTER ROLE` still applies.
 */
export function rolesScript(dump: string, existing: Set<string>): string {
  return dump.split("\n").filter((line) => {
    const m = /^CREATE ROLE (.+);$/.exec(line);
    if (!m) return true;
    const name = m[1].startsWith('"') ? m[1].slice(1, -1).replaceAll('""', '"') : m[1];
    return !existing.has(name);
  }).join("\n");
}

/** The script that creates `roles` missing from `existing` as NOLOGIN roles without password. */
export function nologinRolesScript(roles: string[], existing: Set<string>): string {
  return [...new Set(roles)].filter((r) => !existing.has(r))
    .map((r) => `CREATE ROLE ${ident(r)} NOLOGIN;\n`).join("");
}
