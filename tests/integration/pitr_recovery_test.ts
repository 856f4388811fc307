/**
 * Point-in-time branches when things go wrong, on the real stack: main killed with kill -9
 * mid-archive leaves no gap; Ctrl-C or a crash during replay leaves nothing; a failing
 * archive is a health finding; another image (its own uid, PostgreSQL 15) archives and
 * replays. The core (pitr_test.ts) runs on OpenZFS too; these run on zfs-fuse only.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { itest, OTHER_IMAGE, sh } from "../support/itest.ts";
import { type Created, rows, sleep } from "../support/pitr.ts";
import { runAndSignal } from "../support/processes.ts";

itest(
  "pitr: no gap after kill -9; Ctrl-C or crash in recovery leaves nothing; health names a failing archive",
  async (env) => {
    const main = await env.port("main");
    await env.psql(main, "create table t (id int primary key)");
    await env.ok(["snapshot", "create", "s1"]);
    await sleep(2100);
    // ~3 segments of WAL, and kill -9 while the archiver copies them
    await env.psql(
      main,
      "create table big as select g, repeat('x', 200) as pad from generate_series(1, 150000) g",
    );
    await must("docker", ["kill", "-s", "KILL", await env.containerId("main")]);
    await env.ok(["branch", "stop", "main"]);
    await env.ok(["branch", "start", "main"]);
    const main2 = await env.port("main");
    await env.psql(main2, "insert into t values (1)");
    const target = new Date(Date.now() + 100).toISOString();
    await sleep(300);
    await env.psql(main2, "insert into t values (2)");

    const made = await env.json<Created>(["branch", "create", "after-kill", "--at", target]);
    assert.equal(made.pointInTime.base, "s1");
    assert.equal(await rows(env, "after-kill"), "1");
    assert.equal(
      await env.psql(await env.port("after-kill"), "select count(*) from big"),
      "150000",
    );
    const info = await env.json<{ window: { missingSegments: number; segments: number } }>([
      "branch",
      "archive",
      "main",
    ]);
    assert.equal(info.window.missingSegments, 0, JSON.stringify(info));
    assert.ok(info.window.segments >= 3, JSON.stringify(info));
    const health = await env.zvpg(["status", "health"]);
    assert.equal(health.code, 0, health.stdout + health.stderr);

    // Ctrl-C while the branch replays: exit 130, nothing left
    const before = await env.datasets();
    const interrupted = await runAndSignal(
      env.configDir,
      ["branch", "create", "ctrl-c", "--at", target],
      {
        after: /replaying the archive/,
        signal: "SIGINT",
        logLevel: "INFO",
        env: { ZVPG_FAULT_DELAY: "branch.create.recovering:3000" },
        delayMs: 200,
      },
    );
    assert.equal(interrupted.code, 130, interrupted.stderr);
    assert.deepEqual(await env.datasets(), before);
    assert.ok(!(await env.containers()).some((c) => c.includes("ctrl-c")));

    // killed (kill -9) while it replays: the next create of that name rolls it back
    const killed = await env.zvpg(["branch", "create", "crash", "--at", target], {
      ZVPG_FAULT: "branch.create.recovering",
    });
    assert.notEqual(killed.code, 0);
    const again = await env.json<Created>(["branch", "create", "crash", "--at", target]);
    assert.equal(again.pointInTime.base, "s1");
    assert.equal(await rows(env, "crash"), "1");

    // a segment of that name with other content in the archive: never overwritten, the
    // archiving fails, and status health names it
    const port = await env.port("main");
    const next = await env.psql(port, "select pg_walfile_name(pg_current_wal_lsn())");
    const dir = (await sh("bash", ["-c", `echo ${env.mountDir}/wal/main/*/`])).stdout.trim();
    writeFileSync(join(dir, next), "not this segment");
    await env.psql(port, "insert into t values (3)");
    await env.psql(port, "select pg_switch_wal()");
    let failing = await env.zvpg(["status", "health"]);
    for (let i = 0; i < 50 && failing.code === 0; i++) {
      await sleep(200);
      failing = await env.zvpg(["status", "health"]);
    }
    assert.equal(failing.code, 1, failing.stdout);
    assert.match(failing.stdout, /archiving fails .*last on [0-9A-F]{24}/);
    assert.equal(readFileSync(join(dir, next), "utf8"), "not this segment");
  },
  { config: { walArchive: true } },
);

async function must(program: string, args: string[]): Promise<void> {
  const r = await sh(program, args);
  if (r.code !== 0) throw new Error(`${program} ${args.join(" ")}: ${r.stderr}`);
}

itest(
  "pitr: another image (PostgreSQL 15, its package's postgres uid) archives and replays",
  async (env) => {
    const main = await env.port("main");
    assert.match(await env.psql(main, "show server_version_num"), /^15\d{4}$/);
    const uid = statSync(join(env.mountDir, "data", "pgdata")).uid;
    assert.equal(statSync(join(env.mountDir, "wal", "main")).uid, uid, "the archive is its uid's");
    await env.psql(main, "create table t (id int primary key)");
    await env.ok(["snapshot", "create", "s1"]);
    await sleep(2100);
    await env.psql(main, "insert into t values (1)");
    const target = new Date(Date.now() + 150).toISOString();
    await sleep(400);
    await env.psql(main, "insert into t values (2)");
    const made = await env.json<Created>(["branch", "create", "past", "--at", target]);
    assert.equal(made.pointInTime.base, "s1");
    assert.equal(await rows(env, "past"), "1");
    assert.equal(await rows(env, "main"), "1,2");
  },
  { config: { walArchive: true, pgBaseImage: OTHER_IMAGE } },
);
