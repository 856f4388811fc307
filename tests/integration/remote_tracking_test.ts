/**
 * Snapshots pulled from a remote on real ZFS, in a second installation: `snapshot list`
 * and `log` show them as `<remote>/<name>` after this pool's own; `snapshot delete` and
 * `remote remove` refuse, naming it, while a branch is cloned from one, release the
 * `zvpg-remote-*` holds and destroy them (the tracking dataset with its last snapshot);
 * `remote remove` takes `<pool>/remotes/<remote>` with it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { hostZfsFlavor, Zfs } from "../../src/adapters/zfs.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
import type {
  LogJson,
  PullJson,
  RemoteRemovedJson,
  SnapshotDeleteJson,
  SnapshotJson,
} from "../../src/cli/views.ts";
import { itest, TestEnv } from "../support/itest.ts";

itest("pulled snapshots: listed, logged, deleted, pruned with their remote", async (a) => {
  const zfs = new Zfs(new DenoCommandRunner(), hostZfsFlavor());
  const mainA = await a.port("main");
  await a.psql(mainA, "create table t as select g as id from generate_series(1, 100) g");
  await a.ok(["snapshot", "create", "s1", "-m", "100 rows"]);
  await a.psql(mainA, "insert into t select g from generate_series(101, 200) g");
  await a.ok(["snapshot", "create", "s2", "-m", "200 rows"]);
  const url = `file://${join(a.base, "remote")}`;
  await a.ok(["remote", "add", "origin", url]);
  await a.ok(["push", "origin", "s1"]);
  await a.ok(["push", "origin", "s2"]);

  const b = new TestEnv();
  try {
    await b.ok(["init", "env"]);
    await b.ok(["snapshot", "create", "mine", "-m", "b's own"]);
    await b.ok(["remote", "add", "origin", url]);
    const pulled = await b.json<PullJson>(["pull", "origin", "s2"]);
    assert.equal(pulled.streams, 2);
    const tracking = `${b.pool}/remotes/origin/main`;

    // listed after this pool's own, as <remote>/<name> on <remote>/<branch>
    const list = await b.json<SnapshotJson[]>(["snapshot", "list"]);
    assert.deepEqual(
      list.map((s) => [s.name, s.branch, s.remote, s.message, s.zfsName]),
      [
        ["mine", "main", null, "b's own", `${b.pool}/data@mine`],
        ["origin/s1", "origin/main", "origin", "100 rows", `${tracking}@s1`],
        ["origin/s2", "origin/main", "origin", "200 rows", `${tracking}@s2`],
      ],
    );
    const tracked = await b.json<SnapshotJson[]>(["snapshot", "list", "--branch", "origin/main"]);
    assert.deepEqual(tracked.map((s) => s.name), ["origin/s1", "origin/s2"]);
    const info = await b.json<SnapshotJson>(["snapshot", "info", "origin/s1"]);
    assert.equal(info.zfsName, `${tracking}@s1`);

    // a branch made from one forks from it in the log
    const x = await b.json<{ name: string; origin: string }>(
      ["branch", "create", "x", "--from", "origin/s2"],
    );
    assert.equal(x.origin, "origin/s2");
    const log = await b.json<LogJson>(["log"]);
    const node = (name: string) => log.nodes.find((n) => n.name === name);
    assert.deepEqual(
      [node("x")?.parent, node("x")?.origin, node("origin/s2")?.parent, node("origin/s1")?.parent],
      [`${tracking}@s2`, "origin/s2", `${tracking}@s1`, null],
    );
    assert.equal(node("origin/s2")?.remote, "origin");
    assert.equal(node("origin/s2")?.branch, "origin/main");
    const completed = await b.zvpg(["__complete", "--", "branch", "create", "y", "--from", "or"]);
    assert.equal(completed.stdout, "origin/s1\norigin/s2\n");

    // the newest pulled snapshot is the base of the next pull: refused, naming the remote
    const refused = await b.zvpg(["snapshot", "delete", "origin/s2"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error: snapshot 'origin\/s2' is the base of the next transfer with remote 'origin' — /,
    );
    // refused, naming the branch, while it is cloned from one; nothing changes
    const kept = await b.zvpg(["remote", "remove", "origin"]);
    assert.equal(kept.code, 1);
    assert.match(
      kept.stderr,
      /^error: remote 'origin' has branches made from its snapshots: x \(from origin\/s2\) — /,
    );
    assert.equal(kept.stderr.trim().split("\n").length, 1, kept.stderr);
    assert.equal(await zfs.exists(`${tracking}@s2`), true);
    const remotes = await b.json<{ name: string }[]>(["remote", "list"]);
    assert.deepEqual(remotes.map((r) => r.name), ["origin"]);

    // a held base is released and destroyed; the dataset stays while s2 is there
    await zfs.hold("zvpg-remote-origin", `${tracking}@s1`);
    const deleted = await b.json<SnapshotDeleteJson>(["snapshot", "delete", "origin/s1"]);
    assert.deepEqual([deleted.snapshot, deleted.remote, deleted.removedDatasets], [
      "origin/s1",
      "origin",
      [],
    ]);
    assert.equal(await zfs.exists(`${tracking}@s1`), false);

    // once the branch is gone, the last snapshot takes its tracking dataset
    await b.ok(["branch", "delete", "x", "--force"]);
    await zfs.hold("zvpg-remote-origin", `${tracking}@s2`);
    const last = await b.json<SnapshotDeleteJson>(["snapshot", "delete", "origin/s2", "--force"]);
    assert.deepEqual(last.removedDatasets, [tracking]);
    assert.equal(await zfs.exists(tracking), false);
    const after = await b.json<SnapshotJson[]>(["snapshot", "list"]);
    assert.deepEqual(after.map((s) => s.name), ["mine"]);

    // pulled again, then the remote goes with everything pulled from it; one killed
    // between the destroy and the name leaves the name, and running it again finishes
    await b.ok(["pull", "origin", "s2"]);
    await zfs.hold("zvpg-remote-origin", `${tracking}@s2`);
    const killed = await b.zvpg(["remote", "remove", "origin"], {
      ZVPG_FAULT: "remote.remove.after-destroy",
    });
    assert.notEqual(killed.code, 0, "killed at remote.remove.after-destroy");
    assert.equal(await zfs.exists(`${b.pool}/remotes/origin`), false);
    assert.deepEqual((await b.json<{ name: string }[]>(["remote", "list"])).map((r) => r.name), [
      "origin",
    ]);
    const removed = await b.json<RemoteRemovedJson>(["remote", "remove", "origin"]);
    assert.deepEqual([removed.name, removed.removedSnapshots], ["origin", []]);
    assert.deepEqual(await b.json<unknown[]>(["remote", "list"]), []);
    assert.deepEqual((await b.json<SnapshotJson[]>(["snapshot", "list"])).map((s) => s.name), [
      "mine",
    ]);
    const health = await b.zvpg(["status", "health"]);
    assert.equal(health.code, 0, health.stdout + health.stderr);
  } finally {
    await b.cleanup();
  }
});
