import assert from "node:assert/strict";
import {
  classifyDataLoss,
  type ColumnFacts,
  definitionDiff,
  findConflicts,
  idsToMerge,
  isWidening,
  objectChanges,
  type SchemaObject,
} from "../../src/domain/schema_merge.ts";

const obj = (id: string, definition: string, kind = "table"): SchemaObject => ({
  id,
  kind,
  name: id.split(":")[1].replaceAll('"', ""),
  definition,
});

const base = [
  obj('tables:"public"."t"', "create table t (a int)"),
  obj('tables:"public"."u"', "u1"),
];

Deno.test("objectChanges() finds added, removed and modified objects, sorted by kind and name", () => {
  const compare = [
    obj('tables:"public"."t"', "create table t (a int, b int)"),
    obj('functions:"public"."f"()', "create function f", "function"),
  ];
  const changes = objectChanges(base, compare);
  assert.deepEqual(changes.map((c) => [c.kind, c.name, c.change]), [
    ["function", "public.f()", "added"],
    ["table", "public.t", "modified"],
    ["table", "public.u", "removed"],
  ]);
  assert.equal(changes[1].before, "create table t (a int)");
  assert.equal(changes[2].after, undefined);
  assert.deepEqual(objectChanges(base, base), []);
});

Deno.test("findConflicts() names objects both sides changed differently since the fork", () => {
  const ours = objectChanges(base, [obj('tables:"public"."t"', "mine"), base[1]]);
  const theirs = objectChanges(base, [obj('tables:"public"."t"', "theirs")]);
  assert.deepEqual(findConflicts(ours, theirs), [
    { kind: "table", name: "public.t", branch: "modified", target: "modified" },
  ]);
});

Deno.test("findConflicts() accepts the same change on both sides and changes of one side only", () => {
  const ours = objectChanges(base, [obj('tables:"public"."t"', "same"), base[1]]);
  const theirs = objectChanges(base, [obj('tables:"public"."t"', "same"), obj("x:y", "new")]);
  assert.deepEqual(findConflicts(ours, theirs), []);
  assert.deepEqual([...idsToMerge(ours, theirs)], [], "already there: nothing to carry");
  const onlyOurs = objectChanges(base, [base[0]]);
  const keepsU = objectChanges(base, [obj('tables:"public"."t"', "same"), base[1]]);
  assert.deepEqual(findConflicts(onlyOurs, keepsU), []);
  assert.deepEqual([...idsToMerge(onlyOurs, keepsU)], ['tables:"public"."u"']);
});

Deno.test("findConflicts() sees a drop on one side and a change on the other", () => {
  const ours = objectChanges(base, [base[0]]);
  const theirs = objectChanges(base, [base[0], obj('tables:"public"."u"', "u2")]);
  assert.deepEqual(findConflicts(ours, theirs), [
    { kind: "table", name: "public.u", branch: "removed", target: "modified" },
  ]);
});

const facts: ColumnFacts = {
  columns: {
    '"public"."t"."n"': "integer",
    '"public"."t"."s"': "character varying(20)",
    '"public"."t"."m"': "mood",
  },
  enums: { '"public"."mood"': ["a", "b"] },
};

Deno.test("classifyDataLoss() names drops of tables, columns, schemas and sequences", () => {
  const losses = classifyDataLoss([
    'drop table "public"."t";',
    'alter table "public"."t" drop column "n";',
    'drop schema if exists "old";',
    'drop sequence "public"."s";',
    'drop view if exists "public"."v";',
    'drop index if exists "public"."i";',
    'drop function if exists "public"."f"();',
    'alter table "public"."t" alter column "n" drop default;',
    'create table "public"."drop table x" (a int);',
  ], facts);
  assert.deepEqual(losses.map((l) => l.reason), [
    "drops table public.t and its rows",
    "drops column public.t.n and its values",
    "drops schema old",
    "drops sequence public.s",
  ]);
});

Deno.test("classifyDataLoss() lets a generated column go: its values are computed again", () => {
  const withGenerated = { ...facts, generated: ['"public"."t"."area"'] };
  const losses = classifyDataLoss([
    "alter table public.t drop column area;",
    'alter table "public"."t" drop column "n";',
  ], withGenerated);
  assert.deepEqual(losses.map((l) => l.reason), ["drops column public.t.n and its values"]);
});

Deno.test("classifyDataLoss() refuses narrowing type changes and accepts widenings", () => {
  const losses = classifyDataLoss([
    'alter table "public"."t" alter column "n" set data type bigint using "n"::bigint;',
    'alter table "public"."t" alter column "s" set data type character varying(40) using "s"::character varying(40);',
    'alter table "public"."t" alter column "s" set data type character varying(5) using "s"::character varying(5);',
    'alter table "public"."t" alter column "n" set data type smallint using "n"::smallint;',
    'alter table "public"."x" alter column "y" set data type text;',
    "alter table public.t alter column n set data type smallint using n::smallint;",
  ], facts);
  assert.deepEqual(losses.map((l) => l.reason), [
    "changes the type of public.t.s from character varying(20) to character varying(5), which may not keep every value",
    "changes the type of public.t.n from integer to smallint, which may not keep every value",
    "changes the type of public.x.y to text",
    "changes the type of public.t.n from integer to smallint, which may not keep every value",
  ]);
});

Deno.test("classifyDataLoss() accepts an enum recreated with a new value, not one without a value", () => {
  const recreate = (values: string) => [
    'alter type "public"."mood" rename to "mood__old_version_to_be_dropped";',
    `create type "public"."mood" as enum (${values});`,
    'alter table "public"."t" alter column m type "public"."mood" using m::text::"public"."mood";',
    'drop type "public"."mood__old_version_to_be_dropped";',
  ];
  assert.deepEqual(classifyDataLoss(recreate("'a', 'b', 'c'"), facts), []);
  const losses = classifyDataLoss(recreate("'a', 'c'"), facts);
  assert.ok(losses.some((l) => l.reason === "recreates enum public.mood without value(s) b"));
});

Deno.test("isWidening() knows common widenings and bounded types", () => {
  assert.equal(isWidening("integer", "bigint"), true);
  assert.equal(isWidening("bigint", "integer"), false);
  assert.equal(isWidening("numeric(10,2)", "numeric(12,2)"), true);
  assert.equal(isWidening("numeric(10,2)", "numeric(10,1)"), false);
  assert.equal(isWidening("numeric(10,2)", "numeric"), true);
  assert.equal(isWidening("character varying(10)", "text"), true);
  assert.equal(isWidening("text", "character varying(10)"), false);
});

Deno.test("definitionDiff() marks removed, added and common lines", () => {
  assert.deepEqual(definitionDiff("a\nb\nc", "a\nx\nc"), [" a", "-b", "+x", " c"]);
  assert.deepEqual(definitionDiff(undefined, "a"), ["+a"]);
  assert.deepEqual(definitionDiff("a", undefined), ["-a"]);
});
