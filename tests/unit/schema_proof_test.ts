import assert from "node:assert/strict";
import {
  changedSince,
  describeDifferences,
  parseSchemaDump,
  proveMerge,
  type SchemaDump,
} from "../../src/domain/schema_proof.ts";

/** A plain-format schema dump of `entries` ([name, type, schema, sql]), framed as pg_dump's. */
function dump(...entries: [string, string, string, string][]): string {
  const head = [
    "--",
    "-- PostgreSQL database dump",
    "--",
    "",
    "\\restrict AbC123",
    "",
    "-- Dumped from database version 17.12",
    "",
    "SET statement_timeout = 0;",
    "SELECT pg_catalog.set_config('search_path', '', false);",
    "",
  ];
  const body = entries.flatMap(([name, type, schema, sql]) => [
    "--",
    `-- Name: ${name}; Type: ${type}; Schema: ${schema}; Owner: postgres`,
    "--",
    "",
    sql,
    "",
    "SET default_tablespace = '';",
    "",
  ]);
  return [...head, ...body, "\\unrestrict AbC123", ""].join("\n");
}

const USERS = "CREATE TABLE public.users (\n    id integer NOT NULL,\n    name text\n);";
const SEQ = (start: number) =>
  `CREATE SEQUENCE public.inv_no\n    AS integer\n    START WITH ${start}\n    INCREMENT BY 10;`;

Deno.test("parseSchemaDump: one object per entry, without session settings or framing", () => {
  const parsed = parseSchemaDump(dump(
    ["users", "TABLE", "public", USERS],
    ["inv_no", "SEQUENCE", "public", SEQ(5000)],
    ["inv_no", "SEQUENCE OWNED BY", "public", "ALTER SEQUENCE public.inv_no OWNED BY public.t.id;"],
    ["TABLE users", "ACL", "public", "GRANT SELECT ON TABLE public.users TO app;"],
    ["SCHEMA public", "COMMENT", "-", "COMMENT ON SCHEMA public IS 'x';"],
  ));
  assert.deepEqual([...parsed.keys()], [
    "TABLE public.users",
    "SEQUENCE public.inv_no",
    "SEQUENCE OWNED BY public.inv_no",
    "ACL ON TABLE public.users",
    "COMMENT ON SCHEMA public",
  ]);
  assert.equal(parsed.get("TABLE public.users"), USERS);
  assert.ok(![...parsed.values()].some((sql) => /SET |restrict|set_config/.test(sql)));
});

Deno.test("parseSchemaDump: a second entry of the same key is kept apart, not merged", () => {
  const parsed = parseSchemaDump(dump(
    ["f(integer)", "FUNCTION", "public", "CREATE FUNCTION a"],
    ["f(integer)", "FUNCTION", "public", "CREATE FUNCTION b"],
  ));
  assert.deepEqual([...parsed.values()], ["CREATE FUNCTION a", "CREATE FUNCTION b"]);
});

function sides(base: SchemaDump, branch: SchemaDump, target: SchemaDump, merged: SchemaDump) {
  return proveMerge({ base, branch, target, merged });
}
const m = (entries: Record<string, string>): SchemaDump => new Map(Object.entries(entries));

Deno.test("proveMerge: the branch's changes plus the target's own is proven", () => {
  const base = m({ "TABLE public.users": USERS });
  const branch = m({ ...Object.fromEntries(base), "SEQUENCE public.inv_no": SEQ(5000) });
  const target = m({ ...Object.fromEntries(base), "TABLE public.t": "CREATE TABLE public.t ();" });
  const merged = m({
    ...Object.fromEntries(branch),
    "TABLE public.t": "CREATE TABLE public.t ();",
  });
  const proof = sides(base, branch, target, merged);
  assert.deepEqual(proof, { objectsChecked: 3, differences: [] });
});

Deno.test("proveMerge: a sequence merged without its options is a difference naming them", () => {
  const base = m({});
  const branch = m({ "SEQUENCE public.inv_no": SEQ(5000) });
  const proof = sides(base, branch, base, m({ "SEQUENCE public.inv_no": SEQ(1) }));
  assert.deepEqual(proof.differences, [{
    object: "SEQUENCE public.inv_no",
    expected: "branch",
    problem: "differs",
    detail: "-START WITH 5000 +START WITH 1",
  }]);
  assert.equal(
    describeDifferences(proof.differences),
    "SEQUENCE public.inv_no unlike the branch's [-START WITH 5000 +START WITH 1]",
  );
});

Deno.test("proveMerge: an ownership change the script did not make is missing", () => {
  const owned = "ALTER SEQUENCE public.s OWNED BY public.t.id;";
  const base = m({ "SEQUENCE public.s": "CREATE SEQUENCE public.s;" });
  const branch = m({ ...Object.fromEntries(base), "SEQUENCE OWNED BY public.s": owned });
  const [d] = sides(base, branch, base, base).differences;
  assert.equal(d.object, "SEQUENCE OWNED BY public.s");
  assert.equal(d.problem, "missing");
});

Deno.test("proveMerge: an object the script left behind, or dropped from the target, is named", () => {
  const base = m({ "TABLE public.old": "CREATE TABLE public.old ();" });
  const branch = m({});
  assert.equal(sides(base, branch, base, base).differences[0].problem, "unexpected");
  const target = m({
    ...Object.fromEntries(base),
    "VIEW public.v": "CREATE VIEW public.v AS SELECT 1;",
  });
  const [lost] = sides(base, base, target, base).differences;
  assert.deepEqual([lost.object, lost.expected, lost.problem], [
    "VIEW public.v",
    "target",
    "missing",
  ]);
});

Deno.test("proveMerge: the same columns in another order are named as a column order", () => {
  const reordered = "CREATE TABLE public.users (\n    name text,\n    id integer NOT NULL\n);";
  const base = m({
    "TABLE public.users": "CREATE TABLE public.users (\n    id integer NOT NULL\n);",
  });
  const branch = m({ "TABLE public.users": USERS });
  const [d] = sides(base, branch, base, m({ "TABLE public.users": reordered })).differences;
  assert.equal(d.problem, "column order");
  assert.match(describeDifferences([d]), /columns in another order than the branch's/);
});

Deno.test("proveMerge: an object changed differently on both sides is never taken as proven", () => {
  const base = m({ "SEQUENCE public.inv_no": SEQ(1) });
  const branch = m({ "SEQUENCE public.inv_no": SEQ(5000) });
  const target = m({ "SEQUENCE public.inv_no": SEQ(7000) });
  const [d] = sides(base, branch, target, branch).differences;
  assert.equal(d.problem, "changed on both");
  // the same change made on both sides is no difference
  assert.deepEqual(sides(base, branch, branch, branch).differences, []);
});

Deno.test("changedSince: the keys added, removed or redefined, sorted", () => {
  const a = m({ "TABLE public.a": "x", "TABLE public.b": "y" });
  const b = m({ "TABLE public.b": "z", "TABLE public.c": "w" });
  assert.deepEqual(changedSince(a, b), ["TABLE public.a", "TABLE public.b", "TABLE public.c"]);
  assert.deepEqual(changedSince(a, a), []);
});
