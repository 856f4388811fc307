/**
 * From a rules file and the schema of one database (its tables, columns, unique indexes and
 * foreign keys, read from the catalog with {@link SCHEMA_QUERY}) to the SQL that masks it
 * in scratch space, after two refusals: a column with no rule (strict coverage: every one
 * is named), and a rule that would break a unique index or a foreign key. Pure.
 *
 * The fakes are deterministic: a keyed hash of the value (`sha256` of the host's masking
 * key and the value, PostgreSQL 11+) picks the fake, so the same value gives the same fake
 * in every table and every refresh, and joins on masked keys still match.
 *
 * @module
 */
import { ZvpgError } from "../errors.ts";
import type { ColumnRule, MaskRules, TableRule } from "./mask_rules.ts";

/** One column as the catalog describes it. */
export interface ColumnFacts {
  name: string;
  /** `format_type()`: SQL that names the type. */
  type: string;
  notNull: boolean;
}

/** One table (ordinary or partitioned; partitions are masked through their parent). */
export interface TableFacts {
  schema: string;
  name: string;
  columns: ColumnFacts[];
  /** The columns of each unique index (expression indexes: the columns they read). */
  unique: string[][];
}

/** One foreign key. */
export interface ForeignKeyFacts {
  table: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
}

/** What {@link SCHEMA_QUERY} returns for one database. */
export interface SchemaFacts {
  tables: TableFacts[];
  foreignKeys: ForeignKeyFacts[];
}

/** The rules do not cover the schema, or would break a constraint: nothing was changed. */
export class MaskCoverageError extends ZvpgError {}

/**
 * The catalog query (one JSON document) giving a database's {@link SchemaFacts}: user
 * tables (not partitions, not an extension's), their non-generated columns, the columns
 * each unique index reads, and the foreign keys declared on tables (not the copies on
 * partitions). Written to run on PostgreSQL 10 and later.
 */
export const SCHEMA_QUERY = `
WITH t AS (
  SELECT c.oid, n.nspname, c.relname FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND NOT coalesce((to_jsonb(c) ->> 'relispartition')::boolean, false)
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
      AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT json_build_object(
  'tables', coalesce((SELECT json_agg(json_build_object(
    'schema', t.nspname, 'name', t.relname,
    'columns', coalesce((SELECT json_agg(json_build_object('name', a.attname,
        'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull) ORDER BY a.attnum)
      FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
        AND coalesce(to_jsonb(a) ->> 'attgenerated', '') = ''), '[]'::json),
    'unique', coalesce((SELECT json_agg(cols) FROM (
      SELECT (SELECT coalesce(json_agg(DISTINCT a.attname), '[]'::json) FROM pg_attribute a
        WHERE a.attrelid = t.oid AND a.attnum > 0 AND (a.attnum = ANY (i.indkey::int2[])
          OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
            AND d.objid = i.indexrelid AND d.refobjid = t.oid AND d.refobjsubid = a.attnum))
      ) AS cols FROM pg_index i WHERE i.indrelid = t.oid AND i.indisunique) u), '[]'::json)
  ) ORDER BY t.nspname, t.relname) FROM t), '[]'::json),
  'foreignKeys', coalesce((SELECT json_agg(json_build_object(
    'table', quote_ident(n.nspname) || '.' || quote_ident(c.relname),
    'columns', (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(f.conkey) WITH ORDINALITY k(n, i)
      JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.n),
    'refTable', quote_ident(rn.nspname) || '.' || quote_ident(r.relname),
    'refColumns', (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(f.confkey) WITH ORDINALITY k(n, i)
      JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.n)))
    FROM pg_constraint f
    JOIN pg_class c ON c.oid = f.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_class r ON r.oid = f.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
    WHERE f.contype = 'f' AND coalesce((to_jsonb(f) ->> 'conparentid')::oid, 0) = 0
      AND f.conrelid IN (SELECT oid FROM t)), '[]'::json)
)`;

/** Parses {@link SCHEMA_QUERY}'s output. */
export function parseSchemaFacts(json: string): SchemaFacts {
  const raw = JSON.parse(json.trim()) as SchemaFacts;
  return {
    tables: raw.tables ?? [],
    foreignKeys: (raw.foreignKeys ?? []).map((fk) => ({
      ...fk,
      table: unquoteTable(fk.table),
      refTable: unquoteTable(fk.refTable),
    })),
  };
}

/** `schema.table` as the rules name it, from `quote_ident(schema) || '.' || quote_ident(t)`. */
function unquoteTable(quoted: string): string {
  const parts = quoted.match(/("(?:[^"]|"")*"|[^.]+)/g) ?? [quoted];
  return parts.map((p) => p.startsWith('"') ? p.slice(1, -1).replaceAll('""', '"') : p).join(
    ".",
  );
}

/** The SQL that masks one database (run in one session, the key in a temporary function). */
export interface DatabaseMaskPlan {
  database: string;
  /** The statements, in order; run as a superuser in one session. */
  statements: string[];
  /** Rules naming a table this database does not have (reported, not fatal). */
  unusedTables: string[];
}

/** A rule is lossy when two different values may get the same result. */
export function isLossy(rule: ColumnRule): boolean {
  switch (rule.kind) {
    case "keep":
      return false;
    case "fake":
      return !(rule.fake === "email" || rule.fake === "hash");
    case "sql":
      return !rule.injective;
    default:
      return true;
  }
}

/**
 * The problems of `rules` on the schemas of the copied databases, every one: columns with no
 * rule, rules on a column the table lacks, lossy rules on a unique or foreign-key column,
 * and foreign keys whose two sides are masked differently. Empty when the rules fit.
 */
export function maskProblems(rules: MaskRules, schemas: Record<string, SchemaFacts>): string[] {
  const problems = new Set<string>();
  for (const [db, schema] of Object.entries(schemas)) {
    const ruleOf = (table: string, column: string): ColumnRule | undefined =>
      columnRule(rules.tables[table], column);
    for (const t of schema.tables) {
      const key = `${t.schema}.${t.name}`;
      const rule = rules.tables[key];
      const where = `${db}: ${key}`;
      if (!rule) {
        problems.add(`${where} has no rule (columns ${t.columns.map((c) => c.name).join(", ")})`);
        continue;
      }
      if (rule.kind !== "mask") continue;
      const uncovered = t.columns.filter((c) => !(c.name in rule.columns)).map((c) => c.name);
      if (uncovered.length > 0) {
        problems.add(`${where}: column(s) ${uncovered.join(", ")} have no rule`);
      }
      const known = new Set(t.columns.map((c) => c.name));
      for (const c of Object.keys(rule.columns)) {
        if (!known.has(c)) problems.add(`${where}: column ${c} of the rules does not exist`);
      }
      for (const c of t.columns) {
        const r = rule.columns[c.name];
        if (r?.kind === "null" && c.notNull) {
          problems.add(`${where}.${c.name}: null on a NOT NULL column`);
        }
      }
      for (const cols of t.unique) {
        for (const c of cols) {
          const r = rule.columns[c];
          if (r && isLossy(r)) {
            problems.add(
              `${where}.${c}: ${describeRule(r)} is lossy on a column of a unique index ` +
                `(use keep, email, hash or {"sql": …, "injective": true})`,
            );
          }
        }
      }
    }
    for (const fk of schema.foreignKeys) {
      fk.columns.forEach((c, i) => {
        const ref = fk.refColumns[i];
        const mine = ruleOf(fk.table, c) ?? { kind: "keep" };
        const theirs = ruleOf(fk.refTable, ref) ?? { kind: "keep" };
        const where = `${db}: ${fk.table}.${c} → ${fk.refTable}.${ref}`;
        if (isLossy(mine) || isLossy(theirs)) {
          problems.add(
            `${where}: a foreign key column needs keep, email, hash or an injective sql`,
          );
        } else if (JSON.stringify(mine) !== JSON.stringify(theirs)) {
          problems.add(`${where}: both sides of a foreign key need the same rule`);
        }
      });
    }
  }
  return [...problems];
}

/** The rule of `column` under a table rule (a kept or emptied table keeps its columns). */
function columnRule(rule: TableRule | undefined, column: string): ColumnRule | undefined {
  if (!rule) return undefined;
  if (rule.kind === "mask") return rule.columns[column];
  return { kind: "keep" };
}

/** Throws a {@link MaskCoverageError} naming every problem of {@link maskProblems}. */
export function checkMaskRules(
  rules: MaskRules,
  schemas: Record<string, SchemaFacts>,
  file: string,
): void {
  const problems = maskProblems(rules, schemas);
  if (problems.length === 0) return;
  throw new MaskCoverageError(
    `the masking rules ${file} do not fit the source: ${problems.join("; ")}`,
    { hint: "give each column named a rule (or mark it keep) and run again; nothing was changed" },
  );
}

function describeRule(rule: ColumnRule): string {
  switch (rule.kind) {
    case "fake":
      return rule.fake;
    default:
      return rule.kind;
  }
}

/** `"name"` quoted as an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `'text'` quoted as an SQL literal. */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

const FIRST_NAMES = [
  "Alex",
  "Sam",
  "Robin",
  "Charlie",
  "Jordan",
  "Taylor",
  "Morgan",
  "Casey",
  "Jamie",
  "Riley",
  "Avery",
  "Quinn",
  "Rowan",
  "Sasha",
  "Noa",
  "Kim",
];
const LAST_NAMES = [
  "Smith",
  "Martin",
  "Garcia",
  "Rossi",
  "Novak",
  "Berg",
  "Silva",
  "Kowalski",
  "Dubois",
  "Jensen",
  "Moreau",
  "Fischer",
  "Costa",
  "Horvat",
  "Lind",
  "Weber",
];

/** The keyed hash of `v::text` as 64 hex digits (the temporary function {@link keyFunction}). */
const H = (v: string) => `pg_temp.zvpg_mask_h(${v}::text)`;
/** A non-negative bigint from the keyed hash (hex digits `from`, 15 of them). */
const N = (v: string, from = 1) => `('x' || substr(${H(v)}, ${from}, 15))::bit(60)::bigint`;

/** The expression a column rule gives for the column `col` of type `type`. */
export function columnExpression(rule: ColumnRule, col: string, type: string): string | undefined {
  const arr = (names: string[]) => `(ARRAY[${names.map(quoteLiteral).join(", ")}])`;
  let expr: string;
  switch (rule.kind) {
    case "keep":
      return undefined;
    case "null":
      return `NULL`;
    case "const":
      expr = typeof rule.value === "string" ? quoteLiteral(rule.value) : String(rule.value);
      break;
    case "sql":
      expr = `(${rule.sql})`;
      break;
    case "number":
      expr = `CASE WHEN ${col} IS NULL THEN NULL ELSE ${rule.min} + ${N(col)} % ${
        rule.max - rule.min + 1
      } END`;
      break;
    case "date":
      expr = `${col} + ((${N(col)} % ${2 * rule.days + 1}) - ${rule.days}) * interval '1 day'`;
      break;
    case "fake":
      switch (rule.fake) {
        case "email":
          expr = `'user-' || substr(${H(col)}, 1, 16) || '@example.com'`;
          break;
        case "hash":
          expr = `substr(${H(col)}, 1, 32)`;
          break;
        case "name":
          expr = `${arr(FIRST_NAMES)}[1 + ${N(col)} % ${FIRST_NAMES.length}] || ' ' || ${
            arr(LAST_NAMES)
          }[1 + ${N(col, 16)} % ${LAST_NAMES.length}]`;
          break;
        case "phone":
          expr = `'+1-555-' || lpad((${N(col)} % 10000000)::text, 7, '0')`;
          break;
        case "text":
          expr = `'text ' || substr(${H(col)}, 1, 12)`;
          break;
      }
  }
  return `(${expr})::${type}`;
}

/**
 * The temporary function holding the masking key (hex); it lives for the session only and
 * never reaches a dump. The SQL goes to psql on stdin, never in an argument.
 */
export function keyFunction(keyHex: string): string {
  if (!/^[0-9a-f]{32,128}$/.test(keyHex)) throw new Error("the masking key is not hex");
  return `CREATE FUNCTION pg_temp.zvpg_mask_h(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT ` +
    `AS $zvpg$ SELECT encode(sha256(convert_to('${keyHex}' || v, 'UTF8')), 'hex') $zvpg$`;
}

/**
 * The statements that mask database `database`: the key function, foreign-key triggers off
 * for the session (`session_replication_role = replica`: both sides of a key are rewritten
 * with the same fake), then per table its row filter or emptying and one UPDATE of the
 * masked columns, and an ANALYZE. Call after {@link checkMaskRules} passed.
 */
export function planDatabaseMask(
  rules: MaskRules,
  database: string,
  schema: SchemaFacts,
  keyHex: string,
): DatabaseMaskPlan {
  const statements = [keyFunction(keyHex), "SET session_replication_role = replica"];
  const present = new Set<string>();
  for (const t of schema.tables) {
    const key = `${t.schema}.${t.name}`;
    present.add(key);
    const rule = rules.tables[key];
    const table = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    if (!rule || rule.kind === "keep") continue;
    if (rule.kind === "empty") {
      statements.push(`DELETE FROM ${table}`);
      continue;
    }
    if (rule.where) {
      statements.push(`DELETE FROM ${table} WHERE NOT coalesce((${rule.where}), false)`);
    }
    const sets = t.columns.flatMap((c) => {
      const r = rule.columns[c.name];
      const expr = r && columnExpression(r, quoteIdent(c.name), c.type);
      return expr ? [`${quoteIdent(c.name)} = ${expr}`] : [];
    });
    if (sets.length > 0) statements.push(`UPDATE ${table} SET ${sets.join(", ")}`);
  }
  statements.push("RESET session_replication_role");
  // the planner's statistics (most common values, histograms) are samples of the rows: a
  // restore of a PostgreSQL 18 dump brings the source's; computed again from masked rows
  statements.push("ANALYZE");
  return {
    database,
    statements,
    unusedTables: Object.keys(rules.tables).filter((k) => !present.has(k)),
  };
}

/**
 * A PostgreSQL error of the masking step without the values it quotes: an error about a
 * row of the scratch (a cast that failed, a key that collided) may quote a real value, and
 * the error goes to a terminal, a CI log and zvpg's log. Quoted text, `(key)=(value)`
 * details and everything after `DETAIL:` or `CONTEXT:` are left out.
 */
export function withoutValues(message: string): string {
  return message
    .replace(/\s*\b(DETAIL|CONTEXT|HINT):[\s\S]*$/, "")
    .replace(/\(([^()]*)\)=\(([^()]*)\)/g, "(…)=(…)")
    .replace(/"[^"]*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'");
}
