import assert from "node:assert/strict";
import { assertCliError, itest, sh, stableFields } from "../support/itest.ts";

itest(
  "rows committed before snapshot create are in its branch; rows written after are not",
  async (env) => {
    const main = await env.port("main");
    await env.psql(main, "create table t (id int primary key); insert into t values (1), (2)");
    await env.ok(["snapshot", "create", "s1", "-m", "two rows"]);
    await env.psql(main, "insert into t values (3)");
    await env.ok(["branch", "create", "b1", "--from", "s1"]);
    assert.equal(
      await env.psql(await env.port("b1"), "select string_agg(id::text, ',' order by id) from t"),
      "1,2",
    );
    assert.equal(await env.psql(main, "select count(*) from t"), "3");
  },
);

itest("a snapshot of a running branch replays little WAL", async (env) => {
  const main = await env.port("main");
  // ~40 MB of WAL that no checkpoint has covered yet
  await env.psql(
    main,
    "create table big as select g, repeat('x', 200) as pad from generate_series(1, 150000) g",
  );
  await env.ok(["snapshot", "create", "hot", "-m", "taken while running"]);
  await env.ok(["branch", "create", "from-hot", "--from", "hot"]);
  assert.equal(await env.psql(await env.port("from-hot"), "select count(*) from big"), "150000");
  const info = await env.json<{ container: string }>(["branch", "info", "from-hot"]);
  const logs = await sh("docker", ["logs", info.container]);
  const text = logs.stdout + logs.stderr;
  const start = text.match(/redo starts at ([0-9A-F]+)\/([0-9A-F]+)/);
  const done = text.match(/redo done at ([0-9A-F]+)\/([0-9A-F]+)/);
  if (start && done) {
    const lsn = (m: RegExpMatchArray) => parseInt(m[1], 16) * 2 ** 32 + parseInt(m[2], 16);
    const replayed = lsn(done) - lsn(start);
    assert.ok(replayed < 1024 * 1024, `replayed ${replayed} bytes of WAL`);
  }
});

itest("commit and snapshot are the same commands with identical output", async (env) => {
  await env.ok(["commit", "create", "c1", "-m", "via commit"]);
  await env.ok(["snapshot", "create", "s2", "-m", "via snapshot"]);
  const viaSnapshot = (await env.ok(["snapshot", "list", "-f", "json"])).stdout;
  const viaCommit = (await env.ok(["commit", "list", "-f", "json"])).stdout;
  // the same document, but for the space ZFS accounts between the two reads
  assert.deepEqual(stableFields(JSON.parse(viaCommit)), stableFields(JSON.parse(viaSnapshot)));
  const list = JSON.parse(viaSnapshot);
  assert.deepEqual(list.map((s: { name: string }) => s.name), ["c1", "s2"]);
  for (const s of list) {
    assert.equal(typeof s.used, "number");
    assert.equal(typeof s.referenced, "number");
    assert.match(s.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(s.branch, "main");
  }
  assert.deepEqual(
    stableFields(JSON.parse((await env.ok(["commit", "show", "c1", "-f", "json"])).stdout)),
    stableFields(JSON.parse((await env.ok(["snapshot", "info", "c1", "-f", "json"])).stdout)),
  );
  // both words work on both commands
  await env.ok(["snapshot", "show", "c1"]);
  await env.ok(["commit", "info", "c1"]);
  await env.ok(["commit", "delete", "c1"]);
  await env.ok(["snapshot", "remove", "s2"]);
  assert.deepEqual(JSON.parse((await env.ok(["commit", "list", "-f", "json"])).stdout), []);
});

itest(
  "messages keep tabs, newlines, quotes and unicode; snapshot metadata is in ZFS",
  async (env) => {
    const message = 'line 1\n\ttab "quoted" — ünïcödé ✓';
    await env.ok(["snapshot", "create", "msg", "-m", message]);
    const info = await env.json<{ message: string; zfsName: string }>(["snapshot", "info", "msg"]);
    assert.equal(info.message, message);
    const prop = await sh("zfs", ["get", "-H", "-o", "value", "zvpg:tool", info.zfsName]);
    assert.match(prop.stdout, /^zvpg\//);
    const huge = await env.zvpg(["snapshot", "create", "huge", "-m", "x".repeat(5000)]);
    assertCliError(huge, 2, /message is too long/);
  },
);

itest(
  "delete is refused while branches depend on a snapshot; --force removes them all",
  async (env) => {
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "dep1", "--from", "base"]);
    await env.ok(["branch", "snapshot", "dep1", "dep1-snap"]);
    await env.ok(["branch", "create", "dep2", "--from", "dep1-snap"]);
    const before = await env.datasets();
    const refused = await env.zvpg(["snapshot", "delete", "base"]);
    assertCliError(refused, 1, /dependent branches: .*dep1/);
    assert.match(refused.stderr, /dep2/);
    assert.deepEqual(await env.datasets(), before);
    const forced = await env.ok(["snapshot", "delete", "base", "--force"]);
    assert.match(forced.stdout, /Deleted branch 'dep2'/);
    assert.match(forced.stdout, /Deleted branch 'dep1'/);
    // dep1's own snapshot goes with it, and is named
    assert.match(forced.stdout, /Deleted snapshot 'dep1-snap'/);
    assert.deepEqual(await env.datasets(), [
      env.pool,
      `${env.pool}/clones`,
      `${env.pool}/data`,
      `${env.pool}/sockets`,
    ]);
    assert.equal((await env.containers()).length, 1);
  },
);

itest("bad names and unknown snapshots give one-line errors and change nothing", async (env) => {
  await env.ok(["snapshot", "create", "keep"]);
  const before = await env.datasets();
  for (const bad of ["pool/fs@snap", "a b", "-x", "x".repeat(65), "a@b", "$(touch /tmp/pwned)"]) {
    const r = await env.zvpg(["snapshot", "create", "--", bad]);
    assertCliError(r, 2, /invalid snapshot name/);
  }
  assertCliError(await env.zvpg(["snapshot", "info", "nope"]), 1, /snapshot 'nope' does not exist/);
  assertCliError(
    await env.zvpg(["snapshot", "delete", "nope"]),
    1,
    /snapshot 'nope' does not exist/,
  );
  assertCliError(
    await env.zvpg(["snapshot", "delete", `${env.pool}/data@keep`]),
    2,
    /invalid snapshot name/,
  );
  assertCliError(await env.zvpg(["snapshot", "create", "keep"]), 1, /already exists/);
  assertCliError(
    await env.zvpg(["snapshot", "create", "x", "--branch", "nobranch"]),
    1,
    /branch 'nobranch' does not exist/,
  );
  assert.deepEqual(await env.datasets(), before);
});

itest("snapshot list --branch filters and listing is one zfs call", async (env) => {
  await env.ok(["snapshot", "create", "m1"]);
  await env.ok(["branch", "create", "f"]);
  await env.ok(["branch", "snapshot", "f", "f1", "-m", "on f"]);
  const onF = await env.json<{ name: string }[]>(["snapshot", "list", "--branch", "f"]);
  assert.deepEqual(onF.map((s) => s.name), ["f1"]);
  const debug = await env.zvpg(["snapshot", "list"], { ZVPG_LOG_LEVEL: "DEBUG" });
  const zfsCalls = debug.stderr.split("\n").filter((l) => /^debug: run: zfs /.test(l));
  assert.equal(zfsCalls.length, 1, zfsCalls.join("\n"));
});
