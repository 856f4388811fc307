import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { findSupervisor } from "../../src/ops/server_control.ts";
import { table, withTempDir } from "./helpers.ts";

const SUPERVISOR = "sh /etc/zvpg/serve.sh postgres -D /var/lib/postgresql/data";

Deno.test("findSupervisor() is the one parent of the server's processes running zvpg's script", async () => {
  await withTempDir((dir) => {
    const pgdata = join(dir, "pgdata");
    mkdirSync(pgdata);
    // 20 is the postmaster, 21 and 22 its children; 10 the supervisor
    const cwds = { 20: pgdata, 21: pgdata, 22: pgdata, 30: dir };
    const parents = { 20: 10, 21: 20, 22: 20, 30: 10 };
    assert.equal(findSupervisor(pgdata, table(cwds, "postgres", parents, { 10: SUPERVISOR })), 10);
    // a server run as the container's first process (an older container): nobody to signal
    assert.equal(
      findSupervisor(pgdata, table(cwds, "postgres", parents, { 10: "containerd-shim" })),
      undefined,
    );
    // no server at all
    assert.equal(findSupervisor(pgdata, table({ 30: dir }, "postgres", parents)), undefined);
    // two servers under two parents (a second engine): never guess
    const two = { ...parents, 22: 11 };
    assert.equal(
      findSupervisor(pgdata, table(cwds, "postgres", two, { 10: SUPERVISOR, 11: SUPERVISOR })),
      undefined,
    );
  });
});
