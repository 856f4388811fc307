import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ZvpgError } from "../../src/errors.ts";
import { createContext } from "../../src/cli/session.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { findSupervisor, resumeServer } from "../../src/ops/server_control.ts";
import { table, testConfig, withTempDir } from "./helpers.ts";

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

Deno.test("resumeServer() signals only the supervisor it paused, never a process that took its pid", async () => {
  await withTempDir((dir) => {
    const ctx = createContext(testConfig(dir), new FakeRunner([]));
    const pgdata = ctx.layout.pgdata("feature");
    mkdirSync(pgdata, { recursive: true });
    // pid 10 is no process of the fake table's: whatever it is, it is not the supervisor
    // paused at start time 1010 (the table's) of pid 10 when it ran zvpg's script
    const gone = table({}, "postgres", {}, {});
    assert.throws(
      () => resumeServer(ctx, "feature", { supervisor: 10, startTime: 1010 }, gone),
      (e: Error) =>
        e instanceof ZvpgError && /supervisor of branch 'feature' is gone/.test(e.message),
    );
    // the same pid, now another program (the pid was taken again)
    const other = table({}, "postgres", {}, { 10: "/usr/bin/some-daemon" });
    assert.throws(
      () => resumeServer(ctx, "feature", { supervisor: 10, startTime: 1010 }, other),
      /is gone/,
    );
    // zvpg's script again, but started later: another container's supervisor
    const later = table({}, "postgres", {}, { 10: SUPERVISOR });
    assert.throws(
      () => resumeServer(ctx, "feature", { supervisor: 10, startTime: 999 }, later),
      /is gone/,
    );
  });
});
