/**
 * `zvpg clone` on real ZFS and PostgreSQL, into a second installation (its own pool,
 * config and ports): from a file remote and over a real ssh hop, main is a whole copy of
 * the remote's snapshot in `<pool>/data` (not a clone), listed as main's snapshot with the
 * remote's GUID, running with this host's password only; a clone that fails (a snapshot
 * the remote lacks, an unreachable host, Ctrl-C mid-way) leaves no pool and no config.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hostZfsFlavor, Zfs } from "../../src/adapters/zfs.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
import type { CloneJson, PushJson } from "../../src/cli/views.ts";
import { itest, sh, TestEnv } from "../support/itest.ts";
import { servingHost as serving } from "../support/remote_host.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

const DIGEST = "select count(*) || ' ' || md5(string_agg(v, ',' order by id)) from t";

const zfs = new Zfs(new DenoCommandRunner(), hostZfsFlavor());

/** The password of a pgpass file zvpg wrote. */
function passwordIn(passFile: string): string {
  return readFileSync(passFile, "utf8").trim().split(":").slice(4).join(":");
}

/** psql on `port` as zvpg's user with `password`; its exit code and stderr. */
async function loginWith(port: number, password: string): Promise<{ code: number; out: string }> {
  const r = await sh(
    "psql",
    ["-X", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-c", "select 1"],
    { PGPASSWORD: password, PGPASSFILE: "/dev/null" },
  );
  return { code: r.code, out: r.stdout + r.stderr };
}

/** What a clone `c` of `sender`'s snapshot `name` (GUID `guid`) must be. */
async function assertCloned(
  c: TestEnv,
  cloned: CloneJson,
  sender: TestEnv,
  name: string,
  digest: string,
): Promise<void> {
  const data = `${c.pool}/data`;
  assert.equal(cloned.snapshot, name);
  assert.equal(cloned.guid, await zfs.guid(`${sender.pool}/data@${name}`));
  assert.equal(await zfs.guid(`${data}@${name}`), cloned.guid, "the remote's GUID");
  // a whole copy, not a clone of anything: main depends on no remote-tracking dataset
  const props = await zfs.localProps(data, ["origin"]);
  assert.ok(["", "-", undefined].includes(props.origin?.value), `origin ${props.origin?.value}`);
  assert.equal(await zfs.exists(`${c.pool}/remotes`), false);
  // listed as main's snapshot, with the sender's message
  const list = await c.json<{ name: string; branch: string; message: string }[]>([
    "snapshot",
    "list",
  ]);
  const listed = list.find((s) => s.name === name);
  assert.equal(listed?.branch, "main", JSON.stringify(list));
  const port = await c.port("main");
  assert.equal(cloned.port, port);
  assert.doesNotMatch(JSON.stringify(cloned), new RegExp(passwordIn(c.passFile)));
  // the same rows; this host's password opens it, the sender's does not
  assert.equal(await c.psql(port, digest), await sender.psql(await sender.port("main"), digest));
  assert.notEqual(passwordIn(c.passFile), passwordIn(sender.passFile));
  assert.equal((await loginWith(port, passwordIn(c.passFile))).code, 0);
  const theirs = await loginWith(port, passwordIn(sender.passFile));
  assert.notEqual(theirs.code, 0, theirs.out);
  const health = await c.zvpg(["status", "health"]);
  assert.equal(health.code, 0, health.stdout + health.stderr);
}

/** Nothing of a failed clone is left: no pool, no pgpass, no remotes file, no directory. */
async function assertNothingMade(c: TestEnv): Promise<void> {
  const pools = await sh("zpool", ["list", "-H", "-o", "name"]);
  assert.equal(pools.stdout.split("\n").includes(c.pool), false, "no pool");
  assert.equal(existsSync(c.passFile), false, "no pgpass");
  assert.equal(existsSync(join(c.configDir, "remotes.json")), false, "no remotes file");
  assert.equal(existsSync(join(c.configDir, "locks")), false, "no lock directory");
  assert.equal(existsSync(c.mountDir), false, "no mount directory (the clone made it)");
}

itest(
  "clone from a file remote: main is a whole copy of the snapshot, this host's password",
  async (a) => {
    const mainA = await a.port("main");
    await a.psql(
      mainA,
      "create table t as select g as id, md5(g::text) as v from generate_series(1, 4000) g",
    );
    await a.ok(["snapshot", "create", "s1", "-m", "4000 rows"]);
    await a.psql(mainA, "insert into t select g, md5(g::text) from generate_series(4001, 5000) g");
    await a.ok(["snapshot", "create", "s2", "-m", "5000 rows"]);
    const dir = join(a.base, "remote");
    const url = `file://${dir}`;
    await a.ok(["remote", "add", "usb", url]);
    await a.json<PushJson>(["push", "usb", "s1"]);
    await a.json<PushJson>(["push", "usb", "s2"]);
    const digestAtS2 = await a.psql(mainA, DIGEST);

    const c = new TestEnv();
    try {
      // a snapshot the remote lacks: refused before anything is made
      const missing = await c.zvpg(["clone", url, "--snapshot", "s9"]);
      assert.equal(missing.code, 1, missing.stderr);
      assert.match(
        missing.stderr,
        /^error: remote 'origin' \(file:\/\/.*\) has no snapshot 's9' — /m,
      );
      assert.equal(
        missing.stderr.trim().split("\n").filter((l) => l.startsWith("error")).length,
        1,
      );
      assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");
      await assertNothingMade(c);

      const cloned = await c.json<CloneJson>(["clone", url]);
      assert.deepEqual(
        [cloned.remote, cloned.url, cloned.branch, cloned.snapshots],
        ["origin", url, "main", ["s1", "s2"]],
      );
      await a.psql(mainA, "insert into t values (5001, 'after s2')");
      await assertCloned(c, cloned, a, "s2", DIGEST.replace("from t", "from t where id <= 5000"));
      assert.equal(await c.psql(cloned.port, DIGEST), digestAtS2);
      const remotes = await c.json<{ name: string; url: string }[]>(["remote", "list"]);
      assert.deepEqual(remotes.map((r) => [r.name, r.url]), [["origin", url]]);

      // initialised: refused, naming the pool, nothing changed
      const before = await c.datasets();
      const again = await c.zvpg(["clone", url, "--origin", "other"]);
      assert.equal(again.code, 1, again.stderr);
      assert.match(again.stderr, new RegExp(`pool '${c.pool}' holds a zvpg environment already`));
      assert.deepEqual(await c.datasets(), before);

      // a push back to the remote is nothing to send: it holds s2 by GUID
      const back = await c.json<PushJson>(["push", "origin", "s2"]);
      assert.equal(back.pushed, false);
      // a new snapshot of the clone's main goes back as an increment from s2 (by GUID)
      await c.psql(cloned.port, "insert into t values (9001, 'from the clone')");
      await c.ok(["snapshot", "create", "s3", "-m", "from the clone"]);
      const s3 = await c.json<PushJson>(["push", "origin", "s3"]);
      assert.deepEqual([s3.pushed, s3.base], [true, "s2"]);
    } finally {
      await c.cleanup();
    }

    // Ctrl-C (SIGINT) once main's data is received: exit 130, everything undone
    const d = new TestEnv();
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", join(ROOT, "main.ts"), "clone", url, "--snapshot", "s1"],
        env: {
          ZVPG_CONFIG_DIR: d.configDir,
          ZVPG_FAULT_DELAY: "clone.after-receive:5000",
        },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const data = `${d.pool}/data@s1`;
      for (let i = 0; i < 600 && !(await zfs.exists(data).catch(() => false)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await zfs.exists(data), true, "received before the interrupt");
      child.kill("SIGINT");
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 130, stderr);
      await assertNothingMade(d);
    } finally {
      await d.cleanup();
    }
  },
);

itest(
  "clone over ssh: a snapshot of any branch becomes main; an unreachable host is one line",
  async (server) => {
    const serverMain = await server.port("main");
    await server.psql(
      serverMain,
      "create table t as select g as id, md5(g::text) as v from generate_series(1, 3000) g",
    );
    await server.ok(["snapshot", "create", "t1", "-m", "3000 rows"]);
    await server.ok(["branch", "create", "feature", "--from", "t1"]);
    await server.psql(await server.port("feature"), "insert into t values (3001, 'on feature')");
    await server.ok(["snapshot", "create", "f1", "--branch", "feature", "-m", "feature work"]);
    const host = await serving(server);
    const laptop = new TestEnv({ sshOptions: host.sshOptions() });
    const other = new TestEnv({ sshOptions: host.sshOptions() });
    try {
      const url = `ssh://root@${host.address}`;
      const cloned = await laptop.json<CloneJson>(["clone", url, "--origin", "staging"]);
      assert.deepEqual([cloned.remote, cloned.snapshot, cloned.branch], ["staging", "t1", "main"]);
      assert.ok(cloned.bytes > 0);
      assert.equal(await laptop.psql(cloned.port, DIGEST), await server.psql(serverMain, DIGEST));
      assert.equal(cloned.guid, await zfs.guid(`${server.pool}/data@t1`));
      assert.equal(await zfs.guid(`${laptop.pool}/data@t1`), cloned.guid);
      assert.notEqual(passwordIn(laptop.passFile), passwordIn(server.passFile));
      assert.equal((await loginWith(cloned.port, passwordIn(laptop.passFile))).code, 0);
      assert.notEqual((await loginWith(cloned.port, passwordIn(server.passFile))).code, 0);
      // fetch lists what the origin holds under the name it was registered with
      await laptop.ok(["fetch", "staging"]);

      // a snapshot of another branch of the remote: the new main is a copy of it
      const f = await other.json<CloneJson>(["clone", url, "--snapshot", "f1"]);
      assert.deepEqual([f.snapshot, f.branch], ["f1", "feature"]);
      assert.match(await other.psql(f.port, DIGEST), /^3001 /);
      const list = await other.json<{ name: string; branch: string }[]>(["snapshot", "list"]);
      assert.equal(list.find((s) => s.name === "f1")?.branch, "main");
    } finally {
      await laptop.cleanup();
      await other.cleanup();
      await host.close();
    }

    // an unreachable host: one line, exit 1, nothing made
    const lost = new TestEnv();
    try {
      const r = await lost.zvpg(["clone", "ssh://root@127.0.0.1:1"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^error: cannot reach remote 'origin' over ssh: .* — /m);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      await assertNothingMade(lost);
    } finally {
      await lost.cleanup();
    }
  },
);
