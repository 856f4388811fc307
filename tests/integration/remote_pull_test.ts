/**
 * `zvpg pull` from a file remote on real ZFS, into a second installation (its own pool,
 * config and ports): s1 pushed whole and s2 as an increment arrive in
 * `<pool>/remotes/origin/main` read-only and mounted nowhere, with their GUIDs and zvpg
 * metadata; a pull killed at its fault point, and one whose stream is cut short, leave
 * nothing the next pull trips on; `branch create --from origin/s2` there serves the
 * sender's rows with this pool's password.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { hostZfsFlavor, Zfs } from "../../src/adapters/zfs.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
import type { PullJson, PushJson } from "../../src/cli/views.ts";
import { itest, TestEnv } from "../support/itest.ts";
import { watchProcesses } from "../support/process_watch.ts";

/** A second installation on this host, initialised; cleaned up by the caller. */
async function secondEnv(): Promise<TestEnv> {
  const other = new TestEnv();
  await other.ok(["init", "env"]);
  return other;
}

itest("pull from a file remote into a second pool: increments by GUID, killed pulls", async (a) => {
  const zfs = new Zfs(new DenoCommandRunner(), hostZfsFlavor());
  const mainA = await a.port("main");
  await a.psql(
    mainA,
    "create table t as select g as id, md5(g::text) as v from generate_series(1, 5000) g",
  );
  await a.ok(["snapshot", "create", "s1", "-m", "5000 rows"]);
  await a.psql(mainA, "insert into t select g, md5(g::text) from generate_series(5001, 6000) g");
  await a.ok(["snapshot", "create", "s2", "-m", "6000 rows"]);
  const dir = join(a.base, "remote");
  const url = `file://${dir}`;
  await a.ok(["remote", "add", "origin", url]);
  const p1 = await a.json<PushJson>(["push", "origin", "s1"]);
  const p2 = await a.json<PushJson>(["push", "origin", "s2"]);
  assert.deepEqual([p1.base, p2.base], [null, "s1"]);

  const b = await secondEnv();
  try {
    await b.ok(["remote", "add", "origin", url]);
    const tracking = `${b.pool}/remotes/origin/main`;

    // killed after the first stream was received, before its metadata: the next pull
    // describes it and goes on with the increment only
    const killed = await b.zvpg(["pull", "origin", "s2"], { ZVPG_FAULT: "pull.after-receive" });
    assert.notEqual(killed.code, 0, "killed at pull.after-receive");
    assert.equal(await zfs.guid(`${tracking}@s1`), p1.guid);
    assert.equal(await zfs.exists(`${tracking}@s2`), false);
    const pulled = await b.json<PullJson>(["pull", "origin", "s2"]);
    assert.deepEqual(
      [pulled.pulled, pulled.streams, pulled.bytes, pulled.guid, pulled.zfsName],
      [true, 1, p2.bytes, p2.guid, `${tracking}@s2`],
    );
    for (
      const [name, guid, message] of [["s1", p1.guid, "5000 rows"], ["s2", p2.guid, "6000 rows"]]
    ) {
      const snap = `${tracking}@${name}`;
      assert.equal(await zfs.guid(snap), guid, snap);
      const props = await zfs.userProps(snap);
      assert.equal(props?.["zvpg:message"], message, snap);
      assert.equal(props?.["zvpg:branch"], "main", snap);
      assert.ok(props?.["zvpg:taken"], snap);
    }
    const props = await zfs.localProps(tracking, ["readonly", "mounted", "mountpoint"]);
    assert.deepEqual(
      [props.readonly.value, props.mounted.value, props.mountpoint.value],
      ["on", "no", "none"],
    );
    // the pulled snapshots are listed as origin/<name> only: no bare s1 or s2
    const list = await b.json<{ name: string }[]>(["snapshot", "list"]);
    assert.equal(list.some((s) => s.name === "s1" || s.name === "s2"), false);

    // the same again: nothing pulled
    const again = await b.json<PullJson>(["pull", "origin", "s2"]);
    assert.deepEqual([again.pulled, again.streams, again.bytes], [false, 0, 0]);

    // a branch from the pulled snapshot: a clone of it with its own container and port,
    // reached with this pool's password (b's pgpass), the same rows as the sender's s2
    const missing = await b.zvpg(["branch", "create", "y", "--from", "origin/s9"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /snapshot 's9' of remote 'origin' is not here — pull it first/);
    // this pool's password goes on as a SCRAM verifier, which no process list ever shows
    const password = readFileSync(b.passFile, "utf8").trim().split(":").slice(4).join(":");
    const watched = await watchProcesses(
      new RegExp(`SCRAM-SHA-256\\$|${password.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
      () =>
        b.json<{ dataset: string; port: number; parent: string }>(
          ["branch", "create", "x", "--from", "origin/s2"],
        ),
    );
    assert.deepEqual(watched.seen, [], "a verifier or the password in an argv or environment");
    assert.ok(watched.polls > 3, `the process list was read ${watched.polls} times`);
    const x = watched.result;
    assert.equal(x.parent, "origin/main");
    const origin = await zfs.localProps(x.dataset, ["origin"]);
    assert.equal(origin.origin.value, `${tracking}@s2`);
    const digest = "select count(*) || ' ' || md5(string_agg(v, ',' order by id)) from t";
    await a.psql(mainA, "insert into t values (6001, 'after s2')");
    await a.ok(["branch", "create", "s2-here", "--from", "s2"]);
    const sent = await a.psql(await a.port("s2-here"), digest);
    assert.match(sent, /^6000 /);
    assert.equal(await b.psql(x.port, digest), sent);
    // only this pool's password opens it: the sender's is not b's
    assert.notEqual(readFileSync(a.passFile, "utf8"), readFileSync(b.passFile, "utf8"));
    const health = await b.zvpg(["status", "health"]);
    assert.equal(health.code, 0, health.stdout + health.stderr);
    await b.ok(["branch", "delete", "x", "--force"]);
    assert.equal(await zfs.exists(`${tracking}@s2`), true, "the pulled snapshot stays");
  } finally {
    await b.cleanup();
  }

  // a stream cut short: the receive fails, nothing half-received is left, and the next
  // pull (with the whole stream back) receives it
  const c = await secondEnv();
  try {
    await c.ok(["remote", "add", "origin", url]);
    const stream = join(dir, `${p1.guid}.zstream`);
    const saved = join(a.base, "s1.saved");
    copyFileSync(stream, saved);
    truncateSync(stream, Math.floor(readFileSync(stream).length / 2));
    const cut = await c.zvpg(["pull", "origin", "s1"]);
    assert.equal(cut.code, 1, cut.stderr);
    assert.match(cut.stderr, /^error: cannot receive snapshot 's1' of remote 'origin' from .* — /m);
    const left = (await c.datasets()).filter((d) => d.includes("/remotes/origin/"));
    assert.deepEqual(left, [], "nothing half-received");
    copyFileSync(saved, stream);
    const whole = await c.json<PullJson>(["pull", "origin", "s2"]);
    assert.deepEqual([whole.pulled, whole.streams], [true, 2]);
  } finally {
    await c.cleanup();
  }
});
