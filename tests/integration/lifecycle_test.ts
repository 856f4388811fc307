import assert from "node:assert/strict";
import { join } from "node:path";
import { assertCliError, itest, sh } from "../support/itest.ts";
import { assertHealthy, logSize, waitForLog } from "../support/fault_support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

interface Branch {
  name: string;
  status: string;
  port: number | null;
  lastPort: number | null;
  uri: string | null;
  expiresAt: string | null;
  protected: boolean;
}

itest(
  "branch reset: keeps port and URI, brings back the origin's data, running or stopped; --to and --parent",
  async (env) => {
    const main = await env.port("main");
    await env.psql(main, "create table t (n int); insert into t values (1)");
    await env.ok(["snapshot", "create", "base"]);
    await env.psql(main, "insert into t values (2)");
    await env.ok(["snapshot", "create", "two"]);
    await env.ok(["branch", "create", "ci", "--from", "base", "--ttl", "1h"]);
    const before = await env.json<Branch>(["branch", "info", "ci"]);
    const containerId = () =>
      sh("docker", ["ps", "-q", "--no-trunc", "--filter", `publish=${before.port}`]);
    const idBefore = (await containerId()).stdout.trim();
    await env.psql(before.port!, "insert into t values (99); create table junk (x int)");
    const reset = await env.json<Branch & { resetTo: string }>([
      "branch",
      "reset",
      "ci",
      "-f",
      "json",
    ]);
    assert.equal(reset.resetTo, "base");
    assert.equal(reset.status, "running");
    assert.equal(reset.port, before.port);
    assert.equal(reset.uri, before.uri);
    assert.ok(reset.expiresAt! >= before.expiresAt!, "the TTL restarts");
    // back to its origin in place: the same container served it throughout
    assert.ok(idBefore !== "");
    assert.equal((await containerId()).stdout.trim(), idBefore);
    // the birth snapshot that made it possible is zvpg's own: never listed
    assert.deepEqual(
      (await env.json<{ name: string }[]>(["snapshot", "list"])).map((s) => s.name),
      ["base", "two"],
    );
    assert.equal(
      await env.psql(before.port!, "select string_agg(n::text, ',' order by n) from t"),
      "1",
    );
    assert.equal(
      await env.psql(before.port!, "select count(*) from pg_tables where tablename = 'junk'"),
      "0",
    );
    // stopped stays stopped
    await env.psql(before.port!, "insert into t values (7)");
    await env.ok(["branch", "stop", "ci"]);
    const stopped = await env.json<Branch>(["branch", "reset", "ci", "--to", "two", "-f", "json"]);
    assert.equal(stopped.status, "stopped");
    await env.ok(["branch", "start", "ci"]);
    const started = await env.json<Branch>(["branch", "info", "ci"]);
    assert.equal(started.port, before.port);
    assert.equal(
      await env.psql(started.port!, "select string_agg(n::text, ',' order by n) from t"),
      "1,2",
    );
    // --parent: the parent's current state
    await env.psql(main, "insert into t values (3)");
    const fromParent = await env.json<Branch & { resetTo: string }>([
      "branch",
      "reset",
      "ci",
      "--parent",
      "-f",
      "json",
    ]);
    assert.match(fromParent.resetTo, /^auto-/);
    assert.equal(
      await env.psql(before.port!, "select string_agg(n::text, ',' order by n) from t"),
      "1,2,3",
    );
    // its own named snapshot is refused without --force, and the default branch never resets
    await env.ok(["branch", "snapshot", "ci", "mine"]);
    assertCliError(
      await env.zvpg(["branch", "reset", "ci"]),
      1,
      /not reset: it holds snapshot\(s\) 'mine'/,
    );
    assertCliError(
      await env.zvpg(["branch", "reset", "main"]),
      1,
      /default branch: it has no origin/,
    );
    // --to its own snapshot: rolled back in place, on its port, the snapshot kept
    await env.psql(before.port!, "insert into t values (42)");
    const own = await env.json<Branch & { resetTo: string }>([
      "branch",
      "reset",
      "ci",
      "--to",
      "mine",
    ]);
    assert.equal(own.resetTo, "mine");
    assert.equal(own.port, before.port);
    assert.equal(
      await env.psql(before.port!, "select string_agg(n::text, ',' order by n) from t"),
      "1,2,3",
    );
    await env.ok(["branch", "reset", "ci", "--force", "--parent"]);
    const snaps = (await env.json<{ name: string }[]>(["snapshot", "list"])).map((s) => s.name);
    assert.ok(!snaps.includes("mine"));
    // only the auto snapshot the branch now uses is left of the automatic ones
    assert.equal(snaps.filter((s) => s.startsWith("auto-")).length, 1);
  },
);

itest(
  "gc: removes an expired branch; protected, default and depended-on ones survive; holds stop zfs destroy",
  async (env) => {
    await env.ok(["snapshot", "create", "base"]);
    const past = ["--expires-at", "2000-01-01T00:00:00Z", "--force"];
    await env.ok(["branch", "create", "old", "--from", "base", ...past]);
    await env.ok(["branch", "create", "kept", "--from", "base", ...past]);
    await env.ok(["branch", "protect", "kept"]);
    await env.ok(["branch", "create", "parent", "--from", "base", ...past]);
    await env.ok(["branch", "create", "child", "--parent", "parent"]);
    await env.ok(["branch", "create", "fresh", "--from", "base", "--ttl", "7d"]);
    const dry = await env.json<{ removedBranches: string[] }>(["gc", "--dry-run", "-f", "json"]);
    assert.deepEqual(dry.removedBranches, ["old"]);
    const gc = await env.json<
      { removedBranches: string[]; skipped: { name: string; reason: string }[] }
    >(
      ["gc", "-f", "json"],
    );
    assert.deepEqual(gc.removedBranches, ["old"]);
    const why = Object.fromEntries(gc.skipped.map((s) => [s.name, s.reason]));
    assert.match(why.kept, /protected/);
    assert.match(why.parent, /'child' depend/);
    const names = (await env.json<Branch[]>(["branch", "list"])).map((b) => b.name).sort();
    assert.deepEqual(names, ["child", "fresh", "kept", "main", "parent"]);
    // protection: refused by zvpg, and a hand-typed zfs destroy of its origin fails
    assertCliError(await env.zvpg(["branch", "delete", "kept"]), 1, /protected/);
    assertCliError(await env.zvpg(["branch", "reset", "kept"]), 1, /protected/);
    assertCliError(await env.zvpg(["branch", "expire", "kept", "never"]), 1, /protected/);
    await env.ok(["branch", "snapshot", "kept", "ks"]);
    const ds = `${env.pool}/clones/kept@ks`;
    const destroy = await sh("zfs", ["destroy", ds]);
    assert.notEqual(destroy.code, 0, "a held snapshot must not be destroyable");
    await env.ok(["branch", "unprotect", "kept"]);
    assert.equal((await sh("zfs", ["destroy", ds])).code, 0);
    await env.ok(["branch", "delete", "kept"]);
    // a create killed after its automatic snapshot: repair rolls it back, gc takes the snapshot
    const autos = async () =>
      (await env.json<{ name: string; auto: boolean }[]>(["snapshot", "list"]))
        .filter((s) => s.auto).map((s) => s.name);
    const before = await autos();
    const killed = await env.zvpg(["branch", "create", "k"], {
      ZVPG_FAULT: "branch.create.after-clone",
    });
    assert.notEqual(killed.code, 0);
    await env.zvpg(["status", "health", "--repair"]);
    const left = (await autos()).filter((s) => !before.includes(s));
    assert.equal(left.length, 1, "the killed create's automatic snapshot is left");
    const collected = await env.json<{ removedSnapshots: string[] }>(["gc", "-f", "json"]);
    assert.deepEqual(collected.removedSnapshots, left);
    assert.deepEqual(await autos(), before);
  },
);

itest(
  "branch reset: killed at each step, the branch is as it was or reset after status health --repair",
  async (env) => {
    const main = await env.port("main");
    await env.psql(main, "create table t (n int); insert into t values (1)");
    await env.ok(["snapshot", "create", "base"]);
    // the same data: a reset --to it swaps clones, a reset to the origin rolls back in place
    await env.ok(["snapshot", "create", "base2"]);
    await env.ok(["branch", "create", "r", "--from", "base"]);
    const port = await env.port("r");
    for (
      const point of [
        "branch.reset.before-rollback",
        "branch.reset.after-rollback",
        "branch.reset.after-clone",
        "branch.reset.mid-swap",
        "branch.reset.after-swap",
        "branch.reset.after-destroy-old",
      ]
    ) {
      await env.psql(port, "delete from t; insert into t values (5)");
      const inPlace = point.endsWith("-rollback");
      const killed = await env.zvpg(
        ["branch", "reset", "r", ...(inPlace ? [] : ["--to", "base2"])],
        { ZVPG_FAULT: point },
      );
      assert.notEqual(killed.code, 0, point);
      const health = await env.zvpg(["status", "health", "--repair"]);
      assert.match(health.stdout, /REPAIRED\s+branch 'r'/, `${point}: ${health.stdout}`);
      const info = await env.json<Branch>(["branch", "info", "r"]);
      assert.equal(info.status, "running", point);
      assert.equal(info.port, port, point);
      const rows = await env.psql(port, "select string_agg(n::text, ',') from t");
      // undone before the old data was gone (rolled back or destroyed), finished after
      const finished = point === "branch.reset.after-destroy-old" ||
        point === "branch.reset.after-rollback";
      assert.equal(rows, finished ? "1" : "5", point);
    }
    // Ctrl-C after the swap, while the new data is in place, and in place while the server
    // is stopped inside its container: the branch comes back as it was
    for (
      const [point, args] of [
        ["branch.reset.after-swap", ["--to", "base"]],
        ["branch.reset.before-rollback", []],
      ] as const
    ) {
      await env.psql(port, "delete from t; insert into t values (6)");
      const from = logSize(env);
      const reset = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", join(ROOT, "main.ts"), "branch", "reset", "r", ...args],
        env: { ZVPG_CONFIG_DIR: env.configDir, ZVPG_FAULT_DELAY: `${point}:2000` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await waitForLog(env, `fault point '${point}'`, 120_000, from);
      reset.kill("SIGINT");
      const out = await reset.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 130, `${point}: ${stderr}`);
      assert.match(stderr, /interrupted by SIGINT: removed what it had made/);
      const info = await env.json<Branch>(["branch", "info", "r"]);
      assert.equal(info.status, "running", point);
      assert.equal(info.port, port, point);
      assert.equal(await env.psql(port, "select string_agg(n::text, ',') from t"), "6", point);
      await assertHealthy(env, `after a reset interrupted at ${point}`);
    }
  },
);
