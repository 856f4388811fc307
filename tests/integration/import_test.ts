import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, itest, OTHER_IMAGE, sh, type TestEnv } from "../support/itest.ts";
import { branchHashes, sourceHashes, withSource } from "../support/source_server.ts";
import { watchProcesses } from "../support/process_watch.ts";

/** Every file under `dir` whose bytes contain `secret` (as root: the data directories too). */
function filesContaining(dir: string, secret: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 64 * 1024 * 1024) {
        if (readFileSync(p).includes(secret)) found.push(p);
      }
    }
  };
  walk(dir);
  return found;
}

/** Asserts the password is nowhere zvpg keeps or shows things. */
async function assertNoSecret(env: TestEnv, secret: string, outputs: string[]) {
  for (const o of outputs) assert.ok(!o.includes(secret), "the password is in zvpg's output");
  assert.deepEqual(filesContaining(env.base, secret), [], "the password is in a file");
  const props = await sh("zfs", ["get", "-H", "-r", "all", env.pool]);
  assert.ok(!props.stdout.includes(secret), "the password is in a ZFS property");
  for (const c of await env.containers()) {
    const inspect = await sh("docker", ["inspect", c]);
    assert.ok(!inspect.stdout.includes(secret), `the password is in 'docker inspect ${c}'`);
    const logs = await sh("docker", ["logs", c]);
    assert.ok(!(logs.stdout + logs.stderr).includes(secret), `the password is in the log of ${c}`);
  }
}

itest(
  "init env --from <uri>: a logical copy of every database hashes like the source, is snapshotted, keeps no password",
  async (env) => {
    await withSource(async (src) => {
      const r = await env.ok(["init", "env", "--from", src.uri(), "--jobs", "2", "-f", "json"], {
        PGPASSWORD: src.password,
      });
      const json = JSON.parse(r.stdout);
      assert.equal(json.changed, true);
      assert.ok(json.steps.some((s: { step: string }) => s.step === "import"));
      const port = await env.port("main");
      assert.deepEqual(await branchHashes(env, port), await sourceHashes(src));
      // the objects came along: view, function, enum, sequence, extension, role and grant
      assert.equal(await env.psql(port, "SELECT count(*) FROM big_orders", "app"), "1920");
      assert.equal(await env.psql(port, "SELECT order_count(7)", "app"), "4");
      assert.equal(await env.psql(port, "SELECT nextval('invoice_no')", "app"), "3000");
      assert.equal(
        await env.psql(port, "SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'", "app"),
        "pgcrypto",
      );
      assert.equal(
        await env.psql(port, "SELECT has_table_privilege('reader', 'customers', 'SELECT')", "app"),
        "t",
      );
      // the imported roles have no password
      assert.equal(
        await env.psql(
          port,
          "SELECT count(*) FROM pg_authid WHERE rolname = 'app' AND rolpassword IS NULL",
        ),
        "1",
      );
      const snaps = await env.json<{ name: string; message: string }[]>(["snapshot", "list"]);
      assert.equal(snaps.length, 1);
      assert.match(snaps[0].name, /^import-\d{8}-\d{6}$/);
      assert.equal(snaps[0].message, `imported from ${src.uri()}`);
      const again = await env.zvpg(["init", "env", "--from", src.uri()]);
      assertCliError(again, 1, /branch 'main' already holds data — run 'zvpg refresh --from/);
      await env.ok(["branch", "create", "dev", "--from", snaps[0].name]);
      assert.deepEqual(await branchHashes(env, await env.port("dev")), await sourceHashes(src));
      await assertNoSecret(env, src.password, [r.stdout, r.stderr]);
    });
  },
  { init: false },
);

itest(
  "init env --from: a source newer than the image, or an extension the image lacks, is refused with nothing made",
  async (env) => {
    await withSource(async (src) => {
      env.writeConfig({ pgBaseImage: OTHER_IMAGE });
      const newer = await env.zvpg(["init", "env", "--from", src.uri()], {
        PGPASSWORD: src.password,
      });
      assertCliError(newer, 1, /runs PostgreSQL 17, newer than image .*15.* — set pgBaseImage/);
      env.writeConfig({});
      // an extension only the source has
      const ext = "/usr/share/postgresql/17/extension";
      await src.docker([
        "exec",
        "--user",
        "0",
        src.name,
        "cp",
        "/dev/null",
        `${ext}/zvpgfake--1.0.sql`,
      ]);
      await src.docker([
        "exec",
        "--user",
        "0",
        src.name,
        "sh",
        "-c",
        `echo "default_version='1.0'" > ${ext}/zvpgfake.control`,
      ]);
      await src.psql("app", "CREATE EXTENSION zvpgfake");
      const missing = await env.zvpg(["init", "env", "--from", src.uri()], {
        PGPASSWORD: src.password,
      });
      assertCliError(missing, 1, /database 'app' uses extension 'zvpgfake' which image .* lacks/);
      const wrongPassword = await env.zvpg(["init", "env", "--from", src.uri()], {
        PGPASSWORD: "nope",
      });
      assertCliError(
        wrongPassword,
        1,
        /connecting to postgresql:\/\/app@127\.0\.0\.1.* failed: .*password authentication failed/,
      );
      const pool = await sh("zpool", ["list", "-H", env.pool]);
      assert.notEqual(pool.code, 0, "no pool was made");
      assert.deepEqual(await env.containers(), []);
      assert.deepEqual(readdirSync(env.configDir), ["config.json"]);
    });
  },
  { init: false },
);

itest(
  "init env --from <plain dump> with an error stops at it and removes everything it made",
  async (env) => {
    const dump = join(env.base, "broken.sql");
    writeFileSync(
      dump,
      "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nSELECT no_such_function();\n",
    );
    const r = await env.zvpg(["init", "env", "--from", dump]);
    assertCliError(r, 1, /restoring the SQL dump failed: .*no_such_function/);
    assert.notEqual(
      (await sh("zpool", ["list", "-H", env.pool])).code,
      0,
      "the pool it made is gone",
    );
    assert.deepEqual(await env.containers(), []);
    assert.deepEqual(readdirSync(env.configDir), ["config.json"]);
    const docker = await sh("docker", [
      "ps",
      "-a",
      "--filter",
      `label=zvpg.pool=${env.pool}`,
      "-q",
    ]);
    assert.equal(docker.stdout.trim(), "");
  },
  { init: false },
);

itest(
  "refresh: main gets the source's new rows on the same port while a branch made before keeps its data and runs",
  async (env) => {
    await withSource(async (src) => {
      // a custom-format dump of the source, made by the image's pg_dump
      const dumps = join(src.dir, "dumps");
      await sh("mkdir", ["-p", dumps]);
      await sh("chown", ["999:999", dumps]);
      await src.dump("c", join(dumps, "app.dump"));
      await env.ok(["init", "env", "--from", join(dumps, "app.dump")]);
      const port = await env.port("main");
      assert.deepEqual(await branchHashes(env, port), await sourceHashes(src));
      await env.ok(["branch", "create", "before"]);
      const branchPort = await env.port("before");
      const before = await branchHashes(env, branchPort);
      await src.psql("app", "INSERT INTO shop.items VALUES ('new-1', 'neu ✓')");
      const r = await env.ok(["refresh", "--from", src.uri(), "--database", "app", "-f", "json"], {
        PGPASSWORD: src.password,
      });
      const json = JSON.parse(r.stdout);
      assert.equal(json.port, port);
      assert.equal(json.source, src.uri());
      assert.match(json.snapshot, /^import-/);
      assert.equal(await env.port("main"), port);
      assert.deepEqual(await branchHashes(env, port), await sourceHashes(src));
      assert.equal(
        await env.psql(port, "SELECT label FROM shop.items WHERE sku = 'new-1'", "app"),
        "neu ✓",
      );
      // the branch made before runs on the old copy
      assert.deepEqual(await branchHashes(env, branchPort), before);
      await env.ok(["branch", "delete", "before"]);
      await assertNoSecret(env, src.password, [r.stdout, r.stderr]);
    });
  },
  { init: false },
);

itest(
  "init env --from <data directory> of a 15 cluster, then refresh --mode physical: both hash like the source, no password left",
  async (env) => {
    env.writeConfig({ pgBaseImage: OTHER_IMAGE });
    await withSource(
      async (src) => {
        const expected = await sourceHashes(src);
        // a running cluster is refused; a cleanly stopped one is taken
        const running = await env.zvpg(["init", "env", "--from", src.pgdata]);
        assertCliError(running, 1, /has a postmaster.pid: its server may run/);
        await src.stop();
        // zvpg's password goes on the copy as a SCRAM verifier, which no process list shows
        const verifier = /SCRAM-SHA-256\$/;
        const taken = await watchProcesses(
          verifier,
          () => env.ok(["init", "env", "--from", src.pgdata]),
        );
        assert.deepEqual(taken.seen, [], "a verifier in an argv or environment");
        const r = taken.result;
        const port = await env.port("main");
        assert.deepEqual(await branchHashes(env, port), expected);
        await src.run();
        await src.psql("app", "INSERT INTO shop.items VALUES ('phys', 'physisch ✓')");
        const watched = await watchProcesses(verifier, () =>
          env.ok(
            ["refresh", "--from", src.uri("repl", "postgres"), "--mode", "physical", "-f", "json"],
            { PGPASSWORD: src.password },
          ));
        assert.deepEqual(watched.seen, [], "a verifier in an argv or environment");
        const refreshed = watched.result;
        assert.equal(JSON.parse(refreshed.stdout).mode, "physical");
        assert.equal(await env.port("main"), port);
        assert.deepEqual(await branchHashes(env, port), await sourceHashes(src));
        const auto = readFileSync(
          join(env.mountDir, "data", "pgdata", "postgresql.auto.conf"),
          "utf8",
        );
        assert.ok(!/primary_conninfo/.test(auto));
        await assertNoSecret(env, src.password, [
          r.stdout,
          r.stderr,
          refreshed.stdout,
          refreshed.stderr,
        ]);
      },
      OTHER_IMAGE,
      100,
    );
  },
  { init: false },
);

itest(
  "init env --from <tar dump>, refresh --from <directory dump>, refresh --from <plain dump>: each hashes like the source",
  async (env) => {
    await withSource(async (src) => {
      const expected = await sourceHashes(src);
      const dumps = join(src.dir, "dumps");
      for (const [format, file] of [["t", "app.tar"], ["d", "app.dir"], ["p", "app.sql"]]) {
        await sh("mkdir", ["-p", dumps]);
        await src.dump(format, join(dumps, file), ["--no-owner", "--no-acl"]);
      }
      await env.ok(["init", "env", "--from", join(dumps, "app.tar"), "--database", "app"]);
      const port = await env.port("main");
      assert.deepEqual(await branchHashes(env, port), expected);
      for (const file of ["app.dir", "app.sql"]) {
        const r = await env.ok([
          "refresh",
          "--from",
          join(dumps, file),
          "--database",
          "app",
          "-f",
          "json",
        ]);
        assert.equal(JSON.parse(r.stdout).port, port);
        assert.deepEqual(await branchHashes(env, port), expected, file);
      }
    });
  },
  { init: false },
);
