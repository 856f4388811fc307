import assert from "node:assert/strict";
import { itest, sh } from "../support/itest.ts";

itest(
  "podman: init, branch create, isolation, stop/start, reset in place, delete, health",
  async (env) => {
    const main = await env.port("main");
    await env.psql(main, "create table t as select 1 as v");
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "feature/p", "--from", "base"]);
    const port = await env.port("feature/p");
    await env.psql(port, "insert into t values (2)");
    assert.equal(await env.psql(main, "select count(*) from t"), "1");
    await env.ok(["branch", "stop", "feature/p"]);
    await env.ok(["branch", "start", "feature/p"]);
    assert.equal(await env.psql(port, "select count(*) from t"), "2");
    const names = await env.containers();
    assert.equal(names.length, 2);
    const ps = await sh("podman", ["ps", "--format", "{{.Names}}"]);
    assert.ok(names.every((n) => ps.stdout.includes(n)));
    assert.equal((await env.zvpg(["status", "health"])).code, 0);
    // a reset to the origin is done in place under podman too: the same container, its data
    const before = await env.containerId("feature/p");
    assert.notEqual(before, "");
    await env.ok(["branch", "reset", "feature/p"]);
    assert.equal(await env.psql(port, "select count(*) from t"), "1");
    assert.equal(await env.containerId("feature/p"), before);
    await env.ok(["branch", "delete", "feature/p"]);
    assert.equal((await env.containers()).length, 1);
  },
  { config: { containerRuntime: "podman" } },
);
