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

function definitionOf(category: string, obj: Inspection): string {
  let sql = String(obj.create_statement ?? "").trim();
  if (category === "tables" && obj.rowsecurity) sql += `\n${obj.alter_rls_statement ?? ""}`;
  return sql;
}

function objectsOf(inspection: Inspection): SchemaObject[] {
  const objects: SchemaObject[] = [];
  for (const [category, kind] of CATEGORIES) {
    const dict = inspection[category] ?? {};
    for (const key of Object.keys(dict).sort()) {
      objects.push({
        id: objectId(category, key),
        kind,
        name: key.replaceAll('"', ""),
        definition: definitionOf(category, dict[key]),
      });
    }
  }
  return objects;
}

function factsOf(inspection: Inspection): ColumnFacts {
  const columns: Record<string, string> = {};
  for (const [key, table] of Object.entries(inspection.tables ?? {}) as [string, Inspection][]) {
    for (const [name, column] of Object.entries(table.columns ?? {}) as [string, Inspection][]) {
      columns[`${key}."${name}"`] = String(column.dbtypestr ?? column.dbtype ?? "");
    }
  }
  const enums: Record<string, string[]> = {};
  for (const [key, e] of Object.entries(inspection.enums ?? {}) as [string, Inspection][]) {
    enums[key] = [...(e.elements ?? [])];
  }
  return { columns, enums };
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
      const inspection = await PostgreSQL.create(client);
      return { objects: objectsOf(inspection), facts: factsOf(inspection), handle: inspection };
    } finally {
      await client.end().catch(() => {});
    }
  },
  async plan(from, to) {
    // given two inspections, migra makes no connection of its own
    const m = await Migration.create(from.handle as PostgreSQL, to.handle as PostgreSQL, {});
    return planStatements(m);
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
    return { objects: objectsOf(t), facts: target.facts, handle: t };
  },
};

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
