import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveSource, sourcePassword } from "../../src/ops/import/source.ts";
import { parseConnectionString } from "../../src/domain/import_source.ts";

Deno.test("resolveSource() detects a dump by its content whatever its name, and a data directory", () => {
  const dir = Deno.makeTempDirSync();
  writeFileSync(join(dir, "looks.sql"), "PGDMP\x01\x0e\x00");
  assert.deepEqual(resolveSource(join(dir, "looks.sql")), {
    kind: "dump",
    path: join(dir, "looks.sql"),
    format: "custom",
  });
  mkdirSync(join(dir, "pgdata/global"), { recursive: true });
  writeFileSync(join(dir, "pgdata/PG_VERSION"), "17\n");
  assert.equal(resolveSource(join(dir, "pgdata")).kind, "datadir");
  assert.throws(() => resolveSource(join(dir, "missing.dump")), /does not exist/);
  assert.equal(resolveSource("host=db dbname=app").kind, "server");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("sourcePassword(): the URI's first, then PGPASSWORD, then the passfile", () => {
  const dir = Deno.makeTempDirSync();
  const passfile = join(dir, "pgpass");
  writeFileSync(passfile, "db:5432:app:app:from-file\n", { mode: 0o600 });
  const bare = parseConnectionString("postgresql://app@db:5432/app");
  assert.equal(
    sourcePassword(parseConnectionString("postgresql://app:uri@db/app"), { PGPASSWORD: "env" }),
    "uri",
  );
  assert.equal(sourcePassword(bare, { PGPASSWORD: "env", PGPASSFILE: passfile }), "env");
  assert.equal(sourcePassword(bare, { PGPASSFILE: passfile }), "from-file");
  assert.equal(sourcePassword(bare, { PGPASSFILE: join(dir, "none") }), undefined);
  Deno.removeSync(dir, { recursive: true });
});
