/**
 * Schema-diff engines side by side (issue 15: "pick the engine after trying each on real
 * schemas"): zvpg's engine, `@pgkit/migra` (through src/adapters/schema_diff.ts), and
 * `@supabase/pg-delta` (pinned alpha), each asked for the statements that turn one real
 * PostgreSQL database into another. The two databases hold the same base schema; the second
 * then gets the changes a branch typically makes. Prints, per expected change, whether each
 * engine's SQL contains it, each engine's time, and the SQL; writes the report to
 * bench/results/schema_diff_engines.md.
 *
 *     deno run -A bench/schema_diff_engines.ts
 *
 * Needs root, docker and localhost/zvpg-postgres:17 (one throwaway server with password
 * authentication on port 19950, removed at the end).
 *
 * @module
 */
import { join } from "node:path";
import pg from "pg";
import { extract } from "@supabase/pg-delta/extract";
import { plan } from "@supabase/pg-delta/plan";
import { renderPlanFiles } from "@supabase/pg-delta/frontends";
import { migraEngine, type PgEndpoint } from "../src/adapters/schema_diff.ts";
import { SourceServer } from "../tests/support/source_server.ts";
import { REPO } from "./bench_pool.ts";

const BASE_SQL = `
create type mood as enum ('ok', 'sad');
create table users (id serial primary key, name text not null, legacy text, mood mood);
create view v_users as select id, name from users;
create function answer() returns int language sql as 'select 41';
create function touch() returns trigger language plpgsql as 'begin return new; end';
`;

/** What a branch changes, each with how to recognise it in an engine's SQL. */
const CHANGES: { change: string; sql: string; found: RegExp }[] = [
  {
    change: "enum value added",
    sql: "alter type mood add value 'happy'",
    found: /happy/i,
  },
  {
    change: "table created (with a foreign key)",
    sql:
      "create table orders (id bigserial primary key, user_id int references users(id), total numeric(10,2))",
    found: /create table[^;]*orders/i,
  },
  { change: "column added", sql: "alter table users add column email text", found: /email/i },
  {
    change: "index created",
    sql: "create index users_email on users (email)",
    found: /create index[^;]*users_email/i,
  },
  {
    change: "view changed",
    sql: "create or replace view v_users as select id, name, email from users",
    found: /view[^;]*v_users[\s\S]*email/i,
  },
  {
    change: "function changed",
    sql: "create or replace function answer() returns int language sql as 'select 42'",
    found: /answer[\s\S]*42/i,
  },
  {
    change: "column dropped (data loss)",
    sql: "alter table users drop column legacy",
    found: /drop column[^;]*legacy/i,
  },
  {
    change: "trigger created",
    sql: "create trigger users_touch before update on users for each row execute function touch()",
    found: /create trigger[^;]*users_touch/i,
  },
  {
    change: "row-level security enabled",
    sql: "alter table users enable row level security",
    found: /enable row level security/i,
  },
  {
    change: "policy created",
    sql: "create policy readers on users for select using (true)",
    found: /create policy[^;]*readers/i,
  },
  { change: "grant", sql: "grant select on users to public", found: /grant select[^;]*users/i },
  { change: "sequence created", sql: "create sequence invoice_no", found: /invoice_no/i },
  {
    change: "comment",
    sql: "comment on table users is 'the people'",
    found: /comment on table[^;]*the people/i,
  },
];

interface EngineRun {
  engine: string;
  ms: number;
  statements: string[];
  error?: string;
}

async function runMigra(from: PgEndpoint, to: PgEndpoint): Promise<EngineRun> {
  const t0 = performance.now();
  try {
    const [a, b] = await Promise.all([migraEngine.inspect(from), migraEngine.inspect(to)]);
    const statements = await migraEngine.plan(a, b);
    return { engine: "@pgkit/migra 0.6.1 (zvpg's)", ms: performance.now() - t0, statements };
  } catch (e) {
    return { engine: "@pgkit/migra 0.6.1 (zvpg's)", ms: NaN, statements: [], error: String(e) };
  }
}

async function runPgDelta(from: PgEndpoint, to: PgEndpoint): Promise<EngineRun> {
  const engine = "@supabase/pg-delta 1.0.0-alpha.34";
  const pools = [from, to].map((e) => new pg.Pool({ ...e, max: 4 }));
  const t0 = performance.now();
  try {
    const [a, b] = await Promise.all(pools.map((p) => extract(p)));
    const migration = plan(a.factBase, b.factBase);
    const rendered = renderPlanFiles(migration, { allowDrops: true });
    const statements = rendered.files.flatMap((f) =>
      f.contents.split(/;\s*\n/).map((s) => s.trim()).filter((s) => s !== "" && !/^--/.test(s))
    );
    return { engine, ms: performance.now() - t0, statements };
  } catch (e) {
    return { engine, ms: NaN, statements: [], error: String(e) };
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

function report(runs: EngineRun[]): string {
  const out: string[] = ["# Schema-diff engines on one real pair of databases", ""];
  out.push(
    `Run ${new Date().toISOString()} by \`deno run -A bench/schema_diff_engines.ts\`: ` +
      "PostgreSQL 17 (localhost/zvpg-postgres:17), two databases with the same base schema; " +
      "the second then gets the changes below, and each engine is asked for the SQL that " +
      "turns the first into the second.",
    "",
  );
  out.push(`| change | ${runs.map((r) => r.engine).join(" | ")} |`);
  out.push(`|---|${runs.map(() => "---").join("|")}|`);
  for (const c of CHANGES) {
    const cells = runs.map((r) => (r.statements.some((s) => c.found.test(s)) ? "yes" : "**no**"));
    out.push(`| ${c.change} | ${cells.join(" | ")} |`);
  }
  const found = (r: EngineRun) =>
    CHANGES.filter((c) => r.statements.some((s) => c.found.test(s))).length;
  out.push(`| **found** | ${runs.map((r) => `${found(r)} / ${CHANGES.length}`).join(" | ")} |`);
  out.push(
    `| time (inspect both + plan) | ${
      runs.map((r) => (Number.isNaN(r.ms) ? "failed" : `${Math.round(r.ms)} ms`)).join(" | ")
    } |`,
  );
  out.push("");
  for (const r of runs) {
    out.push(`## ${r.engine}`, "");
    if (r.error) out.push(`Failed: ${r.error}`, "");
    out.push("```sql", ...r.statements.map((s) => (s.endsWith(";") ? s : `${s};`)), "```", "");
  }
  return out.join("\n");
}

const src = new SourceServer(19950, "localhost/zvpg-postgres:17", 999);
try {
  await src.start();
  await src.psql("postgres", "CREATE DATABASE base");
  await src.psql("postgres", "CREATE DATABASE changed");
  for (const db of ["base", "changed"]) await src.psql(db, BASE_SQL);
  for (const c of CHANGES) await src.psql("changed", c.sql);
  const endpoint = (database: string): PgEndpoint => ({
    host: "127.0.0.1",
    port: src.port,
    user: "postgres",
    password: src.password,
    database,
  });
  const runs = [
    await runMigra(endpoint("base"), endpoint("changed")),
    await runPgDelta(endpoint("base"), endpoint("changed")),
  ];
  const md = report(runs);
  Deno.writeTextFileSync(join(REPO, "bench", "results", "schema_diff_engines.md"), md + "\n");
  console.log(md);
} finally {
  await src.remove();
}
