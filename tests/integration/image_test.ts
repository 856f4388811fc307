/**
 * zvpg with an image unlike the official ones: another PostgreSQL major version (15),
 * whose postgres user keeps the Debian package's uid (not 999), without a STOPSIGNAL.
 * Built by scripts/setup_env.sh (scripts/build_image.sh --pg 15 --suite bookworm
 * --native-uid).
 *
 * @module
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { itest, OTHER_IMAGE, sh } from "../support/itest.ts";

itest(
  "another PostgreSQL version with its own postgres uid runs the whole workflow",
  async (env) => {
    const id = await sh("docker", [
      "run",
      "--rm",
      "--entrypoint",
      "id",
      OTHER_IMAGE,
      "-u",
      "postgres",
    ]);
    const uid = Number(id.stdout.trim());
    assert.ok(Number.isInteger(uid) && uid !== 999, `the image's postgres uid is ${id.stdout}`);
    assert.equal(statSync(join(env.mountDir, "data", "pgdata")).uid, uid, "initdb ran as that uid");

    const main = await env.port("main");
    assert.match(await env.psql(main, "show server_version_num"), /^15\d{4}$/);
    await env.psql(main, "create table t as select generate_series(1, 100) g");
    await env.ok(["snapshot", "create", "s1", "-m", "on PostgreSQL 15"]);
    await env.ok(["branch", "create", "dev", "--from", "s1"]);
    const dev = await env.port("dev");
    assert.equal(statSync(join(env.mountDir, "clones", "dev", "pgdata")).uid, uid);
    await env.psql(dev, "insert into t values (0)");
    assert.equal(await env.psql(dev, "select count(*) from t"), "101");
    assert.equal(await env.psql(main, "select count(*) from t"), "100");
    // PostgreSQL 14+ branches start with one syncfs rather than an fsync of every file
    assert.equal(await env.psql(dev, "show recovery_init_sync_method"), "syncfs");

    await env.ok(["branch", "stop", "dev"]);
    await env.ok(["branch", "start", "dev"]);
    assert.equal(await env.psql(await env.port("dev"), "select count(*) from t"), "101");
    // its supervisor runs under that image and uid: the reset is in place, on its port
    const before = await env.containerId("dev");
    const reset = await env.json<{ port: number; container: string }>(["branch", "reset", "dev"]);
    assert.equal(reset.port, await env.port("dev"));
    assert.notEqual(before, "");
    assert.equal(
      await env.containerId("dev"),
      before,
      "the same container serves it after the reset",
    );
    assert.equal(await env.psql(reset.port, "select count(*) from t"), "100");
    const health = await env.zvpg(["status", "health", "-f", "json"]);
    assert.equal(health.code, 0, health.stdout + health.stderr);
    await env.ok(["branch", "delete", "dev"]);
    assert.deepEqual(await env.containers(), [`zvpg_main_${main}`]);
  },
  { config: { pgBaseImage: OTHER_IMAGE } },
);
