/**
 * The streams remotes will move, on real ZFS: a snapshot sent whole and then as an
 * increment into stream files, received into `<pool>/remotes/<remote>/…` unmounted, keeps
 * its GUIDs and every byte of its data directory; a send that fails leaves no file.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { hostZfsFlavor, Zfs } from "../../src/adapters/zfs.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
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

itest("zfs send to a file and receive from it keep the GUIDs and every byte", async (env) => {
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

  // the remote directory: each stream written under a temporary name, then renamed
  const dir = join(env.base, "remote");
  mkdirSync(dir);
  await zfs.sendToFile(s1, join(dir, "1.tmp"));
  renameSync(join(dir, "1.tmp"), join(dir, "1.zstream"));
  await zfs.sendToFile(s2, join(dir, "2.tmp"), { from: s1 });
  renameSync(join(dir, "2.tmp"), join(dir, "2.zstream"));
  const full = statSync(join(dir, "1.zstream"));
  const increment = statSync(join(dir, "2.zstream"));
  assert.equal((full.mode & 0o777).toString(8), "600");
  assert.ok(increment.size < full.size / 2, `increment ${increment.size} of ${full.size} bytes`);

  // a send that fails leaves no file behind
  await assert.rejects(() => zfs.sendToFile(`${s2}-missing`, join(dir, "3.tmp")));
  assert.equal(existsSync(join(dir, "3.tmp")), false);

  const target = `${env.pool}/remotes/origin/main`;
  await zfs.create(`${env.pool}/remotes`, { mountpoint: "none" });
  await zfs.create(`${env.pool}/remotes/origin`);
  await zfs.receiveFromFile(target, join(dir, "1.zstream"));
  await zfs.receiveFromFile(target, join(dir, "2.zstream"));
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
