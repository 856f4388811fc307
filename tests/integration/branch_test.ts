import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, itest, sh, type TestEnv } from "../support/itest.ts";

/** The spec's "Basic Development Workflow", end to end. */
itest("basic development workflow from the spec", async (env) => {
  await env.psql(await env.port("main"), "create table users (id int)");
  await env.ok(["snapshot", "create", "baseline", "-m", "Initial production state"]);
  const created = await env.ok(["branch", "create", "feature/user-auth", "--from", "baseline"]);
  assert.match(created.stdout, /PostgreSQL Port:\s+\d+/);
  const info = await env.ok(["branch", "info", "feature/user-auth"]);
  const port = Number(info.stdout.match(/PostgreSQL Port:\s+(\d+)/)![1]);
  await env.psql(port, "alter table users add column email text");
  await env.ok([
    "branch",
    "snapshot",
    "feature/user-auth",
    "milestone-1",
    "-m",
    "User authentication milestone",
  ]);
  const stopped = await env.ok(["branch", "stop", "feature/user-auth"]);
  assert.match(stopped.stdout, /Stopped branch 'feature\/user-auth'/);
  assert.equal(
    (await env.json<{ status: string }>(["branch", "info", "feature/user-auth"])).status,
    "stopped",
  );
  // step 7 would destroy the milestone the user named in step 5: refused, naming it
  assertCliError(
    await env.zvpg(["branch", "delete", "feature/user-auth"]),
    1,
    /it holds snapshot\(s\) 'milestone-1' — .*--force/,
  );
  const deleted = await env.ok(["branch", "delete", "feature/user-auth", "--force"]);
  assert.match(deleted.stdout, /Deleted snapshot 'milestone-1'/);
  const names = (await env.json<{ name: string }[]>(["branch", "list"])).map((b) => b.name);
  assert.deepEqual(names, ["main"]);
  assert.equal((await env.containers()).length, 1);
});

/** The spec's "Testing Workflow", including its grep/awk port extraction. */
itest("testing workflow from the spec", async (env) => {
  const main = await env.port("main");
  await env.psql(main, "create table items (n int); insert into items values (1)");
  await env.ok(["snapshot", "create", "baseline"]);
  await env.ok(["branch", "create", "testing", "--from", "baseline"]);
  const text = (await env.ok(["branch", "info", "testing"])).stdout;
  const line = text.split("\n").find((l) => l.includes("PostgreSQL Port"))!;
  const port = Number(line.trim().split(/\s+/)[2]); // awk '{print $3}'
  assert.ok(port > 0);
  await env.psql(port, "insert into items values (2), (3)");
  assert.equal(await env.psql(port, "select count(*) from items"), "3");
  // reset
  await env.ok(["branch", "stop", "testing"]);
  await env.ok(["branch", "delete", "testing"]);
  await env.ok(["branch", "create", "testing", "--from", "baseline"]);
  assert.equal(await env.psql(await env.port("testing"), "select count(*) from items"), "1");
});

itest("a write on a branch never reaches its parent or siblings", async (env) => {
  const main = await env.port("main");
  await env.psql(main, "create table t (v text)");
  await env.ok(["snapshot", "create", "s"]);
  await env.ok(["branch", "create", "a", "--from", "s"]);
  await env.ok(["branch", "create", "b", "--from", "s"]);
  await env.psql(await env.port("a"), "insert into t values ('from a')");
  assert.equal(await env.psql(main, "select count(*) from t"), "0");
  assert.equal(await env.psql(await env.port("b"), "select count(*) from t"), "0");
  assert.equal(await env.psql(await env.port("a"), "select v from t"), "from a");
});

itest("a branch keeps its data across stop/start and a port change", async (env) => {
  await env.ok(["branch", "create", "keep"]);
  const first = await env.port("keep");
  await env.psql(first, "create table k as select 7 as v");
  await env.ok(["branch", "stop", "keep"]);
  await env.ok(["branch", "start", "keep"]);
  assert.equal(await env.port("keep"), first, "restarts on its previous port");
  assert.equal(await env.psql(first, "select v from k"), "7");
  await env.ok(["branch", "stop", "keep"]);
  const other = env.portEnd;
  await env.ok(["branch", "start", "keep", "--port", String(other)]);
  assert.equal(await env.psql(other, "select v from k"), "7");
  assertCliError(await env.zvpg(["branch", "start", "keep"]), 1, /already running/);
});

itest("feature/a and feature_a coexist, and unicode names work", async (env) => {
  await env.ok(["branch", "create", "feature/a"]);
  await env.ok(["branch", "create", "feature_a"]);
  await env.ok(["branch", "create", "fonctionnalité/été"]);
  // the longest names allowed, whose plain encodings would not fit in a ZFS name
  const long1 = "é".repeat(100);
  const long2 = "é".repeat(99) + "x";
  await env.ok(["branch", "create", long1]);
  await env.ok(["branch", "create", long2]);
  const list = await env.json<{ name: string; status: string; port: number; dataset: string }[]>(
    ["branch", "list"],
  );
  assert.deepEqual(
    list.map((b) => b.name).sort(),
    ["feature/a", "feature_a", "fonctionnalité/été", "main", long1, long2].sort(),
  );
  assert.ok(list.every((b) => b.status === "running"));
  assert.equal(new Set(list.map((b) => b.port)).size, 6);
  assert.equal(new Set(list.map((b) => b.dataset)).size, 6);
  assert.ok(list.every((b) => b.dataset.length <= env.pool.length + "/clones/".length + 60));
  await env.ok(["branch", "delete", "feature/a"]);
  assert.equal(
    (await env.json<{ status: string }>(["branch", "info", "feature_a"])).status,
    "running",
  );
});

itest(
  "without --from a branch starts from a new snapshot of its parent, marked automatic",
  async (env) => {
    await env.ok(["branch", "create", "dev"]);
    const snaps = await env.json<{ name: string; message: string; auto: boolean }[]>([
      "snapshot",
      "list",
    ]);
    assert.equal(snaps.length, 1);
    assert.match(snaps[0].message, /automatic snapshot of 'main' for new branch 'dev'/);
    assert.equal(snaps[0].auto, true);
    await env.psql(await env.port("dev"), "create table only_dev (x int)");
    await env.ok(["branch", "snapshot", "dev", "dev-1"]);
    await env.psql(await env.port("dev"), "insert into only_dev values (1)");
    await env.ok(["branch", "create", "dev-child", "--parent", "dev"]);
    const child = await env.json<{ parent: string; origin: string }>([
      "branch",
      "info",
      "dev-child",
    ]);
    assert.equal(child.parent, "dev");
    assert.match(child.origin, /^auto-/, "the current state, not the latest snapshot dev-1");
    assert.equal(await env.psql(await env.port("dev-child"), "select count(*) from only_dev"), "1");
  },
);

itest("eight concurrent creates all succeed with distinct ports", async (env) => {
  await env.ok(["snapshot", "create", "base"]);
  const names = Array.from({ length: 8 }, (_, i) => `par-${i}`);
  const results = await Promise.all(
    names.map((n) => env.zvpg(["branch", "create", n, "--from", "base", "-f", "json"])),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const ports = results.map((r) => JSON.parse(r.stdout).port as number);
  assert.equal(new Set(ports).size, 8, `ports ${ports}`);
  for (const p of ports) assert.equal(await env.psql(p, "select 1"), "1");
});

async function assertNothingLeft(
  env: TestEnv,
  before: { datasets: string[]; containers: string[] },
) {
  assert.deepEqual(await env.datasets(), before.datasets);
  assert.deepEqual(await env.containers(), before.containers);
}

async function snapshotState(env: TestEnv) {
  return { datasets: await env.datasets(), containers: await env.containers() };
}

itest("a create on a busy port fails and leaves nothing behind", async (env) => {
  await env.ok(["snapshot", "create", "base"]);
  const before = await snapshotState(env);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: env.portEnd });
  try {
    const r = await env.zvpg(["branch", "create", "busy", "--port", String(env.portEnd)]);
    assertCliError(r, 1, /port \d+ .*in use/);
  } finally {
    listener.close();
  }
  await assertNothingLeft(env, before);
  // a port held by another branch is refused by name
  const mainPort = await env.port("main");
  assertCliError(
    await env.zvpg(["branch", "create", "x", "--port", String(mainPort)]),
    1,
    /used by branch 'main'/,
  );
  await assertNothingLeft(env, before);
});

itest("a create with a missing image fails and leaves nothing behind", async (env) => {
  await env.ok(["snapshot", "create", "base"]);
  const before = await snapshotState(env);
  env.writeConfig({ pgBaseImage: "localhost/zvpg-missing:0" });
  assertCliError(
    await env.zvpg(["branch", "create", "noimg", "--from", "base"]),
    1,
    /image 'localhost\/zvpg-missing:0'/,
  );
  await assertNothingLeft(env, before);
});

itest(
  "a create whose PostgreSQL will not start fails with its log and leaves nothing behind",
  async (env) => {
    await env.ok(["snapshot", "create", "base"]);
    const before = await snapshotState(env);
    writeFileSync(join(env.configDir, "postgresql.conf"), "shared_buffers = 'not-a-size'\n");
    env.writeConfig({ readyTimeoutSeconds: 20 });
    const r = await env.zvpg(["branch", "create", "broken", "--from", "base"]);
    assertCliError(r, 1, /exited with code 1 [\d.]+s after its start: .*shared_buffers/);
    await assertNothingLeft(env, before);
  },
);

itest("bad branch names are refused with a reason and change nothing", async (env) => {
  const before = await snapshotState(env);
  const cases: [string, RegExp][] = [
    ["a..b", /'\.\.'/],
    ["x.lock", /\.lock/],
    ["/abs", /starts with '\/'/],
    [".hidden", /starts with '\.'/],
    ["a//b", /'\/\/'/],
    ["a b", /white space/],
    ["a;rm", /';'/],
    ["$(id)", /'\$'/],
    ["-rf", /starts with '-'/],
    ["x".repeat(101), /longer than/],
    ["pool/data@snap", /'@'/],
  ];
  for (const [name, reason] of cases) {
    assertCliError(await env.zvpg(["branch", "create", "--", name]), 2, reason);
  }
  assertCliError(await env.zvpg(["branch", "info", "ghost"]), 1, /branch 'ghost' does not exist/);
  assertCliError(await env.zvpg(["branch", "delete", "main"]), 1, /default branch/);
  assertCliError(await env.zvpg(["branch", "create", "x", "--port", "70000"]), 2, /port/);
  assertCliError(
    await env.zvpg(["branch", "create", "x", "--from", "nosnap"]),
    1,
    /snapshot 'nosnap' does not exist/,
  );
  await assertNothingLeft(env, before);
});

itest("delete refuses while other branches depend on the branch's snapshots", async (env) => {
  await env.ok(["branch", "create", "parent"]);
  await env.ok(["branch", "snapshot", "parent", "p1"]);
  await env.ok(["branch", "create", "child", "--from", "p1"]);
  assertCliError(
    await env.zvpg(["branch", "delete", "parent"]),
    1,
    /it holds snapshot\(s\) 'p1', and branch\(es\) 'child' depend on its snapshots/,
  );
  const r = await env.ok(["branch", "delete", "parent", "--force", "-f", "json"]);
  const deleted = JSON.parse(r.stdout);
  assert.equal(deleted.branch, "parent");
  assert.deepEqual(deleted.removedBranches, ["child"]);
  // p1, and the automatic snapshot main took for 'parent'
  assert.equal(deleted.removedSnapshots.length, 2);
  assert.ok(deleted.removedSnapshots.includes("p1"));
  assert.deepEqual((await env.json<{ name: string }[]>(["branch", "list"])).map((b) => b.name), [
    "main",
  ]);
  assert.equal((await env.containers()).length, 1);
  const ds = await sh("zfs", ["list", "-H", "-o", "name", "-r", `${env.pool}/clones`]);
  assert.equal(ds.stdout.trim(), `${env.pool}/clones`);
});
