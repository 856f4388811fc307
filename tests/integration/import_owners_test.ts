/**
 * Dumps of a database owned by an application role, with grants to another role, made with
 * pg_dump's defaults: restored with their owners and grants (the roles they name made as
 * NOLOGIN roles), or without them when asked (`--no-owner`, `--no-privileges`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertCliError, itest, type TestEnv } from "../support/itest.ts";
import { branchHashes, sourceHashes, withSource } from "../support/source_server.ts";

/** Owners, grants and the roles of main's database `app`, as one comparable record. */
async function ownership(env: TestEnv, port: number) {
  const q = (sql: string) => env.psql(port, sql, "app");
  return {
    tables: await q(
      "SELECT string_agg(schemaname || '.' || tablename || '=' || tableowner, ',' ORDER BY schemaname, tablename) FROM pg_tables WHERE schemaname IN ('public', 'shop')",
    ),
    schema: await q("SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'shop'"),
    grants: await q(
      "SELECT coalesce(string_agg(grantee || ':' || privilege_type, ',' ORDER BY grantee, privilege_type), '') FROM information_schema.role_table_grants WHERE table_name = 'customers' AND grantee NOT IN ('postgres', 'app')",
    ),
    roles: await q(
      "SELECT coalesce(string_agg(rolname || ':' || rolcanlogin || ':' || (rolpassword IS NULL), ',' ORDER BY rolname), '') FROM pg_authid WHERE rolname IN ('app', 'reader')",
    ),
  };
}

itest(
  "init env --from <plain dump>, refresh --from <custom dump> (pg_dump's defaults): owners and grants come along, their roles made NOLOGIN; --no-owner --no-privileges leave them out",
  async (env) => {
    await withSource(async (src) => {
      const expected = await sourceHashes(src);
      const plain = join(env.base, "app.sql");
      const custom = join(env.base, "app.dump");
      await src.dump("p", plain);
      await src.dump("c", custom);
      const kept = {
        tables: "public.customers=app,public.orders=app,shop.items=app",
        schema: "app",
        grants: "reader:SELECT",
        roles: "app:false:true,reader:false:true",
      };

      const r = await env.zvpg(["init", "env", "--from", plain, "--database", "app"]);
      assert.equal(r.code, 0, r.stderr);
      const port = await env.port("main");
      assert.deepEqual(await branchHashes(env, port), expected);
      assert.deepEqual(await ownership(env, port), kept, "plain dump");

      await env.ok(["refresh", "--from", custom, "--database", "app"]);
      assert.deepEqual(await branchHashes(env, port), expected);
      assert.deepEqual(await ownership(env, port), kept, "custom dump");

      await env.ok([
        ...["refresh", "--from", custom, "--database", "app"],
        ...["--no-owner", "--no-privileges"],
      ]);
      assert.deepEqual(await branchHashes(env, port), expected);
      assert.deepEqual(await ownership(env, port), {
        tables: "public.customers=postgres,public.orders=postgres,shop.items=postgres",
        schema: "postgres",
        grants: "",
        roles: "",
      }, "custom dump, --no-owner --no-privileges");

      const refused = await env.zvpg(["refresh", "--from", plain, "--no-owner"]);
      assertCliError(refused, 2, /--no-owner and --no-privileges need a pg_dump archive/);
    });
  },
  { init: false },
);
