/**
 * The schema-diff engine: inspects a live database's catalog and writes the SQL that turns
 * one schema into another. Behind {@link SchemaDiffEngine} so it can be replaced; the one
 * implementation is `@pgkit/migra` (a TypeScript port of migra), chosen over a text diff of
 * `pg_dump --schema-only` because a merge needs statements, not a text diff.
 *
 * The connection is TCP to a branch's published port with zvpg's password, which stays in
 * this process (never argv, env or logs); errors are reduced to the server's message.
 *
 * @module
 */
import { Migration } from "@pgkit/migra";
import { createClient } from "@pgkit/client";
import { PostgreSQL } from "@pgkit/schemainspect";
import pg from "pg";
import type { ColumnFacts, SchemaObject } from "../domain/schema_merge.ts";

/** Where a database listens, and who zvpg connects as. */
export interface PgEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** One side's schema, as the engine inspected it. */
export interface InspectedSchema {
  /** Every object the engine models, with its defining SQL (what changes are found by). */
  objects: SchemaObject[];
  /** Column types and enum values, for the data-loss classification. */
  facts: ColumnFacts;
  /** The engine's own inspection (opaque to callers). */
  readonly handle: unknown;
}

/** A replaceable schema-diff engine. */
export interface SchemaDiffEngine {
  readonly name: string;
  inspect(endpoint: PgEndpoint): Promise<InspectedSchema>;
  /** The statements that turn `from` into `to` (drops included). */
  plan(from: InspectedSchema, to: InspectedSchema): Promise<string[]>;
  /**
   * `target` with the objects `ids` replaced by (or, absent there, removed as in)
   * `source`'s: the three-way "desired" schema. Consumes `target`.
   */
  overlay(target: InspectedSchema, source: InspectedSchema, ids: Set<string>): InspectedSchema;
}

/** The migra categories zvpg reports, with the kind shown to users. */
const CATEGORIES: [string, string][] = [
  ["schemas", "schema"],
  ["extensions", "extension"],
  ["enums", "enum"],
  ["domains", "domain"],
  ["types", "type"],
  ["composite_types", "type"],
  ["collations", "collation"],
  ["sequences", "sequence"],
  ["tables", "table"],
  ["views", "view"],
  ["materialized_views", "materialized view"],
  ["functions", "function"],
  ["indexes", "index"],
  ["constraints", "constraint"],
  ["triggers", "trigger"],
  ["rlspolicies", "policy"],
  ["privileges", "grant"],
];

/** Other dicts of the inspection that hold the same object as a category. */
const ALSO_IN: Record<string, string[]> = {
  tables: ["relations", "selectables"],
  views: ["relations", "selectables"],
  materialized_views: ["relations", "selectables"],
  composite_types: ["relations", "selectables"],
  functions: ["selectables"],
};

// deno-lint-ignore no-explicit-any
type Inspection = any;

/** An object's id: its category and the engine's key (unique within a database). */
export function objectId(category: string, key: string): string {
  return `${category}:${key}`;
}

/**
 * The options of one sequence, which migra neither inspects nor writes (its sequences are a
 * bare `create sequence`): read from `pg_sequence` by zvpg and kept beside the inspection.
 */
export interface SequenceOptions {
  /** `"schema"."name"`, as migra keys sequences. */
  key: string;
  /** The `"schema"."table"` of the identity column it serves, or null for a plain sequence. */
  identityOf: string | null;
  /** `as integer increment by 10 minvalue 1 maxvalue … start with 5000 cache 1 no cycle`. */
  options: string;
}

/** Where zvpg keeps its sequence options in an inspection (beside migra's dicts). */
const SEQUENCE_OPTIONS = Symbol("zvpg.sequenceOptions");

const SEQUENCE_SQL = `select
  '"' || replace(n.nspname, '"', '""') || '"."' || replace(c.relname, '"', '""') || '"' as key,
  (select '"' || replace(tn.nspname, '"', '""') || '"."' || replace(t.relname, '"', '""') || '"'
     from pg_depend d join pg_class t on t.oid = d.refobjid
     join pg_namespace tn on tn.oid = t.relnamespace
     where d.classid = 'pg_class'::regclass and d.objid = c.oid
       and d.refclassid = 'pg_class'::regclass and d.deptype = 'i') as identity_of,
  format_type(s.seqtypid, null) as type, s.seqincrement::text as increment,
  s.seqmin::text as min, s.seqmax::text as max, s.seqstart::text as start,
  s.seqcache::text as cache, s.seqcycle as cycle
  from pg_sequence s join pg_class c on c.oid = s.seqrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname not in ('pg_catalog', 'information_schema')
    and not exists (select 1 from pg_depend e where e.classid = 'pg_class'::regclass
      and e.objid = c.oid and e.refclassid = 'pg_extension'::regclass)
  order by 2`;

interface SequenceRow {
  key: string;
  identity_of: string | null;
  type: string;
  increment: string;
  min: string;
  max: string;
  start: string;
  cache: string;
  cycle: boolean;
}

/** The options clause of `alter sequence` for one row (an identity's type is its column's). */
export function sequenceOptionsOf(row: SequenceRow): SequenceOptions {
  const options = [
    ...(row.identity_of ? [] : [`as ${row.type}`]),
    `increment by ${row.increment}`,
    `minvalue ${row.min}`,
    `maxvalue ${row.max}`,
    `start with ${row.start}`,
    `cache ${row.cache}`,
    row.cycle ? "cycle" : "no cycle",
  ].join(" ");
  return { key: row.key, identityOf: row.identity_of, options };
}

function sequenceOptions(inspection: Inspection): Map<string, SequenceOptions> {
  return inspection[SEQUENCE_OPTIONS] ?? new Map();
}

/** `alter sequence` setting every option of `seq` (and its first value, when it is new). */
function alterSequenceStatement(seq: SequenceOptions, restart: boolean): string {
  return `alter sequence ${seq.key} ${seq.options}${restart ? " restart" : ""};`;
}

function definitionOf(
  category: string,
  key: string,
  obj: Inspection,
  seqs: Map<string, SequenceOptions>,
) {
  let sql = String(obj.create_statement ?? "").trim();
  if (category === "tables" && obj.rowsecurity) sql += `\n${obj.alter_rls_statement ?? ""}`;
  if (category === "sequences") {
    const seq = seqs.get(key);
    if (seq) sql += `\n${alterSequenceStatement(seq, false)}`;
    if (obj.quoted_table_and_column_name) sql += `\n${obj.alter_ownership_statement}`;
  }
  if (category === "tables") {
    for (const seq of seqs.values()) {
      if (seq.identityOf === key) sql += `\n${alterSequenceStatement(seq, false)}`;
    }
  }
  return sql;
}

function objectsOf(inspection: Inspection): SchemaObject[] {
  const objects: SchemaObject[] = [];
  const seqs = sequenceOptions(inspection);
  for (const [category, kind] of CATEGORIES) {
    const dict = inspection[category] ?? {};
    for (const key of Object.keys(dict).sort()) {
      objects.push({
        id: objectId(category, key),
        kind,
        name: key.replaceAll('"', ""),
        definition: definitionOf(category, key, dict[key], seqs),
      });
    }
  }
  return objects;
}

/**
 * The `alter sequence` statements that give `to`'s sequences their options where `from`'s
 * differ; a sequence new in `to` also restarts at its first value.
 */
function sequenceStatements(from: Inspection, to: Inspection): string[] {
  const before = sequenceOptions(from);
  const statements: string[] = [];
  for (const [key, seq] of sequenceOptions(to)) {
    const old = before.get(key);
    if (old?.options !== seq.options) statements.push(alterSequenceStatement(seq, !old));
  }
  return statements;
}

/**
 * Makes an inheritance child's `create table` declare only its own columns: migra lists the
 * inherited ones too, which makes them local on the target (`attislocal`), unlike the branch.
 */
function declareOwnColumnsOnly(inspection: Inspection): void {
  for (const table of Object.values(inspection.tables ?? {}) as Inspection[]) {
    if (!table.is_inheritance_child_table) continue;
    let proto = Object.getPrototypeOf(table);
    while (proto && !Object.getOwnPropertyDescriptor(proto, "create_statement")) {
      proto = Object.getPrototypeOf(proto);
    }
    const create = proto && Object.getOwnPropertyDescriptor(proto, "create_statement")?.get;
    if (!create) continue;
    const own = Object.fromEntries(
      Object.entries(table.columns ?? {}).filter(([, c]) => !(c as Inspection).is_inherited),
    );
    Object.defineProperty(table, "create_statement", {
      get() {
        return create.call(Object.create(this, { columns: { value: own } }));
      },
    });
  }
}

/**
 * Points the enum columns of `t`'s relations at `t`'s own enums: a relation kept from the
 * target while its enum was replaced by the source's must see the new enum, or migra
 * renames the old type and drops it with the columns still using it.
 */
function rebindEnumColumns(t: Inspection): void {
  for (const relation of Object.values(t.relations ?? {}) as Inspection[]) {
    for (const column of Object.values(relation.columns ?? {}) as Inspection[]) {
      if (!column.is_enum || !column.enum) continue;
      const current = t.enums?.[column.enum.quoted_full_name];
      if (current) column.enum = current;
    }
  }
}

function factsOf(inspection: Inspection): ColumnFacts {
  const columns: Record<string, string> = {};
  const generated: string[] = [];
  for (const [key, table] of Object.entries(inspection.tables ?? {}) as [string, Inspection][]) {
    for (const [name, column] of Object.entries(table.columns ?? {}) as [string, Inspection][]) {
      columns[`${key}."${name}"`] = String(column.dbtypestr ?? column.dbtype ?? "");
      if (column.is_generated) generated.push(`${key}."${name}"`);
    }
  }
  const enums: Record<string, string[]> = {};
  for (const [key, e] of Object.entries(inspection.enums ?? {}) as [string, Inspection][]) {
    enums[key] = [...(e.elements ?? [])];
  }
  return { columns, enums, generated };
}

/** A connection URL (kept in this process only). */
function urlOf(e: PgEndpoint): string {
  const host = e.host.includes(":") ? `[${e.host}]` : e.host;
  return `postgresql://${encodeURIComponent(e.user)}:${
    encodeURIComponent(e.password)
  }@${host}:${e.port}/${encodeURIComponent(e.database)}`;
}

/** The `@pgkit/migra` engine. */
export const migraEngine: SchemaDiffEngine = {
  name: "migra",
  async inspect(endpoint) {
    const client = createClient(urlOf(endpoint));
    try {
      const inspection: Inspection = await PostgreSQL.create(client);
      declareOwnColumnsOnly(inspection);
      const rows = await queryRows<SequenceRow>(endpoint, SEQUENCE_SQL);
      inspection[SEQUENCE_OPTIONS] = new Map(rows.map((r) => [r.key, sequenceOptionsOf(r)]));
      return { objects: objectsOf(inspection), facts: factsOf(inspection), handle: inspection };
    } finally {
      await client.end().catch(() => {});
    }
  },
  async plan(from, to) {
    // given two inspections, migra makes no connection of its own
    const m = await Migration.create(from.handle as PostgreSQL, to.handle as PostgreSQL, {});
    return [...planStatements(m), ...sequenceStatements(from.handle, to.handle)];
  },
  overlay(target, source, ids) {
    const t = target.handle as Inspection;
    const s = source.handle as Inspection;
    for (const [category] of CATEGORIES) {
      const dicts = [category, ...(ALSO_IN[category] ?? [])];
      const keys = new Set([...Object.keys(t[category] ?? {}), ...Object.keys(s[category] ?? {})]);
      for (const key of keys) {
        if (!ids.has(objectId(category, key))) continue;
        for (const dict of dicts) {
          if (!t[dict]) continue;
          if (s[category]?.[key] !== undefined) t[dict][key] = s[dict]?.[key] ?? s[category][key];
          else delete t[dict][key];
        }
      }
    }
    rebindEnumColumns(t);
    t[SEQUENCE_OPTIONS] = overlaySequences(sequenceOptions(t), sequenceOptions(s), ids);
    return { objects: objectsOf(t), facts: target.facts, handle: t };
  },
};

/** `target`'s sequence options, with those of the sequences and tables in `ids` from `source`. */
function overlaySequences(
  target: Map<string, SequenceOptions>,
  source: Map<string, SequenceOptions>,
  ids: Set<string>,
): Map<string, SequenceOptions> {
  const taken = (seq: SequenceOptions) =>
    ids.has(seq.identityOf ? objectId("tables", seq.identityOf) : objectId("sequences", seq.key));
  const out = new Map([...target].filter(([, seq]) => !taken(seq)));
  for (const [key, seq] of source) if (taken(seq)) out.set(key, seq);
  return out;
}

function planStatements(m: Inspection): string[] {
  m.set_safety(false);
  m.add_all_changes(true);
  return [...m.statements.array].map((s: string) => s.trim()).filter((s: string) => s !== "");
}

/** Connects to `endpoint`, runs `work`, and always closes the connection. */
async function withClient<T>(endpoint: PgEndpoint, work: (client: pg.Client) => Promise<T>) {
  const client = new pg.Client({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database: endpoint.database,
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs a script on a database in one transaction; nothing stays when a statement fails. */
export async function applyInTransaction(endpoint: PgEndpoint, statements: string[]) {
  await withClient(endpoint, async (client) => {
    try {
      await client.query("begin");
      for (const statement of statements) await client.query(statement);
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    }
  });
}

/** Runs one query, returning its rows. */
export async function queryRows<T>(endpoint: PgEndpoint, sql: string): Promise<T[]> {
  return await withClient(endpoint, async (client) => (await client.query(sql)).rows as T[]);
}
