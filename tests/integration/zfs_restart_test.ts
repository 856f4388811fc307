/**
 * After the ZFS service restarts (the zfs-fuse daemon killed and started again, as a
 * package upgrade does), its old mounts are dead ("Transport endpoint is not connected").
 * Health must say so, repair must bring the running branches back, and a stopped branch
 * must start. Disruptive: it restarts the daemon every pool on the machine depends on,
 * and leaves the other pools mounted again.
 */
import assert from "node:assert/strict";
import { itest, sh, type TestEnv } from "../support/itest.ts";
import { commitTxg, killZfs, startZfs, stopZfs, zfsMounts } from "../support/engines.ts";

type Check = { name: string; status: string; detail: string };

/**
 * Leaves the machine as usable as it was: detaches every dead ZFS mount and mounts every
 * pool's datasets again (what scripts/setup_env.sh does after starting the daemon).
 */
async function remountEverything(): Promise<void> {
  for (const target of zfsMounts()) {
    try {
      Deno.readDirSync(target)[Symbol.iterator]().next();
    } catch {
      await sh("umount", ["-l", target]);
    }
  }
  await sh("zfs", ["mount", "-a"]);
}

async function health(env: TestEnv): Promise<{ code: number; checks: Check[] }> {
  const r = await env.zvpg(["status", "health", "-f", "json"]);
  return { code: r.code, checks: (JSON.parse(r.stdout) as { checks: Check[] }).checks };
}

/**
 * Kills the zfs-fuse daemon under the test's pool and starts it again, runs `after`, then
 * asserts that health passes; every pool is mounted again whatever happens. zfs-fuse
 * zero-fills fsync'd writes not yet in a committed transaction group when its daemon dies
 * (not zvpg's to repair): the pool's txg is committed first, to test what zvpg owns.
 */
async function afterZfsRestart(env: TestEnv, after: () => Promise<void>): Promise<void> {
  try {
    await commitTxg(env.pool);
    await killZfs("SIGKILL");
    await startZfs();
    await after();
    const healthy = await health(env);
    assert.equal(
      healthy.code,
      0,
      JSON.stringify(healthy.checks.filter((c) => c.status === "fail")),
    );
  } finally {
    await remountEverything();
  }
}

itest(
  "after the zfs-fuse daemon restarts, health fails, repair and start bring the branches back",
  async (env) => {
    await env.psql(
      await env.port("main"),
      "CREATE TABLE t (v text); INSERT INTO t VALUES ('main')",
    );
    await env.ok(["branch", "create", "b1"]);
    await env.ok(["branch", "create", "b2"]);
    await env.psql(await env.port("b1"), "INSERT INTO t VALUES ('b1')");
    await env.psql(await env.port("b2"), "INSERT INTO t VALUES ('b2')");
    for (const b of ["main", "b1"]) await env.psql(await env.port(b), "CHECKPOINT");
    await env.ok(["branch", "stop", "b2"]);
    await afterZfsRestart(env, async () => {
      // health means usable: the running branches answer no query, their mounts are dead
      const broken = await health(env);
      assert.equal(broken.code, 1);
      const connections = broken.checks.find((c) => c.name === "connections")!;
      assert.equal(connections.status, "fail");
      assert.match(connections.detail, /'main'/);
      assert.match(connections.detail, /'b1'/);
      const mounts = broken.checks.find((c) => c.name === "mounts")!;
      assert.equal(mounts.status, "fail");
      assert.match(mounts.detail, /Transport endpoint is not connected/);

      // a stopped branch starts: its stale mount is recovered first
      await env.ok(["branch", "start", "b2"]);
      assert.equal(await env.psql(await env.port("b2"), "SELECT v FROM t ORDER BY v"), "b2\nmain");

      // repair brings main and b1 back with their data
      const repaired = await env.zvpg(["status", "health", "--repair"]);
      assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
      assert.match(repaired.stdout, /REPAIRED\s+branch 'main': restart/);
      assert.match(repaired.stdout, /REPAIRED\s+branch 'b1': restart/);
      assert.equal(await env.psql(await env.port("main"), "SELECT v FROM t"), "main");
      assert.equal(await env.psql(await env.port("b1"), "SELECT v FROM t ORDER BY v"), "b1\nmain");
    });
  },
  { disruptive: true },
);

itest(
  "after the zfs-fuse daemon restarts, repair brings back a branch a killed start left serving (recorded stopped), on the port it served",
  async (env) => {
    await env.psql(
      await env.port("main"),
      "CREATE TABLE t (v text); INSERT INTO t VALUES ('main')",
    );
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "b", "--from", "base"]);
    const recorded = await env.port("b");
    await env.ok(["branch", "stop", "b"]);
    // the start is killed once its container runs on another port than the one recorded
    const served = env.portEnd;
    const killed = await env.zvpg(["branch", "start", "b", "--port", String(served)], {
      ZVPG_FAULT: "container.after-run",
    });
    assert.notEqual(killed.code, 0, "the start was killed after its container ran");
    assert.notEqual(served, recorded);
    assert.equal(await env.port("b"), served, "it serves on the port it was started on");
    let ready = "";
    for (let i = 0; i < 100 && ready !== "1"; i++) {
      ready = await env.psql(served, "SELECT 1").catch(() => "");
      if (ready !== "1") await new Promise((r) => setTimeout(r, 100));
    }
    await env.psql(served, "INSERT INTO t VALUES ('b'); CHECKPOINT");
    await afterZfsRestart(env, async () => {
      const repaired = await env.zvpg(["status", "health", "--repair"]);
      assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
      assert.match(repaired.stdout, /REPAIRED\s+branch 'b': restart/);
      const info = await env.json<{ status: string; port: number | null }>([
        "branch",
        "info",
        "b",
      ]);
      assert.equal(info.status, "running", "repair brings back the branch it stopped");
      assert.equal(info.port, served, "on the port its URI names");
      assert.equal(await env.psql(served, "SELECT v FROM t ORDER BY v"), "b\nmain");
    });
  },
  { disruptive: true },
);

itest(
  "after a clean zfs-fuse restart (its datasets unmounted, none stale), a create mounts the clones and sockets datasets before it makes anything below them",
  async (env) => {
    // nothing busy: the daemon unmounts every dataset of the pool when it stops
    await env.ok(["branch", "stop", "main"]);
    const mounted = async () => {
      const r = await sh("zfs", ["get", "-H", "-o", "name,value", "-r", "mounted", env.pool]);
      return Object.fromEntries(r.stdout.split("\n").filter((l) => l).map((l) => l.split("\t")));
    };
    try {
      await commitTxg(env.pool);
      try {
        await stopZfs();
      } finally {
        await startZfs();
      }
      const after = await mounted();
      assert.equal(after[`${env.pool}/clones`], "no", "the restart left the pool unmounted");
      await env.ok(["branch", "create", "b"]);
      const now = await mounted();
      for (const d of ["clones", "sockets", "clones/b"]) {
        assert.equal(now[`${env.pool}/${d}`], "yes", `${d} is mounted after the create`);
      }
      assert.equal(await env.psql(await env.port("b"), "SELECT 1"), "1");
      const repaired = await env.zvpg(["status", "health", "--repair"]);
      assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
      assert.doesNotMatch(repaired.stdout, /FAILED/, "repair mounts what is left");
      const h = await health(env);
      assert.equal(h.code, 0, JSON.stringify(h.checks.filter((c) => c.status === "fail")));
    } finally {
      await remountEverything();
    }
  },
  { disruptive: true },
);
