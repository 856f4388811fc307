import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkRemoteDir, withRemoteDir } from "../../src/ops/remote_dir.ts";
import { ZvpgError } from "../../src/errors.ts";
import { withTempDir } from "./helpers.ts";

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

Deno.test("remote dir: a push makes a missing directory 0700; a pull needs it there", async () => {
  await withTempDir(async (base) => {
    const dir = join(base, "disk", "zvpg");
    assert.throws(() => checkRemoteDir(dir, "pull"), /remote directory .* does not exist/);
    assert.equal(existsSync(dir), false, "a pull makes nothing");
    await withRemoteDir(dir, "push", () => Promise.resolve());
    assert.equal(mode(dir), "700");
    assert.equal(mode(join(dir, ".lock")), "600");
  });
});

Deno.test("remote dir: an existing directory keeps its mode: /tmp or a disk's root is never closed", async () => {
  await withTempDir(async (base) => {
    const open = join(base, "usb");
    mkdirSync(open);
    chmodSync(open, 0o755);
    await withRemoteDir(open, "push", () => Promise.resolve());
    assert.equal(mode(open), "755", "others may still list it (every file in it is 0600)");
  });
});

Deno.test("remote dir: one others can write to, or another uid owns, is refused and left alone", async () => {
  await withTempDir(async (base) => {
    const shared = join(base, "tmp");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    for (const command of ["push", "pull"] as const) {
      assert.throws(() => checkRemoteDir(shared, command), (e: unknown) => {
        assert.ok(e instanceof ZvpgError);
        assert.match(e.message, /can be written by other users \(mode 777\)/);
        assert.match(e.hint ?? "", /chmod go-w/);
        return true;
      });
    }
    await assert.rejects(withRemoteDir(shared, "push", () => Promise.resolve()), /other users/);
    assert.equal(statSync(shared).mode & 0o7777, 0o1777, "its mode is untouched");
    assert.equal(existsSync(join(shared, ".lock")), false, "nothing is made in it");
    if (Deno.uid() === 0) {
      const theirs = join(base, "theirs");
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 65534, 65534);
      assert.throws(() => checkRemoteDir(theirs, "push"), /belongs to uid 65534/);
    }
  });
});

Deno.test("remote dir: a file is no remote directory", async () => {
  await withTempDir(async (base) => {
    const file = join(base, "f");
    await Deno.writeTextFile(file, "");
    assert.throws(() => checkRemoteDir(file, "push"), /is not a directory/);
  });
});
