/**
 * The base of the next push held on real ZFS: a push holds the pushed snapshot
 * (`zvpg-remote-<remote>`, recorded in `zvpg:remote-bases`), the next push moves the
 * hold; `snapshot delete` of the base is refused naming the remote and `--force` goes
 * on; gc keeps an expired branch holding one; `status health` finds a hold of a removed
 * remote, an empty tracking dataset and a dead push's stream file, and `--repair` removes
 * them.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostZfsFlavor, Zfs } from "../../src/adapters/zfs.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
import type { GcJson, PushJson } from "../../src/cli/views.ts";
import { assertCliError, itest, sh } from "../support/itest.ts";

/** The holds count and the remotes recorded on `snapshot`. */
async function held(snapshot: string): Promise<[string, string]> {
  const r = await sh("zfs", [
    ...["get", "-H", "-o", "property,value", "userrefs,zvpg:remote-bases", snapshot],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const values = Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split("\t")));
  return [values.userrefs, values["zvpg:remote-bases"]];
}

itest(
  "push holds the base of the next push; deletes refuse it; health repairs leftovers",
  async (env) => {
    const zfs = new Zfs(new DenoCommandRunner(), hostZfsFlavor());
    const data = `${env.pool}/data`;
    await env.ok(["snapshot", "create", "s1", "-m", "first"]);
    await env.ok(["snapshot", "create", "s2", "-m", "second"]);
    const dir = join(env.base, "backup");
    await env.ok(["remote", "add", "backup", `file://${dir}`]);

    // the push holds what it pushed: ZFS itself refuses to destroy it
    await env.json<PushJson>(["push", "backup", "s1"]);
    assert.deepEqual(await held(`${data}@s1`), ["1", "backup"]);
    const destroy = await sh("zfs", ["destroy", `${data}@s1`]);
    assert.match(destroy.stderr, /busy/);

    // the next push moves the hold on
    const p2 = await env.json<PushJson>(["push", "backup", "s2"]);
    assert.equal(p2.base, "s1");
    assert.deepEqual(await held(`${data}@s2`), ["1", "backup"]);
    assert.deepEqual(await held(`${data}@s1`), ["0", "-"]);

    // deleting the base is refused, naming it and the remote, and nothing changes
    assertCliError(
      await env.zvpg(["snapshot", "delete", "s2"]),
      1,
      /^error: snapshot 's2' is the base of the next push to remote 'backup' — push again first, or pass --force/,
    );
    assert.equal(await zfs.exists(`${data}@s2`), true);
    // the old base is free to go
    await env.ok(["snapshot", "delete", "s1"]);

    // a push killed between holding the new base and releasing the old leaves both held;
    // pushing it again (the remote has it) finishes the move
    await env.ok(["snapshot", "create", "s3", "-m", "third"]);
    const killed = await env.zvpg(["push", "backup", "s3"], {
      ZVPG_FAULT: "remote.base.after-hold",
    });
    assert.notEqual(killed.code, 0, "killed at remote.base.after-hold");
    assert.deepEqual(await held(`${data}@s2`), ["1", "backup"]);
    assert.deepEqual(await held(`${data}@s3`), ["1", "backup"]);
    const again = await env.json<PushJson>(["push", "backup", "s3"]);
    assert.equal(again.pushed, false);
    assert.deepEqual(await held(`${data}@s2`), ["0", "-"]);
    assert.deepEqual(await held(`${data}@s3`), ["1", "backup"]);
    // an older snapshot the remote holds never takes the base back
    await env.json<PushJson>(["push", "backup", "s2"]);
    assert.deepEqual(await held(`${data}@s2`), ["0", "-"]);
    await env.ok(["snapshot", "delete", "s2"]);

    // --force releases the hold and deletes it
    await env.ok(["snapshot", "delete", "s3", "--force"]);
    assert.equal(await zfs.exists(`${data}@s3`), false);

    // gc keeps an expired branch holding a base, and says why
    await env.ok(["branch", "create", "tmp"]);
    await env.ok(["branch", "snapshot", "tmp", "t1", "-m", "on tmp"]);
    await env.json<PushJson>(["push", "backup", "t1"]);
    await env.ok(["branch", "expire", "tmp", "2020-01-01T00:00:00Z", "--force"]);
    const gc = await env.json<GcJson>(["gc"]);
    assert.deepEqual(gc.removedBranches, []);
    const kept = gc.skipped.find((s) => s.name === "tmp");
    assert.deepEqual(kept?.remotes, ["backup"]);
    assert.match(
      kept?.reason ?? "",
      /its snapshot 't1' is the base of the next push to remote 'backup'/,
    );
    const tmpDataset = `${env.pool}/clones/tmp`;
    assert.equal(await zfs.exists(`${tmpDataset}@t1`), true);

    // leftovers: a hold of a removed remote, a tracking dataset a receive never finished,
    // the temporary stream of a push whose zvpg is dead
    await env.ok(["remote", "remove", "backup"]);
    const usb = join(env.base, "usb");
    mkdirSync(usb, { mode: 0o700 });
    await env.ok(["remote", "add", "usb", `file://${usb}`]);
    const stream = join(usb, ".111.zstream.4194999.tmp");
    writeFileSync(stream, "cut short", { mode: 0o600 });
    const remotes = `${env.pool}/remotes`;
    for (const [ds, props] of [[remotes, ["-o", "mountpoint=none"]], [`${remotes}/usb`, []]]) {
      assert.equal((await sh("zfs", ["create", ...props as string[], ds as string])).code, 0);
    }
    const empty = `${remotes}/usb/main`;
    assert.equal((await sh("zfs", ["create", empty])).code, 0);

    const health = await env.zvpg(["status", "health"]);
    assert.equal(health.code, 1, health.stdout + health.stderr);
    assert.match(health.stdout, new RegExp(`${empty} holds no snapshot`));
    assert.match(health.stdout, /clones\/tmp@t1 is held for remote 'backup', which is no longer/);
    assert.match(health.stdout, /\.111\.zstream\.4194999\.tmp is the temporary stream of a push/);

    const repair = await env.json<{ repairs: { target: string; ok: boolean }[] }>(
      ["status", "health", "--repair"],
    );
    assert.deepEqual(repair.repairs.map((r) => [r.target, r.ok]), [
      [`dataset ${empty}`, true],
      [`snapshot ${tmpDataset}@t1`, true],
      [`file ${stream}`, true],
    ]);
    assert.equal(await zfs.exists(empty), false);
    assert.equal(existsSync(stream), false);
    assert.deepEqual(await held(`${tmpDataset}@t1`), ["0", "-"]);
    const after = await env.zvpg(["status", "health"]);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    // nothing holds the branch any more: gc takes it once its named snapshot goes
    await env.ok(["snapshot", "delete", "t1"]);
    const gc2 = await env.json<GcJson>(["gc"]);
    assert.deepEqual(gc2.removedBranches, ["tmp"]);
  },
);
