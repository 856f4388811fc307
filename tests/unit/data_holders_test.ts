import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { StateError } from "../../src/errors.ts";
import { assertNoServer, processesIn } from "../../src/ops/data_holders.ts";
import { table, withTempDir } from "./helpers.ts";

Deno.test("processesIn() finds the processes working in a directory, not beside it", async () => {
  await withTempDir((dir) => {
    const pgdata = join(dir, "pgdata");
    const other = join(dir, "other");
    mkdirSync(pgdata);
    mkdirSync(other);
    const found = processesIn(pgdata, table({ 10: pgdata, 11: other, 12: undefined, 13: dir }));
    assert.deepEqual(found, [{ pid: 10, command: "postgres" }]);
    assert.deepEqual(processesIn(join(dir, "missing"), table({ 10: pgdata })), []);
  });
});

Deno.test("assertNoServer() names the processes that hold the data directory", async () => {
  await withTempDir((dir) => {
    const pgdata = join(dir, "pgdata");
    mkdirSync(pgdata);
    assertNoServer("b", pgdata, table({ 5: dir }));
    assert.throws(
      () => assertNoServer("b", pgdata, table({ 7: pgdata, 8: pgdata, 9: pgdata, 10: pgdata })),
      (e: unknown) => {
        assert.ok(e instanceof StateError);
        assert.equal(
          e.message,
          "branch 'b': its data directory is in use by process 7 (postgres), 8 (postgres), " +
            "9 (postgres) and 1 more; zvpg never starts a second server on one data directory",
        );
        return true;
      },
    );
  });
});
