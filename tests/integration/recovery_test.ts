/**
 * Readiness during crash recovery: a server replaying a lot of WAL past
 * `readyTimeoutSeconds` is waited for while it makes progress, with progress lines on
 * stderr, instead of being killed (and starting recovery from scratch next time).
 *
 * @module
 */
import assert from "node:assert/strict";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { itest, sh } from "../support/itest.ts";
import { containerOf, must } from "../support/fault_support.ts";

itest(
  "a start that outlasts readyTimeoutSeconds in crash recovery waits for it, with progress",
  async (env) => {
    // keep every change in WAL: no checkpoint until the server is killed
    appendFileSync(
      join(env.configDir, "postgresql.conf"),
      "\nmax_wal_size = 8GB\ncheckpoint_timeout = 1h\nshared_buffers = 32MB\n",
    );
    await env.ok(["branch", "create", "b"]);
    const port = await env.port("b");
    const started = Date.now();
    await env.psql(
      port,
      "create table t as select g, md5(g::text) || repeat('x', 150) as pad " +
        "from generate_series(1, 300000) g; " +
        "update t set g = g + 1; " +
        "select count(*) from t",
    );
    const wal = await env.psql(port, "select pg_current_wal_lsn() - '0/0'::pg_lsn");
    console.error(`wrote ${Math.round(Number(wal) / 1e6)} MB of WAL in ${Date.now() - started} ms`);
    // the postmaster dies without a shutdown checkpoint: the next start replays all of it
    await must("docker", ["kill", "-s", "KILL", await containerOf(env, "b")]);
    await env.ok(["branch", "stop", "b"]);
    env.writeConfig({ readyTimeoutSeconds: 1 });
    const t0 = Date.now();
    const r = await env.zvpg(["branch", "start", "b"]);
    const took = Date.now() - t0;
    console.error(`start took ${took} ms:\n${r.stderr}`);
    assert.equal(r.code, 0, `start failed:\n${r.stderr}`);
    assert.match(r.stderr, /branch 'b': PostgreSQL is still in crash recovery \(\d+ s\)…/);
    assert.ok(took > 1_000, `recovery outlasted the timeout (${took} ms)`);
    assert.equal(await env.psql(await env.port("b"), "select count(*) from t"), "300000");
    const logs = await sh("docker", ["logs", await containerOf(env, "b")]);
    assert.match(logs.stdout + logs.stderr, /redo done|database system is ready/);
    assert.ok(
      readFileSync(join(env.base, "log", "zvpg.log"), "utf8").includes("still in crash recovery"),
    );
  },
);
