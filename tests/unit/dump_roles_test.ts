import assert from "node:assert/strict";
import { dumpRoles } from "../../src/domain/dump_roles.ts";
import { nologinRolesScript } from "../../src/ops/import/sql.ts";

/** What pg_dump 17 writes for a database owned by `app` with grants to `reader`. */
const SCRIPT = `--
SET default_table_access_method = heap;
CREATE SCHEMA shop;
ALTER SCHEMA shop OWNER TO app;
ALTER SCHEMA public OWNER TO pg_database_owner;
CREATE TABLE public.customers (id integer NOT NULL, name text);
ALTER TABLE public.customers OWNER TO app;
ALTER TABLE public."Odd Table" OWNER TO "Mixed ""Case""";
COPY public.customers (id, name) FROM stdin;
1	GRANT SELECT ON TABLE x TO intruder;
2	ALTER TABLE y OWNER TO intruder;
\\.
SET SESSION AUTHORIZATION 'owner''s';
GRANT SELECT ON TABLE public.customers TO reader;
GRANT SELECT(name),UPDATE(name) ON TABLE public.customers TO "Writer";
GRANT USAGE ON SCHEMA shop TO PUBLIC;
REVOKE ALL ON TABLE public.customers FROM auditor;
ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON TABLES TO reporting;
CREATE POLICY own_rows ON public.customers FOR SELECT TO reader, "Policy Role" USING ((name = CURRENT_USER));
CREATE USER MAPPING FOR mapper SERVER remote;
GRANT ALL ON TABLE public.customers TO CURRENT_USER;
`;

Deno.test("dumpRoles() names the owners, grantees and policy roles of a pg_dump script, skipping COPY rows, PUBLIC and pg_ roles", () => {
  assert.deepEqual(dumpRoles(SCRIPT), {
    owners: ["app", 'Mixed "Case"', "owner's"],
    privileges: ["reader", "Writer", "auditor", "app", "reporting"],
    other: ["reader", "Policy Role", "mapper"],
  });
  assert.deepEqual(dumpRoles("CREATE TABLE t (id int);\r\n"), {
    owners: [],
    privileges: [],
    other: [],
  });
  // CRLF line ends (a dump edited on Windows) read the same
  assert.deepEqual(dumpRoles("ALTER TABLE t OWNER TO app;\r\n").owners, ["app"]);
});

Deno.test("nologinRolesScript() creates each missing role once, quoted, without login or password", () => {
  assert.equal(
    nologinRolesScript(["app", "reader", "app", 'we"ird', "postgres"], new Set(["postgres"])),
    'CREATE ROLE "app" NOLOGIN;\nCREATE ROLE "reader" NOLOGIN;\nCREATE ROLE "we""ird" NOLOGIN;\n',
  );
  assert.equal(nologinRolesScript(["postgres"], new Set(["postgres"])), "");
});
