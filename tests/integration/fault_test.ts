/**
 * Reliability: zvpg killed at every fault point, ports taken between check and bind,
 * PostgreSQL that will not start, a full pool, a busy dataset, mixed concurrency and the
 * container engine stopping mid-operation. After each, the system must come back to a
 * consistent state (by `status health --repair` or the next command) without touching
 * the data of other branches.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, itest, sh, type TestEnv } from "../support/itest.ts";
import {
  assertHealthy,
  assertKilled,
  assertPoolState,
  branchDatasets,
  failing,
  health,
  logSize,
  poolState,
  repair,
  sleep,
  waitForLog,
} from "../support/fault_support.ts";
import { restoreDockerd, stopDockerd } from "../support/engines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Writes a marker row in main that must survive everything a test does. */
async function writeMarker(env: TestEnv): Promise<void> {
  await env.psql(await env.port("main"), "create table keep (v int); insert into keep values (42)");
}

/** Asserts that main still serves the marker row. */
async function assertMarker(env: TestEnv): Promise<void> {
  assert.equal(await env.psql(await env.port("main"), "select v from keep"), "42");
}

/** Runtime directories under `<mountDir>/sockets` (one per branch that has files there). */
function runtimeDirs(env: TestEnv): string[] {
  const dir = join(env.mountDir, "sockets");
  return existsSync(dir) ? readdirSync(dir).filter((d) => !d.startsWith(".")).sort() : [];
}

const CREATE_POINTS = [
  "branch.create.after-clone",
  "container.before-run",
  "container.after-run",
  "branch.create.before-mark-running",
];

itest("a create killed at any step is rolled back by repair or by the next create", async (env) => {
  await writeMarker(env);
  await env.ok(["snapshot", "create", "base"]);
  const before = await poolState(env);
  for (const [i, point] of CREATE_POINTS.entries()) {
    const name = `crash-${i}`;
    assertKilled(
      await env.zvpg(["branch", "create", name, "--from", "base"], { ZVPG_FAULT: point }),
      point,
    );
    const h = await health(env);
    assert.equal(h.code, 1, `health must notice the half-made branch after '${point}'`);
    assert.match(failing(h.checks), new RegExp(`'${name}': an interrupted create`), point);
    const repaired = await repair(env);
    assert.equal(repaired.code, 0, `repair after '${point}': ${JSON.stringify(repaired)}`);
    assert.ok(
      repaired.repairs.some((r) => r.target === `branch '${name}'` && r.ok),
      JSON.stringify(repaired.repairs),
    );
    await assertHealthy(env, `after repairing '${point}'`);
    await assertPoolState(env, before, `after repairing '${point}'`);
    assert.deepEqual(runtimeDirs(env), ["main"], `runtime dirs after '${point}'`);
    await assertMarker(env);
  }
  // The next create of the same name rolls the leftover back by itself.
  for (const point of ["container.after-run", "branch.create.before-mark-running"]) {
    assertKilled(
      await env.zvpg(["branch", "create", "again", "--from", "base"], { ZVPG_FAULT: point }),
      point,
    );
    const r = await env.ok(["branch", "create", "again", "--from", "base", "-f", "json"]);
    const info = JSON.parse(r.stdout) as { status: string; port: number; container: string };
    assert.equal(info.status, "running");
    assert.equal(await env.psql(info.port, "select v from keep"), "42");
    await assertHealthy(env, `after re-creating over '${point}'`);
    await assertPoolState(env, {
      datasets: [...before.datasets, ...branchDatasets(env, "again")].sort(),
      containers: [...before.containers, info.container].sort(),
    });
    await env.ok(["branch", "delete", "again"]);
  }
  await assertPoolState(env, before);
  await assertMarker(env);
});

itest(
  "a stop or delete killed at any step completes on repair or on the next command",
  async (env) => {
    await writeMarker(env);
    await env.ok(["snapshot", "create", "base"]);
    const before = await poolState(env);
    const names = ["st", "d0", "d1", "d2"];
    await Promise.all(names.map((n) => env.ok(["branch", "create", n, "--from", "base"])));

    // stop: the intent is recorded first; the container still runs and shows as running
    await env.psql(await env.port("st"), "create table s as select 5 as v");
    assertKilled(
      await env.zvpg(["branch", "stop", "st"], { ZVPG_FAULT: "branch.stop.after-mark" }),
      "branch.stop.after-mark",
    );
    await assertHealthy(env, "after a killed stop");
    await env.ok(["branch", "stop", "st"]);
    const stopped = await env.json<{ status: string; container: string | null }>([
      "branch",
      "info",
      "st",
    ]);
    assert.equal(stopped.status, "stopped");
    assert.equal(stopped.container, null);
    assert.ok(!(await env.containers()).some((c) => c.startsWith("zvpg_st_")));
    await env.ok(["branch", "start", "st"]);
    assert.equal(await env.psql(await env.port("st"), "select v from s"), "5");

    // delete killed after the mark, after the stop and after the destroy
    const points = [
      "branch.delete.after-mark",
      "branch.delete.after-stop",
      "branch.delete.after-destroy",
    ];
    for (const [i, point] of points.entries()) {
      assertKilled(await env.zvpg(["branch", "delete", `d${i}`], { ZVPG_FAULT: point }), point);
    }
    const h = await health(env);
    assert.equal(h.code, 1);
    assert.match(failing(h.checks), /'d0': an interrupted delete/);
    assert.match(failing(h.checks), /'d1': an interrupted delete/);
    // d1: the next delete finishes it
    await env.ok(["branch", "delete", "d1"]);
    // d0: repair finishes it
    const repaired = await repair(env);
    assert.equal(repaired.code, 0, JSON.stringify(repaired));
    await assertHealthy(env, "after repairing the deletes");
    const list = (await env.json<{ name: string }[]>(["branch", "list"])).map((b) => b.name);
    assert.deepEqual(list, ["main", "st"]);
    await env.ok(["branch", "delete", "st"]);
    await assertPoolState(env, before);
    // d2 was killed after its dataset was destroyed: the name is free again
    await env.ok(["branch", "create", "d2", "--from", "base"]);
    await env.ok(["branch", "delete", "d2"]);
    await assertPoolState(env, before);
    assert.deepEqual(runtimeDirs(env), ["main"]);
    await assertMarker(env);
  },
);

itest("a snapshot create or forced delete killed midway leaves a consistent state", async (env) => {
  await writeMarker(env);
  const initial = await poolState(env);
  assertKilled(
    await env.zvpg(["snapshot", "create", "s1", "-m", "killed"], {
      ZVPG_FAULT: "snapshot.before-zfs",
    }),
    "snapshot.before-zfs",
  );
  await assertHealthy(env, "after a killed snapshot create");
  await assertPoolState(env, initial);
  await env.ok(["snapshot", "create", "s1", "-m", "second try"]);
  await env.ok(["branch", "create", "dep", "--from", "s1"]);
  const withSnapshot = (await poolState(env)).datasets.filter((d) => !d.includes("/clones/"));

  assertKilled(
    await env.zvpg(["snapshot", "delete", "s1", "--force"], {
      ZVPG_FAULT: "snapshot.delete.before-destroy",
    }),
    "snapshot.delete.before-destroy",
  );
  // the dependent branch is gone, the snapshot is still there: a consistent state
  await assertHealthy(env, "after a killed forced snapshot delete");
  assert.deepEqual(await env.datasets(), withSnapshot);
  assert.deepEqual(await env.containers(), initial.containers);
  assert.deepEqual(
    (await env.json<{ name: string }[]>(["snapshot", "list"])).map((s) => s.name),
    ["s1"],
  );
  await env.ok(["snapshot", "delete", "s1"]);
  await assertPoolState(env, initial);
  await assertHealthy(env);
  await assertMarker(env);
});

itest(
  "a port taken between the check and the bind moves the create to another port",
  async (env) => {
    const offset = logSize(env);
    const pending = env.zvpg(["branch", "create", "x", "-f", "json"], {
      ZVPG_FAULT_DELAY: "container.before-run:3000",
    });
    let listener: Deno.Listener | undefined;
    try {
      await waitForLog(env, "fault point 'container.before-run': pausing", 30_000, offset);
      const prop = await sh("zfs", [
        "get",
        "-H",
        "-o",
        "value",
        "zvpg:port",
        `${env.pool}/clones/x`,
      ]);
      const picked = Number(prop.stdout.trim());
      assert.equal(picked, env.portStart + 1, "x picks the port after main's");
      listener = Deno.listen({ hostname: "127.0.0.1", port: picked });
      const r = await pending;
      assert.equal(r.code, 0, r.stderr);
      const port = (JSON.parse(r.stdout) as { port: number }).port;
      assert.notEqual(port, picked);
      assert.ok(port >= env.portStart && port <= env.portEnd);
      assert.equal(await env.psql(port, "select 1"), "1");
      assert.equal(await env.port("x"), port);
    } finally {
      listener?.close();
      await pending.catch(() => undefined);
    }
    await assertHealthy(env);
  },
);

itest(
  "a start whose PostgreSQL exits at once leaves the branch stopped and intact",
  async (env) => {
    await env.ok(["branch", "create", "b"]);
    await env.psql(await env.port("b"), "create table t as select 9 as v");
    await env.ok(["branch", "stop", "b"]);
    const before = await poolState(env);
    const confPath = join(env.configDir, "postgresql.conf");
    const original = readFileSync(confPath, "utf8");
    writeFileSync(confPath, "shared_buffers = 'not-a-size'\n");
    env.writeConfig({ readyTimeoutSeconds: 20 });
    const r = await env.zvpg(["branch", "start", "b"]);
    assertCliError(r, 1, /exited with code 1 [\d.]+s after its start: .*shared_buffers/);
    const info = await env.json<{ status: string; container: string | null }>([
      "branch",
      "info",
      "b",
    ]);
    assert.equal(info.status, "stopped");
    assert.equal(info.container, null);
    await assertPoolState(env, before);
    writeFileSync(confPath, original);
    await assertHealthy(env);
    await env.ok(["branch", "start", "b"]);
    assert.equal(await env.psql(await env.port("b"), "select v from t"), "9");
  },
);

itest("a nearly full pool makes create and snapshot fail cleanly or succeed", async (env) => {
  await writeMarker(env);
  await env.ok(["snapshot", "create", "base"]);
  const filler = join(env.mountDir, "clones", "filler");
  const dd = await sh("dd", ["if=/dev/urandom", `of=${filler}`, "bs=1M"]);
  assert.notEqual(dd.code, 0, "dd should stop at ENOSPC");
  assert.match(dd.stderr, /No space left on device/);

  const before = await poolState(env);
  const created = await env.zvpg(["branch", "create", "full", "--from", "base"]);
  if (created.code !== 0) {
    assertCliError(created, 1, /./);
    await assertPoolState(env, before, "after a failed create on a full pool");
  } else {
    const list = (await env.json<{ name: string }[]>(["branch", "list"])).map((b) => b.name);
    assert.ok(list.includes("full"));
  }
  const mid = await poolState(env);
  const snap = await env.zvpg(["snapshot", "create", "full-snap", "-m", "pool full"]);
  if (snap.code !== 0) {
    assertCliError(snap, 1, /./);
    await assertPoolState(env, mid, "after a failed snapshot on a full pool");
  } else {
    assert.ok((await env.datasets()).includes(`${env.pool}/data@full-snap`));
  }

  rmSync(filler);
  await sh("sync", []);
  // ZFS returns freed space a few transaction groups later: until then it is still full
  for (let i = 0;; i++) {
    const r = await env.zvpg(["branch", "create", "after-full", "--from", "base"]);
    if (r.code === 0) break;
    if (i >= 60 || !/out of space/.test(r.stderr)) assert.fail(r.stderr);
    await sleep(500);
  }
  assert.equal(await env.psql(await env.port("after-full"), "select v from keep"), "42");
  const repaired = await repair(env);
  if (repaired.code !== 0) {
    const names = await env.containers();
    const logs = await sh("docker", ["logs", "--tail", "30", names.find((n) => /_main_/.test(n))!]);
    assert.fail(`${JSON.stringify(repaired)}\nmain's log:\n${logs.stdout}${logs.stderr}`);
  }
  await assertHealthy(env, "after freeing the pool");
  await assertMarker(env);
});

itest("a delete of a busy dataset fails naming it and succeeds once it is free", async (env) => {
  await env.ok(["snapshot", "create", "base"]);
  const before = await poolState(env);
  await env.ok(["branch", "create", "b", "--from", "base"]);
  await env.ok(["branch", "stop", "b"]);
  const mountpoint = (await env.json<{ mountpoint: string }>(["branch", "info", "b"])).mountpoint;
  assert.ok(existsSync(mountpoint), mountpoint);
  const sleeper = new Deno.Command("sleep", {
    args: ["60"],
    cwd: mountpoint,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const r = await env.zvpg(["branch", "delete", "b"]);
    const escaped = mountpoint.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assertCliError(r, 1, new RegExp(`busy.*(${escaped}|${env.pool}/clones/b\\b)`));
    assert.ok((await env.datasets()).includes(`${env.pool}/clones/b`), "b must still exist");
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
  await env.ok(["branch", "delete", "b"]);
  await assertPoolState(env, before);
  await assertHealthy(env);
});

itest(
  "eight parallel creates and deletes all succeed and leave exactly the expected state",
  async (env) => {
    await env.ok(["snapshot", "create", "base"]);
    const before = await poolState(env);
    const old = ["old-0", "old-1", "old-2", "old-3"];
    const fresh = ["new-0", "new-1", "new-2", "new-3"];
    await Promise.all(old.map((n) => env.ok(["branch", "create", n, "--from", "base"])));
    const results = await Promise.all([
      ...old.map((n) => env.zvpg(["branch", "delete", n])),
      ...fresh.map((n) => env.zvpg(["branch", "create", n, "--from", "base", "-f", "json"])),
    ]);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const created = results.slice(old.length).map((r) =>
      JSON.parse(r.stdout) as { name: string; port: number; container: string }
    );
    const list = await env.json<{ name: string; port: number; status: string }[]>([
      "branch",
      "list",
    ]);
    assert.deepEqual(list.map((b) => b.name).sort(), ["main", ...fresh].sort());
    assert.ok(list.every((b) => b.status === "running"), JSON.stringify(list));
    assert.equal(new Set(list.map((b) => b.port)).size, list.length, JSON.stringify(list));
    await assertPoolState(env, {
      datasets: [...before.datasets, ...fresh.flatMap((n) => branchDatasets(env, n))].sort(),
      containers: [...before.containers, ...created.map((c) => c.container)].sort(),
    });
    for (const c of created) assert.equal(await env.psql(c.port, "select 1"), "1");
    await assertHealthy(env);
  },
);

itest(
  "repair removes the runtime directory left by a delete killed after destroy",
  async (env) => {
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "gone", "--from", "base"]);
    assertKilled(
      await env.zvpg(["branch", "delete", "gone"], { ZVPG_FAULT: "branch.delete.after-destroy" }),
      "branch.delete.after-destroy",
    );
    const repaired = await repair(env);
    assert.equal(repaired.code, 0, JSON.stringify(repaired));
    assert.deepEqual(runtimeDirs(env), ["main"]);
  },
);

// It stops dockerd for every user of this machine (and restarts it): it runs alone.
itest(
  "the engine stopping mid-create fails it cleanly; main comes back by itself",
  async (env) => {
    await writeMarker(env);
    await env.ok(["snapshot", "create", "base"]);
    const before = await poolState(env);
    const offset = logSize(env);
    const pending = env.zvpg(["branch", "create", "x", "--from", "base"], {
      ZVPG_FAULT_DELAY: "container.before-run:6000",
    });
    try {
      await waitForLog(env, "fault point 'container.before-run': pausing", 30_000, offset);
      await stopDockerd();
      const r = await pending;
      assertCliError(r, 1, /container runtime 'docker' is not reachable/);
      assert.deepEqual(await env.datasets(), before.datasets, "no dataset left behind");
      assert.ok(!existsSync(join(env.mountDir, "sockets", "x")), "no runtime dir left behind");
    } finally {
      await pending.catch(() => undefined);
      await restoreDockerd();
    }
    // main's container has a restart policy: the engine brings it back, no repair needed
    const deadline = Date.now() + 60_000;
    while ((await health(env)).code !== 0 && Date.now() < deadline) await sleep(500);
    await assertHealthy(env, "after restarting the engine");
    await assertMarker(env);
    assert.equal((await env.containers()).length, 1);
  },
  { disruptive: true },
);

/** Starts the real CLI in the background (for signals), against `env`. */
function spawnZvpg(env: TestEnv, args: string[], extra: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(ROOT, "main.ts"), ...args],
    env: { ZVPG_CONFIG_DIR: env.configDir, ...extra },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

itest("Ctrl-C during a create or start removes what it made and exits 130", async (env) => {
  await env.ok(["snapshot", "create", "base"]);
  const before = await poolState(env);
  // SIGINT while the container has just been started, before PostgreSQL is ready
  const create = spawnZvpg(env, ["branch", "create", "x", "--from", "base"], {
    ZVPG_FAULT_DELAY: "container.after-run:3000",
  });
  await new Promise((r) => setTimeout(r, 1500));
  create.kill("SIGINT");
  const created = await create.output();
  const stderr = new TextDecoder().decode(created.stderr);
  assert.equal(created.code, 130, stderr);
  assert.match(stderr, /SIGINT: stopping branch create 'x'/);
  assert.match(stderr, /error: branch create 'x' interrupted by SIGINT: removed what it had made/);
  assert.equal(new TextDecoder().decode(created.stdout), "");
  await assertPoolState(env, before, "after an interrupted create");
  await assertHealthy(env, "after an interrupted create");

  // the same for a start: the container goes, the branch stays stopped with its data
  await env.ok(["branch", "create", "y", "--from", "base"]);
  await env.psql(await env.port("y"), "create table kept (v int); insert into kept values (7)");
  await env.ok(["branch", "stop", "y"]);
  const stopped = await poolState(env);
  const start = spawnZvpg(env, ["branch", "start", "y"], {
    ZVPG_FAULT_DELAY: "container.after-run:3000",
  });
  await new Promise((r) => setTimeout(r, 1500));
  start.kill("SIGTERM");
  const started = await start.output();
  assert.equal(started.code, 130, new TextDecoder().decode(started.stderr));
  await assertPoolState(env, stopped, "after an interrupted start");
  assert.equal((await env.json<{ status: string }>(["branch", "info", "y"])).status, "stopped");
  await env.ok(["branch", "start", "y"]);
  assert.equal(await env.psql(await env.port("y"), "select v from kept"), "7");
});
