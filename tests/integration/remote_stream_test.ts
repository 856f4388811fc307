/**
 * `zvpg push` to a file remote on real ZFS: a snapshot sent whole, the next as an
 * increment, the same again not at all; its streams, received into
 * `<pool>/remotes/<remote>/…` unmounted, keep the GUIDs and every byte of the data
 * directory; a send that fails leaves no file.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { hostZfsFlavor, Zfs } from "../../src/adapters/zfs.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
import type { PushJson } from "../../src/cli/views.ts";
import { itest } from "../support/itest.ts";

/** Every file under `root` with the SHA-256 of its bytes (symlinks by their target). */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const key = relative(root, path);
      if (entry.isDirectory()) walk(path);
      else if (entry.isSymbolicLink()) out[key] = `-> ${Deno.readLinkSync(path)}`;
      else out[key] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  walk(root);
  return out;
}

itest("push to a file remote, then receive: the same GUIDs and every byte", async (env) => {
  const zfs = new Zfs(new DenoCommandRunner(), hostZfsFlavor());
  const main = await env.port("main");
  await env.psql(
    main,
    "create table t as select g as id, md5(g::text) as v from generate_series(1, 5000) g",
  );
  await env.ok(["snapshot", "create", "s1", "-m", "5000 rows"]);
  await env.psql(main, "insert into t select g, md5(g::text) from generate_series(5001, 6000) g");
  await env.ok(["snapshot", "create", "s2", "-m", "6000 rows"]);
  const s1 = (await env.json<{ zfsName: string }>(["snapshot", "info", "s1"])).zfsName;
  const s2 = (await env.json<{ zfsName: string }>(["snapshot", "info", "s2"])).zfsName;

  // zvpg push to a file remote: s1 whole, s2 as an increment from s1, s2 again nothing
  const dir = join(env.base, "remote");
  await env.ok(["remote", "add", "usb", `file://${dir}`]);
  const first = await env.json<PushJson>(["push", "usb", "s1"]);
  const second = await env.json<PushJson>(["push", "usb", "s2"]);
  const again = await env.json<PushJson>(["push", "usb", "s2"]);
  assert.deepEqual([first.pushed, first.base], [true, null]);
  assert.deepEqual([second.pushed, second.base], [true, "s1"]);
  assert.deepEqual([again.pushed, again.bytes], [false, 0]);
  assert.equal(first.guid, await zfs.guid(s1));
  assert.equal(second.guid, await zfs.guid(s2));
  assert.ok(second.bytes < first.bytes / 2, `increment ${second.bytes} of ${first.bytes} bytes`);
  const refs = JSON.parse(readFileSync(join(dir, "refs.json"), "utf8")).refs;
  assert.deepEqual(
    refs.map((
      r: { name: string; base: string | null; branch: string },
    ) => [r.name, r.base, r.branch]),
    [["s1", null, "main"], ["s2", first.guid, "main"]],
  );
  assert.equal((statSync(dir).mode & 0o777).toString(8), "700");
  for (const r of refs) {
    assert.equal((statSync(join(dir, r.stream)).mode & 0o777).toString(8), "600");
    assert.equal(statSync(join(dir, r.stream)).size, r.name === "s1" ? first.bytes : second.bytes);
  }
  assert.deepEqual(
    readdirSync(dir).sort(),
    [".lock", ...refs.map((r: { stream: string }) => r.stream), "refs.json"].sort(),
  );

  // killed between the stream and the index: no ref names it, and the push is done again
  await env.ok(["snapshot", "create", "s3", "-m", "after s2"]);
  const killed = await env.zvpg(["push", "usb", "s3"], { ZVPG_FAULT: "push.after-stream" });
  assert.notEqual(killed.code, 0, "killed at push.after-stream");
  const before = JSON.parse(readFileSync(join(dir, "refs.json"), "utf8")).refs;
  assert.deepEqual(before.map((r: { name: string }) => r.name), ["s1", "s2"]);
  const redone = await env.json<PushJson>(["push", "usb", "s3"]);
  assert.deepEqual([redone.pushed, redone.base], [true, "s2"]);
  const after = JSON.parse(readFileSync(join(dir, "refs.json"), "utf8")).refs;
  assert.deepEqual(after.map((r: { name: string }) => r.name), ["s1", "s2", "s3"]);

  // a send that fails leaves no file behind
  await assert.rejects(() => zfs.sendToFile(`${s2}-missing`, join(env.base, "3.tmp")));
  assert.equal(existsSync(join(env.base, "3.tmp")), false);

  const target = `${env.pool}/remotes/origin/main`;
  await zfs.create(`${env.pool}/remotes`, { mountpoint: "none" });
  await zfs.create(`${env.pool}/remotes/origin`);
  for (const r of refs) {
    const file = await Deno.open(join(dir, r.stream));
    await zfs.receiveStream(`${target}@${r.name}`, file.readable);
  }
  await zfs.set(target, { readonly: "on" });
  const snapName = (full: string) => full.slice(full.indexOf("@"));
  for (const source of [s1, s2]) {
    const received = `${target}${snapName(source)}`;
    assert.equal(await zfs.guid(received), await zfs.guid(source), received);
  }
  const props = await zfs.localProps(target, ["readonly", "mounted"]);
  assert.equal(props.readonly.value, "on");
  assert.equal(props.mounted.value, "no", "received unmounted (-u)");

  // the data directory at s2, as sent and as received: the same files, byte for byte
  const mounts: string[] = [];
  for (const [snapshot, name] of [[s2, "cmp-sent"], [`${target}${snapName(s2)}`, "cmp-recv"]]) {
    const mountpoint = join(env.base, name);
    await zfs.clone(snapshot, `${env.pool}/${name}`, { mountpoint });
    await zfs.mount(`${env.pool}/${name}`);
    mounts.push(mountpoint);
  }
  const [sent, received] = mounts.map(tree);
  assert.ok(Object.keys(sent).some((f) => f.endsWith("pgdata/PG_VERSION")), "a data directory");
  assert.ok(Object.keys(sent).length > 500, `${Object.keys(sent).length} files`);
  assert.deepEqual(received, sent);
  assert.equal(await env.psql(main, "select count(*) from t"), "6000");
});
