/**
 * Mounts: stale ZFS mounts (the ZFS service restarted) are found from the mount table and
 * `stat`, detached outermost first and mounted again; unmounted datasets are mounted.
 */
import assert from "node:assert/strict";
import { ZvpgError } from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { createContext } from "../../src/cli/session.ts";
import { ensureMounted, staleMountsOn } from "../../src/ops/mounts.ts";
import {
  type MountEntry,
  type MountTable,
  parseProcMounts,
  type PathState,
} from "../../src/adapters/mount_table.ts";
import { testConfig, withTempDir } from "./helpers.ts";

const ENOTCONN: PathState = { state: "stale", detail: "Transport endpoint is not connected" };

/** zfs-fuse after its daemon was killed: every mount of the pool is dead. */
const PROC_MOUNTS = [
  "/dev/vda1 / ext4 rw,relatime 0 0",
  "kstat /zfs-kstat fuse rw,nosuid,nodev,relatime,user_id=0,group_id=0,allow_other 0 0",
  "tpool/data /m/data fuse.zfs rw,relatime,user_id=0,group_id=0,default_permissions 0 0",
  "tpool/clones /m/clones fuse.zfs rw,relatime,user_id=0,group_id=0 0 0",
  "tpool/clones/b1 /m/clones/b1 fuse.zfs rw,relatime,user_id=0,group_id=0 0 0",
  "tpool/sockets /m/sock\\040dir fuse.zfs rw,relatime 0 0",
  "other/x /m/other zfs rw,xattr 0 0",
  "",
].join("\n");

/**
 * A fake host: a mount table that `umount -l` and `zfs mount` change, and stat answers
 * from it (a path under a dead mount is stale).
 */
function fakeHost(entries: MountEntry[], dead: Set<string>) {
  const table: MountTable = {
    entries: () => [...entries],
    stat: (path) => {
      const on = entries.filter((e) => path === e.target || path.startsWith(`${e.target}/`));
      return on.some((e) => dead.has(e.target)) ? ENOTCONN : { state: "ok" };
    },
  };
  const umount = (target: string) => () => {
    // a lazy unmount detaches the mount and every mount below it
    for (let i = entries.length - 1; i >= 0; i--) {
      const t = entries[i].target;
      if (t === target || t.startsWith(`${target}/`)) entries.splice(i, 1);
    }
  };
  const mount = (source: string, target: string) => () => {
    entries.push({ source, target, fstype: "fuse.zfs" });
    dead.delete(target);
  };
  return { table, umount, mount };
}

Deno.test("mounts: parseProcMounts decodes octal escapes and skips blank lines", () => {
  const entries = parseProcMounts(PROC_MOUNTS);
  assert.equal(entries.length, 7);
  assert.deepEqual(entries[5], {
    source: "tpool/sockets",
    target: "/m/sock dir",
    fstype: "fuse.zfs",
  });
});

Deno.test("mounts: staleMountsOn lists dead ZFS mounts at or above a path, outermost first", () => {
  const entries = parseProcMounts(PROC_MOUNTS);
  const dead = new Set(["/m/clones", "/m/clones/b1", "/m/data", "/zfs-kstat"]);
  const stat = (p: string): PathState => dead.has(p) ? ENOTCONN : { state: "ok" };
  assert.deepEqual(staleMountsOn(entries, "/m/clones/b1", stat).map((e) => e.target), [
    "/m/clones",
    "/m/clones/b1",
  ]);
  assert.deepEqual(staleMountsOn(entries, "/m/data/pgdata", stat).map((e) => e.target), [
    "/m/data",
  ]);
  // /m/clones2 is not below /m/clones; non-ZFS mounts are never touched
  assert.deepEqual(staleMountsOn(entries, "/m/clones2", stat), []);
  assert.deepEqual(staleMountsOn(entries, "/zfs-kstat", stat), []);
});

Deno.test("mounts: ensureMounted recovers stale mounts outermost first, then mounts the dataset", async () => {
  await withTempDir(async (dir) => {
    const entries = parseProcMounts(PROC_MOUNTS);
    const host = fakeHost(entries, new Set(["/m/clones", "/m/clones/b1"]));
    const fake = new FakeRunner();
    fake.expect(
      { argv: ["umount", "-l", "/m/clones"], check: host.umount("/m/clones") },
      { argv: ["zfs", "mount", "tpool/clones"], check: host.mount("tpool/clones", "/m/clones") },
      // b1 was detached with its parent: mounted again as an unmounted dataset
      {
        argv: ["zfs", "mount", "tpool/clones/b1"],
        check: host.mount("tpool/clones/b1", "/m/clones/b1"),
      },
    );
    const ctx = { ...createContext(testConfig(dir), fake), mounts: host.table };
    const outcome = await ensureMounted(ctx, "tpool/clones/b1", "/m/clones/b1");
    assert.equal(outcome, "recovered");
    fake.assertDone();
    // usable now: nothing more to do
    assert.equal(
      await ensureMounted(ctx, "tpool/clones/b1", "/m/clones/b1"),
      "usable",
    );
    fake.assertDone();
  });
});

Deno.test("mounts: ensureMounted mounts an unmounted dataset unless its evidence is there", async () => {
  await withTempDir(async (dir) => {
    const host = fakeHost([], new Set());
    const fake = new FakeRunner([
      { argv: ["zfs", "mount", "tpool/data"], check: host.mount("tpool/data", "/m/data") },
    ]);
    const ctx = { ...createContext(testConfig(dir), fake), mounts: host.table };
    assert.equal(
      await ensureMounted(ctx, "tpool/data", "/m/data", {
        evidence: `${dir}/nothing-here`,
      }),
      "mounted",
    );
    fake.assertDone();
    assert.equal(
      await ensureMounted(ctx, "tpool/clones/x", "/m/clones/x", { evidence: dir }),
      "usable",
    );
    fake.assertDone();
  });
});

Deno.test("mounts: ensureMounted fails in one line when the mountpoint still does not answer", async () => {
  await withTempDir(async (dir) => {
    const entries: MountEntry[] = [{ source: "tpool/data", target: "/m/data", fstype: "zfs" }];
    const table: MountTable = { entries: () => entries, stat: () => ENOTCONN };
    const fake = new FakeRunner([
      // umount -l keeps failing (nothing changes): zvpg gives up after a few rounds
      ...Array.from({ length: 5 }, () => ({
        argv: ["umount", "-l", "/m/data"],
        result: { code: 32, stderr: "umount: /m/data: not mounted.\n" },
      })),
    ]);
    const ctx = { ...createContext(testConfig(dir), fake), mounts: table };
    await assert.rejects(ensureMounted(ctx, "tpool/data", "/m/data"), (e: unknown) => {
      assert.ok(e instanceof ZvpgError);
      assert.match(e.message, /stale mount \/m\/data \(tpool\/data\) cannot be removed/);
      assert.match(e.hint ?? "", /umount -l \/m\/data/);
      return true;
    });
    fake.assertDone();
  });
});
