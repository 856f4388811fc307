/**
 * The core workflow on whatever ZFS this machine runs: the tier that also runs on OpenZFS
 * 2.x in a VM (scripts/test_openzfs.sh), in the default CI run. One pool per workflow, so
 * that it stays affordable under a software CPU. Assertions that depend on the ZFS flavor
 * say so.
 */
import assert from "node:assert/strict";
import { hostZfsFlavor } from "../../src/adapters/zfs.ts";
import { itest, sh } from "../support/itest.ts";
import { branchHashes, sourceHashes, withSource } from "../support/source_server.ts";

interface Branch {
  name: string;
  status: string;
  port: number | null;
  lastPort: number | null;
  written: number | null;
}

interface Check {
  name: string;
  status: string;
}

itest(
  "core: snapshot, branch, stop, start, reset, repair, delete, with data checked at each step",
  async (env) => {
    const flavor = hostZfsFlavor();
    assert.equal((await env.zvpg(["init", "check"])).code, 0);
    const mainPort = await env.port("main");
    await env.psql(mainPort, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    await env.psql(mainPort, "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g");

    // snapshot create runs a CHECKPOINT first: the rows are in the snapshot
    await env.ok(["snapshot", "create", "base", "-m", "a thousand rows"]);
    await env.psql(mainPort, "INSERT INTO t VALUES (1001, 'after the snapshot')");
    const created = await env.json<Branch>(["branch", "create", "dev", "--from", "base"]);
    assert.equal(created.status, "running");
    const devPort = created.port!;
    assert.equal(await env.psql(devPort, "SELECT count(*) FROM t"), "1000");

    await env.psql(
      devPort,
      "INSERT INTO t SELECT g, repeat('x', 500) FROM generate_series(2000, 4000) g",
    );
    await env.psql(devPort, "CHECKPOINT");
    const info = await env.json<Branch>(["branch", "info", "dev"]);
    if (flavor === "openzfs") {
      // OpenZFS reports what the branch wrote since its origin (flavor-dependent)
      assert.equal(typeof info.written, "number");
      assert.ok(info.written! > 0, `written ${info.written}`);
    } else {
      assert.equal(info.written, null, "zfs-fuse has no `written`");
    }

    // stop keeps the data; start serves it again on its last port when free
    await env.ok(["branch", "stop", "dev"]);
    const stopped = await env.json<Branch>(["branch", "info", "dev"]);
    assert.deepEqual([stopped.status, stopped.port, stopped.lastPort], ["stopped", null, devPort]);
    const started = await env.json<Branch>(["branch", "start", "dev"]);
    assert.equal(started.port, devPort);
    assert.equal(await env.psql(devPort, "SELECT count(*) FROM t"), "3001");

    // reset throws the branch's writes away: its origin's data again, on the same port
    const reset = await env.json<Branch & { resetTo: string }>(["branch", "reset", "dev"]);
    assert.deepEqual([reset.status, reset.port, reset.resetTo], ["running", devPort, "base"]);
    assert.equal(await env.psql(devPort, "SELECT count(*) FROM t"), "1000");
    await env.psql(
      devPort,
      "INSERT INTO t SELECT g, repeat('x', 500) FROM generate_series(2000, 4000) g",
    );

    // a container removed behind zvpg's back is drift: health fails, repair restarts it
    const containers = await env.containers();
    const devContainer = containers.find((c) => c.startsWith("zvpg_dev_"))!;
    assert.equal((await sh(env.engine, ["rm", "-f", devContainer])).code, 0);
    const health = await env.zvpg(["status", "health", "-f", "json"]);
    assert.equal(health.code, 1, health.stdout);
    const drift = (JSON.parse(health.stdout).checks as Check[]).find((c) => c.name === "drift");
    assert.equal(drift?.status, "fail");
    await env.ok(["status", "health", "--repair"]);
    assert.equal((await env.zvpg(["status", "health"])).code, 0);
    assert.equal(await env.psql(await env.port("dev"), "SELECT count(*) FROM t"), "3001");

    // delete takes the branch and its automatic snapshot; the named one stays until deleted
    await env.ok(["branch", "delete", "dev"]);
    assert.deepEqual(
      (await env.json<Branch[]>(["branch", "list"])).map((b) => b.name),
      ["main"],
    );
    await env.ok(["snapshot", "delete", "base"]);
    assert.deepEqual(await env.json(["snapshot", "list"]), []);
    assert.equal(await env.psql(mainPort, "SELECT count(*) FROM t"), "1001");
  },
);

itest(
  "core: init env --from <uri> copies a server zvpg does not manage, snapshots it, and branches from the import",
  async (env) => {
    await withSource(async (src) => {
      const r = await env.ok(["init", "env", "--from", src.uri(), "-f", "json"], {
        PGPASSWORD: src.password,
      });
      assert.ok(JSON.parse(r.stdout).steps.some((s: { step: string }) => s.step === "import"));
      const expected = await sourceHashes(src);
      assert.deepEqual(await branchHashes(env, await env.port("main")), expected);
      const [snap] = await env.json<{ name: string }[]>(["snapshot", "list"]);
      assert.match(snap.name, /^import-\d{8}-\d{6}$/);
      const dev = await env.json<Branch>(["branch", "create", "dev", "--from", snap.name]);
      assert.deepEqual(await branchHashes(env, dev.port!), expected);
      assert.equal((await env.zvpg(["status", "health"])).code, 0);
    });
  },
  { init: false },
);
