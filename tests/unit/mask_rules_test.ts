import assert from "node:assert/strict";
import { MaskRulesError, parseMaskRules } from "../../src/domain/mask_rules.ts";
import {
  checkMaskRules,
  columnExpression,
  keyFunction,
  MaskCoverageError,
  maskProblems,
  parseSchemaFacts,
  planDatabaseMask,
  type SchemaFacts,
  withoutValues,
} from "../../src/domain/mask_plan.ts";

const FILE = "/etc/rules.json";
const KEY = "ab".repeat(32);

const RULES_TEXT = `{
  "version": 1,
  "tables": {
    "public.users": {
      "columns": {
        "id": "keep",
        "email": "email",
        "name": "name",
        "phone": "phone",
        "bio": "text",
        "prefs": { "sql": "'{}'::jsonb" },
        "born": { "fake": "date", "days": 30 },
        "score": { "fake": "number", "min": 1, "max": 10 },
        "country": { "const": "FR" },
        "notes": "null"
      }
    },
    "public.orders": {
      "where": "created > now() - interval '90 days'",
      "columns": { "id": "keep", "user_email": "email", "created": "keep" }
    },
    "public.countries": "keep",
    "public.audit": "empty"
  }
}
`;

const SCHEMA: SchemaFacts = {
  tables: [
    {
      schema: "public",
      name: "users",
      columns: [
        { name: "id", type: "integer", notNull: true },
        { name: "email", type: "text", notNull: true },
        { name: "name", type: "text", notNull: true },
        { name: "phone", type: "text", notNull: false },
        { name: "bio", type: "text", notNull: false },
        { name: "prefs", type: "jsonb", notNull: false },
        { name: "born", type: "date", notNull: false },
        { name: "score", type: "integer", notNull: false },
        { name: "country", type: "character varying(2)", notNull: false },
        { name: "notes", type: "text", notNull: false },
      ],
      unique: [["id"], ["email"]],
    },
    {
      schema: "public",
      name: "orders",
      columns: [
        { name: "id", type: "bigint", notNull: true },
        { name: "user_email", type: "text", notNull: true },
        { name: "created", type: "timestamp with time zone", notNull: true },
      ],
      unique: [["id"]],
    },
    { schema: "public", name: "countries", columns: [], unique: [] },
    {
      schema: "public",
      name: "audit",
      columns: [{ name: "what", type: "text", notNull: false }],
      unique: [],
    },
  ],
  foreignKeys: [{
    table: "public.orders",
    columns: ["user_email"],
    refTable: "public.users",
    refColumns: ["email"],
  }],
};

Deno.test("parseMaskRules: every kind of rule is read", () => {
  const rules = parseMaskRules(RULES_TEXT, FILE);
  assert.deepEqual(rules.tables["public.countries"], { kind: "keep" });
  assert.deepEqual(rules.tables["public.audit"], { kind: "empty" });
  const users = rules.tables["public.users"];
  assert.equal(users.kind, "mask");
  if (users.kind !== "mask") return;
  assert.deepEqual(users.columns.email, { kind: "fake", fake: "email" });
  assert.deepEqual(users.columns.born, { kind: "date", days: 30 });
  assert.deepEqual(users.columns.score, { kind: "number", min: 1, max: 10 });
  assert.deepEqual(users.columns.country, { kind: "const", value: "FR" });
  assert.deepEqual(users.columns.prefs, { kind: "sql", sql: "'{}'::jsonb", injective: false });
  assert.deepEqual(users.columns.notes, { kind: "null" });
});

Deno.test("parseMaskRules: a bad column rule names the file, line, table and column", () => {
  const text = RULES_TEXT.replace(`"phone": "phone"`, `"phone": "telephone"`);
  assert.throws(() => parseMaskRules(text, FILE), (e: Error) => {
    assert.ok(e instanceof MaskRulesError);
    assert.match(e.message, /^\/etc\/rules\.json:9: table public\.users, column phone: /);
    return true;
  });
});

Deno.test("parseMaskRules: invalid JSON, a bad range and a bad table name are one line each", () => {
  assert.throws(
    () => parseMaskRules('{\n  "version": 1,\n  oops\n}', FILE),
    /rules\.json:3: not valid JSON/,
  );
  const range = RULES_TEXT.replace(`"min": 1, "max": 10`, `"min": 10, "max": 1`);
  assert.throws(() => parseMaskRules(range, FILE), /column score: /);
  const table = RULES_TEXT.replace(`"public.audit"`, `"audit"`);
  assert.throws(() => parseMaskRules(table, FILE), /table audit: a table is named 'schema\.table'/);
  assert.throws(() => parseMaskRules(`{"version": 2, "tables": {}}`, FILE), /version/);
});

Deno.test("maskProblems: rules that fit the schema have none", () => {
  assert.deepEqual(maskProblems(parseMaskRules(RULES_TEXT, FILE), { app: SCHEMA }), []);
});

Deno.test("maskProblems: every uncovered column and table is named, nothing else stops it", () => {
  const rules = parseMaskRules(RULES_TEXT, FILE);
  const schema: SchemaFacts = structuredClone(SCHEMA);
  schema.tables[0].columns.push({ name: "ssn", type: "text", notNull: false });
  schema.tables[0].columns.push({ name: "iban", type: "text", notNull: false });
  schema.tables.push({
    schema: "public",
    name: "secrets",
    columns: [{ name: "x", type: "text", notNull: false }],
    unique: [],
  });
  const problems = maskProblems(rules, { app: schema });
  assert.deepEqual(problems, [
    "app: public.users: column(s) ssn, iban have no rule",
    "app: public.secrets has no rule (columns x)",
  ]);
  assert.throws(
    () => checkMaskRules(rules, { app: schema }, FILE),
    (e: Error) =>
      e instanceof MaskCoverageError && /ssn, iban/.test(e.message) && !e.message.includes("\n"),
  );
});

Deno.test("maskProblems: a lossy rule on a unique or foreign-key column is refused", () => {
  const lossyUnique = RULES_TEXT.replace(`"email": "email"`, `"email": "name"`);
  const problems = maskProblems(parseMaskRules(lossyUnique, FILE), { app: SCHEMA });
  assert.ok(
    problems.some((p) =>
      /public\.users\.email: name is lossy on a column of a unique index/.test(p)
    ),
  );
  assert.ok(problems.some((p) => /foreign key column needs keep, email, hash/.test(p)));
  const differ = RULES_TEXT.replace(`"user_email": "email"`, `"user_email": "hash"`);
  assert.deepEqual(maskProblems(parseMaskRules(differ, FILE), { app: SCHEMA }), [
    "app: public.orders.user_email → public.users.email: both sides of a foreign key need the same rule",
  ]);
  const nullNotNull = RULES_TEXT.replace(`"name": "name"`, `"name": "null"`);
  assert.deepEqual(maskProblems(parseMaskRules(nullNotNull, FILE), { app: SCHEMA }), [
    "app: public.users.name: null on a NOT NULL column",
  ]);
  const injective = RULES_TEXT.replace(
    `"email": "email"`,
    `"email": {"sql": "md5(email)", "injective": true}`,
  )
    .replace(`"user_email": "email"`, `"user_email": {"sql": "md5(email)", "injective": true}`);
  assert.deepEqual(maskProblems(parseMaskRules(injective, FILE), { app: SCHEMA }), []);
});

Deno.test("planDatabaseMask: key function, triggers off, filter, empty and one UPDATE per table", () => {
  const plan = planDatabaseMask(parseMaskRules(RULES_TEXT, FILE), "app", SCHEMA, KEY);
  assert.equal(plan.statements[0], keyFunction(KEY));
  assert.equal(plan.statements[1], "SET session_replication_role = replica");
  assert.ok(plan.statements.includes(`DELETE FROM "public"."audit"`));
  assert.ok(
    plan.statements.includes(
      `DELETE FROM "public"."orders" WHERE NOT coalesce((created > now() - interval '90 days'), false)`,
    ),
  );
  const update = plan.statements.find((s) => s.startsWith(`UPDATE "public"."users"`))!;
  assert.match(
    update,
    /"email" = \('user-' \|\| substr\(pg_temp\.zvpg_mask_h\("email"::text\), 1, 16\)/,
  );
  assert.match(update, /"notes" = NULL/);
  assert.match(update, /"country" = \('FR'\)::character varying\(2\)/);
  assert.ok(!update.includes(`"id" =`), "kept columns are not rewritten");
  assert.ok(!plan.statements.some((s) => s.includes("countries")), "a kept table is untouched");
  assert.deepEqual(plan.statements.slice(-2), ["RESET session_replication_role", "ANALYZE"]);
  assert.deepEqual(plan.unusedTables, []);
  // the same rule gives the same expression on both sides of a key
  assert.equal(
    columnExpression({ kind: "fake", fake: "email" }, `"x"`, "text"),
    columnExpression({ kind: "fake", fake: "email" }, `"x"`, "text"),
  );
});

Deno.test("keyFunction: only a hex key is accepted", () => {
  assert.throws(() => keyFunction("x'; DROP TABLE users; --"));
  assert.match(keyFunction(KEY), /^CREATE FUNCTION pg_temp\.zvpg_mask_h/);
});

Deno.test("parseSchemaFacts: quoted table names of foreign keys are unquoted", () => {
  const facts = parseSchemaFacts(JSON.stringify({
    tables: [],
    foreignKeys: [{
      table: `"My Schema".orders`,
      columns: ["a"],
      refTable: `public."Users"`,
      refColumns: ["b"],
    }],
  }));
  assert.equal(facts.foreignKeys[0].table, "My Schema.orders");
  assert.equal(facts.foreignKeys[0].refTable, "public.Users");
});

Deno.test("parseMaskRules: the rules files of docs/masking.md and the README are valid", () => {
  const root = new URL("../../", import.meta.url).pathname;
  const masking = Deno.readTextFileSync(`${root}docs/masking.md`);
  const example = /### A realistic example[\s\S]*?```json\n([\s\S]*?)```/.exec(masking)![1];
  assert.equal(Object.keys(parseMaskRules(example, "docs/masking.md").tables).length, 7);
  const readme = Deno.readTextFileSync(`${root}README.md`);
  const inReadme = /cat > masking\.json <<'JSON'\n([\s\S]*?)\nJSON/.exec(readme)![1];
  assert.equal(Object.keys(parseMaskRules(inReadme, "README.md").tables).length, 4);
});

Deno.test("withoutValues: an error of the masking step quotes no value of a row", () => {
  assert.equal(
    withoutValues(
      'SQL on the imported copy failed: psql:<stdin>:9: ERROR:  invalid input syntax for type integer: "Jane Doe"',
    ),
    'SQL on the imported copy failed: psql:<stdin>:9: ERROR:  invalid input syntax for type integer: "…"',
  );
  assert.equal(
    withoutValues(
      'ERROR:  duplicate key value violates unique constraint "c_email_key" DETAIL:  Key (email)=(jane@real.example) already exists.',
    ),
    'ERROR:  duplicate key value violates unique constraint "…"',
  );
  assert.equal(
    withoutValues("ERROR:  x (email)=(jane@real.example) and 'jane' CONTEXT: SQL function"),
    "ERROR:  x (…)=(…) and '…'",
  );
});
