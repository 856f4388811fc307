/**
 * Trust: the findings of the hostile pass that belong to the branch lifecycle, each on the
 * real stack — no second server on one data directory whatever engine asks, ports that
 * tell the truth, nothing destroyed unasked, no delete under a running create, branches
 * of the current state, and branches that survive an engine restart.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, itest, sh, type TestEnv } from "../support/itest.ts";
import { assertHealthy, containerOf, health, must, sleep } from "../support/fault_support.ts";
import { restoreDockerd, stopDockerd } from "../support/engines.ts";

interface BranchJson {
  name: string;
  status: string;
  port: number | null;
  lastPort: number | null;
  runtime: string | null;
  origin: string | null;
}

/** Pids of processes whose working directory is the branch's data directory. */
function serversOn(env: TestEnv, branch: string): number[] {
  const dir = branch === "main"
    ? join(env.mountDir, "data", "pgdata")
    : join(env.mountDir, "clones", branch, "pgdata");
  const target = statSync(dir);
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const cwd = statSync(`/proc/${entry}/cwd`);
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      // the postmaster: its parent is not a postgres process
      const ppid = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1].split(" ")[1];
      const parent = readFileSync(`/proc/${ppid}/comm`, "utf8").trim();
      if (cwd.dev === target.dev && cwd.ino === target.ino && comm === "postgres") {
        if (parent !== "postgres") pids.push(Number(entry));
      }
    } catch {
      // gone
    }
  }
  return pids;
}

const PODMAN = { ZVPG_CONTAINER_RUNTIME: "podman" };

itest("another engine never starts a second server on a running branch", async (env) => {
  await env.ok(["branch", "create", "b1"]);
  assert.equal(serversOn(env, "b1").length, 1);
  assert.equal(serversOn(env, "main").length, 1);

  // the README's own override, left in a shell profile
  const start = await env.zvpg(["branch", "start", "b1"], PODMAN);
  assertCliError(start, 1, /branch 'b1' is running under docker, but zvpg is set to use podman/);
  const info = JSON.parse((await env.zvpg(["branch", "info", "b1", "-f", "json"], PODMAN)).stdout);
  assert.equal(info.status, "other-runtime");
  assert.equal(info.runtime, "docker");
  assert.equal(info.port, null, "not served by this engine: no live port claimed");

  const repaired = await env.zvpg(["status", "health", "--repair", "-f", "json"], PODMAN);
  const parsed = JSON.parse(repaired.stdout) as {
    repairs: { target: string }[];
    checks: { name: string; status: string; detail: string }[];
  };
  assert.deepEqual(parsed.repairs, [], "repair under another engine touches nothing");
  const drift = parsed.checks.find((c) => c.name === "drift")!;
  assert.match(drift.detail, /runs under docker, not podman/);
  for (const branch of ["main", "b1"]) {
    assert.equal(serversOn(env, branch).length, 1, `one server on ${branch}`);
  }
  assert.equal(
    (await sh("podman", ["ps", "-aq", "--filter", `label=zvpg.pool=${env.pool}`]))
      .stdout.trim(),
    "",
  );
  for (const cmd of [["branch", "stop", "b1"], ["branch", "delete", "b1"]]) {
    assertCliError(await env.zvpg(cmd, PODMAN), 1, /is running under docker/);
  }
  await assertHealthy(env, "under docker, all is well");

  // stopped under docker, the branch may move to podman; docker then sees it as podman's
  await env.ok(["branch", "stop", "b1"]);
  await env.ok(["branch", "start", "b1"], PODMAN);
  assert.equal(serversOn(env, "b1").length, 1);
  const moved = await env.json<BranchJson>(["branch", "info", "b1"]);
  assert.equal(moved.status, "other-runtime");
  assert.equal(moved.runtime, "podman");
  assertCliError(await env.zvpg(["branch", "start", "b1"]), 1, /running under podman/);
  await env.ok(["branch", "stop", "b1"], PODMAN);
});

itest("a server zvpg cannot see keeps zvpg from starting another on its data", async (env) => {
  await env.ok(["branch", "create", "b1"]);
  await env.ok(["branch", "stop", "b1"]);
  const pgdata = join(env.mountDir, "clones", "b1", "pgdata");
  // any process working in the data directory stands for such a server
  const holder = new Deno.Command("sleep", { args: ["60"], cwd: pgdata, stdin: "null" }).spawn();
  try {
    const r = await env.zvpg(["branch", "start", "b1"]);
    assertCliError(
      r,
      1,
      new RegExp(`data directory is in use by process ${holder.pid} \\(sleep\\)`),
    );
    assert.equal((await env.json<BranchJson>(["branch", "info", "b1"])).status, "stopped");
    assert.deepEqual(await env.containers(), [await containerOf(env, "main")]);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
  }
  await env.ok(["branch", "start", "b1"]);
});

itest(
  "a stopped branch has no live port: the spec's grep line yields nothing usable",
  async (env) => {
    await env.ok(["branch", "create", "testing"]);
    const running = await env.json<BranchJson>(["branch", "info", "testing"]);
    assert.ok(running.port !== null);
    await env.ok(["branch", "stop", "testing"]);
    const stopped = await env.json<BranchJson>(["branch", "info", "testing"]);
    assert.equal(stopped.port, null);
    assert.equal(stopped.lastPort, running.port);
    const text = (await env.ok(["branch", "info", "testing"])).stdout;
    const port =
      text.split("\n").find((l) => l.includes("PostgreSQL Port"))!.trim().split(/\s+/)[2];
    assert.equal(port, "-");
    assert.match(text, new RegExp(`Last Port:\\s+${running.port}`));

    // the next branch may take that port; no two branches are ever reported on one
    await env.ok(["branch", "create", "other", "--port", String(running.port)]);
    const list = await env.json<BranchJson[]>(["branch", "list"]);
    const live = list.map((b) => b.port).filter((p) => p !== null);
    assert.equal(new Set(live).size, live.length, JSON.stringify(list));
    assert.equal(list.find((b) => b.name === "testing")!.port, null);
    const table = (await env.ok(["branch", "list"])).stdout;
    assert.equal(table.split("\n").filter((l) => l.includes(` ${running.port} `)).length, 1);
  },
);

itest(
  "branch delete keeps named snapshots unless --force, and lists all it destroys",
  async (env) => {
    await env.ok(["branch", "create", "feature/user-auth"]);
    await env.ok(["branch", "snapshot", "feature/user-auth", "milestone-1", "-m", "First"]);
    const before = await env.datasets();
    const refused = await env.zvpg(["branch", "delete", "feature/user-auth"]);
    assertCliError(refused, 1, /was not deleted: it holds snapshot\(s\) 'milestone-1'.*--force/);
    assert.deepEqual(await env.datasets(), before, "nothing destroyed");

    const origin = (await env.json<BranchJson>(["branch", "info", "feature/user-auth"])).origin!;
    assert.match(origin, /^auto-/);
    const r = await env.json<{ removedSnapshots: string[]; removedBranches: string[] }>([
      "branch",
      "delete",
      "feature/user-auth",
      "--force",
    ]);
    assert.deepEqual(r.removedBranches, []);
    assert.deepEqual(r.removedSnapshots.sort(), [origin, "milestone-1"].sort());
    const left = await env.datasets();
    assert.ok(!left.some((d) => d.includes("milestone-1") || d.includes(origin)), left.join(" "));

    // text output names every snapshot it destroyed
    await env.ok(["branch", "create", "x"]);
    await env.ok(["branch", "snapshot", "x", "keep-me"]);
    const text = (await env.ok(["branch", "delete", "x", "--force"])).stdout;
    assert.match(text, /Deleted snapshot 'keep-me'/);
    assert.match(text, /Deleted snapshot 'auto-/);
    assert.match(text, /Deleted branch 'x'/);
  },
);

itest(
  "branch delete is refused while another process is still creating the branch",
  async (env) => {
    const create = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(new URL("../../", import.meta.url).pathname, "main.ts"),
        "branch",
        "create",
        "slow",
      ],
      env: {
        ZVPG_CONFIG_DIR: env.configDir,
        ZVPG_FAULT_DELAY: "branch.create.before-mark-running:4000",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let refused = false;
    for (let i = 0; i < 80 && !refused; i++) {
      await sleep(100);
      const info = await env.zvpg(["branch", "info", "slow", "-f", "json"]);
      if (info.code !== 0) continue;
      const r = await env.zvpg(["branch", "delete", "slow"]);
      assertCliError(r, 1, /branch 'slow' is being created by zvpg process \d+/);
      refused = true;
    }
    const out = await create.output();
    assert.ok(refused, "the create was never seen in flight");
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal((await env.json<BranchJson>(["branch", "info", "slow"])).status, "running");
  },
);

itest("a branch without --from starts from the parent's current state", async (env) => {
  const main = await env.port("main");
  await env.psql(main, "create table t (v int); insert into t values (1)");
  await env.ok(["snapshot", "create", "old"]);
  await env.psql(main, "insert into t values (2)"); // after the last snapshot
  await env.ok(["branch", "create", "now"]);
  assert.equal(
    await env.psql(await env.port("now"), "select string_agg(v::text, ',') from t"),
    "1,2",
  );
  // the README's "latest snapshot" stays available by name
  await env.ok(["branch", "create", "then", "--from", "old"]);
  assert.equal(
    await env.psql(await env.port("then"), "select string_agg(v::text, ',') from t"),
    "1",
  );
  // a stopped parent is branched as it is
  await env.psql(await env.port("now"), "insert into t values (3)");
  await env.ok(["branch", "stop", "now"]);
  await env.ok(["branch", "create", "child", "--parent", "now"]);
  assert.equal(
    await env.psql(await env.port("child"), "select string_agg(v::text, ',') from t"),
    "1,2,3",
  );
  // its automatic snapshots go with the branches made from them
  const snaps = await env.json<{ name: string; auto: boolean }[]>(["snapshot", "list"]);
  assert.equal(snaps.filter((s) => s.auto).length, 2, JSON.stringify(snaps));
  await env.ok(["branch", "delete", "child"]);
  await env.ok(["branch", "delete", "now"]);
  const after = await env.json<{ name: string; auto: boolean }[]>(["snapshot", "list"]);
  assert.deepEqual(after.map((s) => s.name), ["old"]);
});

itest(
  "branches come back after the engine restarts; a stopped engine is one clear error",
  async (env) => {
    await env.ok(["branch", "create", "b1"]);
    await env.ok(["branch", "create", "b2"]);
    await env.ok(["branch", "stop", "b2"]);
    await env.psql(await env.port("b1"), "create table kept (v int); insert into kept values (7)");
    await stopDockerd();
    try {
      for (
        const cmd of [
          ["branch", "list"],
          ["branch", "info", "b1"],
          ["branch", "create", "b3"],
          ["branch", "start", "b2"],
          ["snapshot", "create", "s1"],
        ]
      ) {
        const r = await env.zvpg(cmd);
        assertCliError(
          r,
          1,
          /^error: container runtime 'docker' is not reachable: .* — start its engine/,
        );
      }
      const h = await health(env);
      assert.equal(h.code, 1);
    } finally {
      await restoreDockerd();
    }
    // no repair: the engine brought back what was running, and only that
    const deadline = Date.now() + 60_000;
    let list: BranchJson[] = [];
    while (Date.now() < deadline) {
      list = await env.json<BranchJson[]>(["branch", "list"]);
      if (list.filter((b) => b.status === "running").length === 2) break;
      await sleep(500);
    }
    assert.deepEqual(list.map((b) => [b.name, b.status]), [
      ["main", "running"],
      ["b1", "running"],
      ["b2", "stopped"],
    ]);
    const deadline2 = Date.now() + 60_000;
    while (true) {
      try {
        assert.equal(await env.psql(await env.port("b1"), "select v from kept"), "7");
        break;
      } catch (error) {
        if (Date.now() > deadline2) throw error;
        await sleep(500);
      }
    }
    await assertHealthy(env, "after the engine restart");
    await must("docker", ["ps"]);
  },
  { disruptive: true },
);
