/**
 * Readiness during crash recovery: a server replaying a lot of WAL past
 * `readyTimeoutSeconds` is waited for while it makes progress, with progress lines on
 * stderr, instead of being killed (and starting recovery from scratch next time). And a
 * server that stopped inside its container is brought back by repair, whatever zvpg
 * recorded of the branch.
 *
 * @module
 */
import assert from "node:assert/strict";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { itest, sh, type TestEnv } from "../support/itest.ts";
import {
  assertHealthy,
  containerOf,
  failing,
  health,
  logSize,
  must,
  repair,
  sleep,
  waitForLog,
} from "../support/fault_support.ts";

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

/**
 * A start of stopped branch `b` killed once its container ran (on `--port` when given),
 * then its server stopped inside that container by hand: repair must serve it again on the
 * port it served on.
 */
async function pausedAfterKilledStart(env: TestEnv, startPort?: number): Promise<void> {
  await env.ok(["snapshot", "create", "base"]);
  await env.ok(["branch", "create", "b", "--from", "base"]);
  const recorded = await env.port("b");
  assert.notEqual(startPort, recorded, "the start is to run it on another port than recorded");
  await env.ok(["branch", "stop", "b"]);
  const killed = await env.zvpg(
    ["branch", "start", "b", ...(startPort ? ["--port", String(startPort)] : [])],
    { ZVPG_FAULT: "container.after-run" },
  );
  assert.notEqual(killed.code, 0, "the start was killed after its container ran");
  const port = await env.port("b");
  if (startPort) assert.equal(port, startPort);
  // the server stops inside the running container (its supervisor is told to pause)
  const supervisor = await must("docker", [
    "inspect",
    "-f",
    "{{.State.Pid}}",
    await containerOf(env, "b"),
  ]);
  Deno.kill(Number(supervisor), "SIGUSR1");
  for (let i = 0; i < 100; i++) {
    if ((await health(env)).code !== 0) break;
    await sleep(100);
  }
  const sick = await health(env);
  assert.equal(sick.code, 1, "health fails on a branch whose server is gone");
  assert.match(failing(sick.checks), /connections: not usable: 'b'/);
  const fixed = await repair(env);
  assert.equal(fixed.code, 0, `repair failed:\n${fixed.failed.join("\n")}`);
  assert.ok(
    fixed.repairs.some((r) => r.target === "branch 'b'" && r.action === "restart" && r.ok),
    JSON.stringify(fixed.repairs),
  );
  await assertHealthy(env, "after the repair");
  assert.equal(await env.port("b"), port, "on the port it served");
  assert.equal(await env.psql(port, "SELECT 1"), "1");
}

itest(
  "status health --repair restarts a server stopped inside its container, also on a branch a killed start left recorded stopped",
  (env) => pausedAfterKilledStart(env),
);

itest(
  "status health --repair restarts such a server on the port it served, not the one a start killed on another port left recorded",
  (env) => pausedAfterKilledStart(env, env.portEnd),
);

for (const how of ["kill", "rm"] as const) {
  itest(
    `a container ended by 'docker ${how}' while its reset in place is paused: the reset says so (exit 1), the branch runs reset on its port`,
    async (env) => {
      await env.ok(["branch", "create", "b"]);
      const port = await env.port("b");
      await env.psql(port, "CREATE TABLE thrown_away (x int)");
      const container = await containerOf(env, "b");
      const from = logSize(env);
      const resetting = env.zvpg(["branch", "reset", "b"], {
        ZVPG_FAULT_DELAY: "branch.reset.after-rollback:4000",
      });
      // the data is rolled back and the server paused: its container goes (the engine
      // restarts a killed one by its restart policy; a removed one is gone)
      await waitForLog(env, "fault point 'branch.reset.after-rollback'", 30_000, from);
      await must("docker", how === "kill" ? ["kill", container] : ["rm", "-f", container]);
      const r = await resetting;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /server supervisor of branch 'b' is gone/);
      assert.doesNotMatch(
        r.stderr,
        /putting 'b' back as it was/,
        "a rolled-back reset is finished",
      );
      assert.equal(await env.port("b"), port, "the same port");
      assert.equal(
        await env.psql(port, "SELECT count(*) FROM pg_tables WHERE tablename = 'thrown_away'"),
        "0",
        "the branch is reset",
      );
      await assertHealthy(env, "after the reset");
    },
  );
}
