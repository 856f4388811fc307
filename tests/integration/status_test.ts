import assert from "node:assert/strict";
import { itest, sh } from "../support/itest.ts";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

type Check = { name: string; status: string; detail: string };

async function health(env: Parameters<Parameters<typeof itest>[1]>[0]) {
  const r = await env.zvpg(["status", "health", "-f", "json"]);
  return { code: r.code, json: JSON.parse(r.stdout) as { ok: boolean; checks: Check[] } };
}

function failing(checks: Check[]): string {
  return checks.filter((c) => c.status === "fail").map((c) => `${c.name}: ${c.detail}`).join("\n");
}

/** Byte counts every branch and snapshot record carries. */
type Space = { used: number; referenced: number };

itest("a healthy system passes every check and every json output parses", async (env) => {
  await env.ok(["snapshot", "create", "s1", "-m", "first"]);
  await env.ok(["branch", "create", "b1", "--from", "s1"]);
  const h = await health(env);
  assert.equal(h.code, 0, failing(h.json.checks));
  assert.equal(h.json.ok, true);
  const system = await env.json<{
    pool: Record<string, number | string>;
    space: Record<string, number>;
    branches: Record<string, number>;
    snapshots: number;
    runtime: { reachable: boolean };
    image: { present: boolean };
  }>(["status", "system"]);
  assert.equal(system.pool.health, "ONLINE");
  for (const key of ["size", "allocated", "free"]) {
    assert.ok(Number.isInteger(system.pool[key]) && Number(system.pool[key]) > 0, key);
  }
  for (const key of ["main", "branches", "snapshots", "total"]) {
    assert.ok(Number.isInteger(system.space[key]), key);
  }
  assert.deepEqual(system.branches, { total: 2, running: 2, stopped: 0, other: 0 });
  assert.equal(system.snapshots, 1);
  assert.equal(system.runtime.reachable, true);
  assert.equal(system.image.present, true);
  const branches = await env.json<
    ({ name: string; status: string; ready: boolean | null; created: string } & Space)[]
  >(["status", "branches"]);
  assert.deepEqual(branches.map((b) => [b.name, b.status, b.ready]), [["main", "running", true], [
    "b1",
    "running",
    true,
  ]]);
  for (const b of branches) {
    assert.match(b.created, RFC3339);
    assert.ok(Number.isInteger(b.used) && Number.isInteger(b.referenced));
  }
  const snapshots = await env.json<
    (
      & { name: string; branch: string; dependents: string[]; message: string; created: string }
      & Space
    )[]
  >(["status", "snapshots"]);
  assert.deepEqual(snapshots.map((s) => [s.name, s.branch, s.dependents, s.message]), [[
    "s1",
    "main",
    ["b1"],
    "first",
  ]]);
  assert.match(snapshots[0].created, RFC3339);
  // plain `zvpg status` is `status system`
  assert.equal(JSON.parse((await env.ok(["status", "-f", "json"])).stdout).pool.name, env.pool);
});

itest(
  "status health fails naming a branch whose container was killed or removed by hand",
  async (env) => {
    await env.ok(["branch", "create", "victim"]);
    const info = await env.json<{ container: string }>(["branch", "info", "victim"]);
    await sh("docker", ["kill", info.container]);
    let h = await health(env);
    assert.equal(h.code, 1);
    assert.match(failing(h.json.checks), /branch 'victim': container .* is exited/);
    assert.equal(
      (await env.json<{ status: string }>(["branch", "info", "victim"])).status,
      "failed",
    );
    await sh("docker", ["rm", "-f", info.container]);
    h = await health(env);
    assert.equal(h.code, 1);
    assert.match(
      failing(h.json.checks),
      /branch 'victim' is marked running but its container is gone/,
    );
    // the repair restarts it
    const repaired = await env.zvpg(["status", "health", "--repair", "-f", "json"]);
    assert.equal(repaired.code, 0, repaired.stdout);
    assert.equal(await env.psql(await env.port("victim"), "select 1"), "1");
  },
);

itest(
  "status health fails naming a dataset destroyed by hand, and repair removes the orphan container",
  async (env) => {
    await env.ok(["branch", "create", "gone"]);
    const info = await env.json<{ container: string; dataset: string }>(["branch", "info", "gone"]);
    await sh("docker", ["rm", "-f", info.container]);
    // recreate the container by hand first so that it outlives its dataset
    const destroyed = await sh("zfs", ["destroy", "-r", info.dataset]);
    if (destroyed.code !== 0) await sh("zfs", ["destroy", "-r", info.dataset]);
    await sh("docker", [
      "run",
      "-d",
      "--name",
      info.container,
      "--label",
      `zvpg.pool=${env.pool}`,
      "--label",
      "zvpg.branch=gone",
      "--entrypoint",
      "sleep",
      env.configJson({}).pgBaseImage as string,
      "300",
    ]);
    const h = await health(env);
    assert.equal(h.code, 1);
    assert.match(failing(h.json.checks), /container .* has no branch dataset \(branch 'gone'\)/);
    const repaired = await env.zvpg(["status", "health", "--repair"]);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    assert.deepEqual(await env.containers(), [`zvpg_main_${await env.port("main")}`]);
  },
);

itest(
  "status health fails naming the runtime when the engine is unreachable, and warns of a foreign dataset",
  async (env) => {
    const r = await env.zvpg(["status", "health", "-f", "json"], {
      DOCKER_HOST: "unix:///nonexistent/docker.sock",
    });
    assert.equal(r.code, 1);
    const checks = JSON.parse(r.stdout).checks as Check[];
    assert.equal(checks.find((c) => c.name === "runtime")!.status, "fail");
    await sh("zfs", ["create", `${env.pool}/clones/stranger`]);
    const h = await health(env);
    assert.equal(h.code, 0, failing(h.json.checks));
    const ownership = h.json.checks.find((c) => c.name === "ownership")!;
    assert.equal(ownership.status, "warn");
    assert.match(ownership.detail, /clones\/stranger/);
    // repair never touches data that is not zvpg's
    await env.zvpg(["status", "health", "--repair"]);
    assert.ok((await env.datasets()).includes(`${env.pool}/clones/stranger`));
  },
);

itest("status listings make a constant number of external calls", async (env) => {
  await env.ok(["snapshot", "create", "s"]);
  for (const n of ["a", "b", "c"]) await env.ok(["branch", "create", n, "--from", "s"]);
  for (const n of ["a", "b"]) await env.ok(["branch", "stop", n]);
  const calls = async (args: string[]) => {
    const r = await env.zvpg(args, { ZVPG_LOG_LEVEL: "DEBUG" });
    const runs = r.stderr.split("\n").filter((l) => l.startsWith("debug: run: "));
    return {
      zfs: runs.filter((l) => / run: zfs /.test(l)).length,
      zpool: runs.filter((l) => / run: zpool /.test(l)).length,
      runtime: runs.filter((l) => / run: docker /.test(l)).length,
    };
  };
  assert.deepEqual(await calls(["status", "branches"]), { zfs: 1, zpool: 0, runtime: 1 });
  assert.deepEqual(await calls(["branch", "list"]), { zfs: 1, zpool: 0, runtime: 1 });
  const system = await calls(["status", "system"]);
  assert.equal(system.zfs, 1);
  assert.ok(system.zpool <= 2);
});

itest(
  "status health reports what the claims index misses; repair claims it, so the name is refused again",
  async (env) => {
    const index = `${env.pool}/sockets`;
    // a snapshot made by hand is not claimed: health names it
    assert.equal((await sh("zfs", ["snapshot", `${env.pool}/data@by-hand`])).code, 0);
    let h = await health(env);
    assert.equal(h.code, 1);
    assert.match(failing(h.json.checks), /claims index misses snapshot 'by-hand' of branch 'main'/);
    // found by name all the same (the look-up falls back to every branch)
    await env.ok(["branch", "create", "from-hand", "--from", "by-hand"]);
    // an index wiped by hand is reported as not built
    assert.equal((await sh("zfs", ["inherit", "zvpg:index", index])).code, 0);
    h = await health(env);
    assert.match(failing(h.json.checks), /claims index .* is not built/);
    const repaired = await env.zvpg(["status", "health", "--repair", "-f", "json"]);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    const repairs = (JSON.parse(repaired.stdout) as { repairs: { target: string; ok: boolean }[] })
      .repairs;
    assert.deepEqual(repairs.map((r) => [r.target, r.ok]), [["the claims index", true]]);
    h = await health(env);
    assert.equal(h.code, 0, failing(h.json.checks));
    // claimed now: the name is unique across branches again
    const again = await env.zvpg(["branch", "snapshot", "from-hand", "by-hand"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /snapshot 'by-hand' already exists \(on branch 'main'\)/);
    // a stopped branch gives its port back; the claim of a running one is kept
    await env.ok(["branch", "stop", "from-hand"]);
    const props = (await sh("zfs", ["get", "-H", "-o", "property,value", "all", index])).stdout;
    const ports = props.split("\n").filter((l) => l.startsWith("zvpg:port:"));
    assert.deepEqual(ports.map((l) => l.split("\t")[1].split(" ")[1]), [`${env.pool}/data`]);
  },
);
