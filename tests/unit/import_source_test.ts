import assert from "node:assert/strict";
import {
  classifyPath,
  conninfo,
  describeSource,
  dumpDatabaseName,
  dumpFormat,
  importSnapshotName,
  isConnectionString,
  parseConnectionString,
  passwordFromPgpass,
  redactConnectionString,
  type ServerSource,
  sourcePgpass,
  stripSourceSettings,
} from "../../src/domain/import_source.ts";
import { rolesScript } from "../../src/ops/import/sql.ts";
import { scramVerifier } from "../../src/domain/scram.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("parseConnectionString() keeps the URI's password apart from its parameters", () => {
  const s = parseConnectionString("postgresql://app:p%40ss:w@db.example:6432/shop?sslmode=require");
  assert.deepEqual(s.params, {
    host: "db.example",
    port: "6432",
    user: "app",
    dbname: "shop",
    sslmode: "require",
  });
  assert.equal(s.password, "p@ss:w");
  assert.ok(!conninfo(s).includes("p@ss"));
  assert.equal(describeSource(s), "postgresql://app@db.example:6432/shop");
});

Deno.test("parseConnectionString() reads key=value conninfo with quotes", () => {
  const s = parseConnectionString("host=db dbname='my db' password='it\\'s' user=x");
  assert.equal(s.params.dbname, "my db");
  assert.equal(s.params.host, "db");
  assert.equal(s.password, "it's");
  assert.equal(s.params.password, undefined);
});

Deno.test("redactConnectionString() hides URI and keyword passwords", () => {
  assert.equal(redactConnectionString("postgresql://u:secret@h/db"), "postgresql://u:***@h/db");
  assert.equal(redactConnectionString("host=h password=secret"), "host=h password=***");
});

Deno.test("isConnectionString() tells URIs and conninfo from paths", () => {
  assert.ok(isConnectionString("postgres://h/db"));
  assert.ok(isConnectionString("host=h dbname=d"));
  assert.ok(!isConnectionString("./app.dump"));
  assert.ok(!isConnectionString("/var/lib/postgresql/15/main"));
});

Deno.test("dumpFormat() detects the format from content, not the name", () => {
  assert.equal(dumpFormat({ isDirectory: false, head: bytes("PGDMP\x01\x0e") }), "custom");
  const tar = new Uint8Array(512);
  tar.set(bytes("toc.dat"), 0);
  tar.set(bytes("ustar"), 257);
  assert.equal(dumpFormat({ isDirectory: false, head: tar }), "tar");
  assert.equal(
    dumpFormat({ isDirectory: false, head: bytes("--\n-- PostgreSQL database dump\n") }),
    "plain",
  );
  assert.equal(dumpFormat({ isDirectory: true, entries: ["toc.dat", "3001.dat.gz"] }), "directory");
  assert.equal(dumpFormat({ isDirectory: false, head: bytes("\x89PNG") }), undefined);
});

Deno.test("classifyPath() takes a data directory, and refuses what is neither", () => {
  assert.deepEqual(
    classifyPath("/d", { isDirectory: true, entries: ["PG_VERSION", "global", "base"] }),
    { kind: "datadir", path: "/d" },
  );
  assert.throws(
    () => classifyPath("/x", { isDirectory: true, entries: ["a"] }),
    /neither a pg_dump output nor a PostgreSQL data directory/,
  );
});

Deno.test("passwordFromPgpass() follows libpq's first-match rule with escapes", () => {
  const text = "# c\nother:5432:*:*:no\n127.0.0.1:5433:*:app:a\\:b\\\\c\n*:*:*:*:fallback\n";
  const t = { host: "127.0.0.1", port: "5433", dbname: "app", user: "app" };
  assert.equal(passwordFromPgpass(text, t), "a:b\\c");
  assert.equal(passwordFromPgpass(text, { ...t, port: "1" }), "fallback");
});

Deno.test("sourcePgpass() names the source's host and port (never '*'), escaping ':' and '\\'", () => {
  const server = (from: string) => parseConnectionString(from) as ServerSource;
  assert.equal(
    sourcePgpass(server("postgresql://app@db.example:6543/app"), "a:b\\c"),
    "db.example:6543:*:*:a\\:b\\\\c\n",
  );
  // the defaults libpq matches: localhost and 5432
  assert.equal(sourcePgpass(server("dbname=app"), "pw"), "localhost:5432:*:*:pw\n");
  // an IPv6 host has its ':' escaped; hostaddr stands for a missing host
  assert.equal(
    sourcePgpass(server("postgresql://app@[::1]:5433/app"), "pw"),
    "\\:\\:1:5433:*:*:pw\n",
  );
  assert.equal(sourcePgpass(server("hostaddr=10.0.0.7 port=7"), "pw"), "10.0.0.7:7:*:*:pw\n");
  // one line per host of a list; one port for all, or one each
  assert.equal(
    sourcePgpass(server("host=a,b port=1,2 dbname=x"), "pw"),
    "a:1:*:*:pw\nb:2:*:*:pw\n",
  );
  assert.equal(sourcePgpass(server("host=a,b port=9"), "pw"), "a:9:*:*:pw\nb:9:*:*:pw\n");
  // a socket directory is matched as itself and as localhost
  assert.equal(
    sourcePgpass(server("host=/var/run/postgresql"), "pw"),
    "/var/run/postgresql:5432:*:*:pw\nlocalhost:5432:*:*:pw\n",
  );
  for (const line of sourcePgpass(server("host=a,b"), "x:y").trim().split("\n")) {
    assert.ok(!line.startsWith("*"), line);
  }
  assert.throws(() => sourcePgpass(server("host=a"), "a\nb"), /line break/);
});

Deno.test("stripSourceSettings() drops primary_conninfo and restore settings", () => {
  const conf =
    "work_mem = '8MB'\nprimary_conninfo = 'user=repl password=secret host=x'\nprimary_slot_name = 's'\n";
  assert.equal(stripSourceSettings(conf), "work_mem = '8MB'\n");
});

Deno.test("dumpDatabaseName() and importSnapshotName()", () => {
  assert.equal(dumpDatabaseName(";\n;     dbname: app\n;"), "app");
  assert.equal(importSnapshotName(new Date("2026-11-25T10:02:03Z")), "import-20261125-100203");
});

Deno.test("rolesScript() keeps ALTER ROLE but drops CREATE ROLE of existing roles", () => {
  const dump =
    'CREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER;\nCREATE ROLE "Odd""x";\nCREATE ROLE app;';
  assert.equal(
    rolesScript(dump, new Set(["postgres", 'Odd"x'])),
    "ALTER ROLE postgres WITH SUPERUSER;\nCREATE ROLE app;",
  );
});

Deno.test("scramVerifier() builds a SCRAM-SHA-256 verifier with the salt given and never the password", async () => {
  // computed with PostgreSQL 17: salt 'salt1234salt1234' (base64 c2FsdDEyMzRzYWx0MTIzNA==)
  const v = await scramVerifier("secret", new TextEncoder().encode("salt1234salt1234"));
  assert.match(
    v,
    /^SCRAM-SHA-256\$4096:c2FsdDEyMzRzYWx0MTIzNA==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/,
  );
  assert.ok(!v.includes("secret"));
});
