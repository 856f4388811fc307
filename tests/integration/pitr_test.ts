/**
 * Point-in-time branches on the real stack: main archives its WAL by default; branches
 * made `--at` a time or an LSN hold exactly the rows committed before it.
 */
import assert from "node:assert/strict";
import { assertCliError, itest } from "../support/itest.ts";
import { type Created, rows, sleep } from "../support/pitr.ts";

itest(
  "branch create --at: a time or an LSN gives exactly the rows committed before it",
  async (env) => {
    const main = await env.port("main");
    const early = new Date();
    await env.psql(main, "create table t (id int primary key)");
    await env.ok(["snapshot", "create", "s1"]);
    await sleep(2100);
    await env.psql(main, "select pg_switch_wal()");
    const after: Date[] = [];
    let lsnAfter4 = "";
    const insert = async (id: number) => {
      await env.psql(main, `insert into t values (${id})`);
      after[id] = new Date();
      if (id === 4) lsnAfter4 = await env.psql(main, "select pg_current_wal_lsn()");
      await sleep(400);
    };
    for (const id of [1, 2, 3]) await insert(id);
    await env.ok(["snapshot", "create", "s2"]);
    // the archive's file times may be whole seconds (zfs-fuse): an LSN after this switch
    // is surely after s2 only 2 s (the margin) plus 1 s later
    await sleep(3100);
    await env.psql(main, "select pg_switch_wal()");
    for (const id of [4, 5, 6]) await insert(id);
    const at = (id: number) => new Date(after[id].getTime() + 150).toISOString();

    // between the two snapshots: replayed from the earlier one
    const b2 = await env.json<Created>(["branch", "create", "at2", "--at", at(2)]);
    assert.equal(b2.pointInTime.base, "s1");
    assert.equal(await rows(env, "at2"), "1,2");
    assert.ok(b2.pointInTime.reachedTime! <= at(2), JSON.stringify(b2.pointInTime));

    const b5 = await env.json<Created>(["branch", "create", "at5", "--at", at(5)]);
    assert.equal(b5.pointInTime.base, "s2");
    assert.equal(await rows(env, "at5"), "1,2,3,4,5");

    const bl = await env.json<Created>([
      "branch",
      "create",
      "atlsn",
      "--at",
      lsnAfter4,
    ]);
    assert.equal(bl.pointInTime.base, "s2");
    assert.equal(await rows(env, "atlsn"), "1,2,3,4");

    // promoted: writable, and a restart does not enter recovery again
    await env.psql(await env.port("at5"), "insert into t values (100)");
    await env.ok(["branch", "stop", "at5"]);
    await env.ok(["branch", "start", "at5"]);
    assert.equal(await rows(env, "at5"), "1,2,3,4,5,100");
    assert.equal(await rows(env, "main"), "1,2,3,4,5,6");

    // reset --at in place of a branch's data: same port, the rows before the target
    const port2 = await env.port("at2");
    const reset = await env.json<{ reached: { time: string; lsn: string }; resetTo: string }>([
      "branch",
      "reset",
      "at2",
      "--at",
      at(4),
    ]);
    assert.equal(reset.resetTo, "s2");
    assert.equal(await env.port("at2"), port2);
    assert.equal(await rows(env, "at2"), "1,2,3,4");
    assert.ok(reset.reached.time <= at(4), JSON.stringify(reset));

    // outside the window: refused, naming it, and nothing is made
    const datasets = await env.datasets();
    const r = await env.zvpg(["branch", "create", "too-early", "--at", early.toISOString()]);
    assertCliError(r, 1, /outside the point-in-time window: .* to /);
    assert.deepEqual(await env.datasets(), datasets);

    const info = await env.json<{ archive: string; window: { from: string; to: string } }>([
      "branch",
      "archive",
      "main",
    ]);
    assert.equal(info.archive, "on");
    assert.ok(info.window.from <= at(2) && info.window.to >= at(5), JSON.stringify(info));
    const health = await env.zvpg(["status", "health"]);
    assert.equal(health.code, 0, health.stdout + health.stderr);
    assert.match(health.stdout, /archive/);
    const status = await env.json<{ archives: { branch: string; from: string; to: string }[] }>([
      "status",
    ]);
    const log = await env.json<{ archives: { branch: string; from: string }[] }>(["log"]);
    assert.equal(log.archives[0]?.branch, "main", JSON.stringify(log.archives));
    const mainArchive = status.archives.find((a) => a.branch === "main");
    assert.ok(mainArchive && mainArchive.from <= at(2), JSON.stringify(status.archives));

    // gc with a short retention: what s2 (the newest base) needs stays, the rest goes
    env.writeConfig({ walRetention: "1s" });
    const gc = await env.json<{ removedWalSegments: number }>(["gc"]);
    assert.ok(gc.removedWalSegments >= 1, JSON.stringify(gc));
    assertCliError(
      await env.zvpg(["branch", "create", "gone", "--at", at(2)]),
      1,
      /outside the point-in-time window/,
    );
    const kept = await env.json<Created>(["branch", "create", "after-gc", "--at", at(5)]);
    assert.equal(kept.pointInTime.base, "s2");
    assert.equal(await rows(env, "after-gc"), "1,2,3,4,5");
  },
  { config: { walArchive: true } },
);
