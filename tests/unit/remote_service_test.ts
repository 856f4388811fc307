/**
 * `remote add|list|remove` through the strict fake runner (add and list run no program;
 * remove reads the pool for what was pulled from the remote): the remotes file in the
 * config directory, its modes, its order, and the refusals.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, RemoteExistsError, RemoteNotFoundError } from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { createContext } from "../../src/cli/session.ts";
import { loadConfig } from "../../src/config/config.ts";
import { parseRemoteUrl, remotesFileText } from "../../src/domain/remote.ts";
import { withLock } from "../../src/runtime/lock.ts";
import { RemoteService } from "../../src/workflows/remote_service.ts";
import { testConfig, withTempDir, zfsTreeCall } from "./helpers.ts";

const url = parseRemoteUrl;
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

function setUp(dir: string) {
  const fake = new FakeRunner();
  const ctx = createContext(testConfig(dir), fake);
  return { fake, ctx, remotes: new RemoteService(ctx) };
}

Deno.test("remote add: writes remotes.json 0600 in the config directory, in order", async () => {
  await withTempDir(async (dir) => {
    const { fake, ctx, remotes } = setUp(dir);
    const old = Deno.umask(0);
    try {
      await remotes.add("origin", parseRemoteUrl("ssh://backup@db2:2222/tank/zvpg"));
      await remotes.add("usb", parseRemoteUrl("file:///media/usb/zvpg"));
    } finally {
      Deno.umask(old);
    }
    fake.assertDone();
    const file = ctx.layout.remotesFile;
    assert.equal(file, join(ctx.config.configDir, "remotes.json"));
    assert.equal(mode(file), "600");
    assert.equal(mode(join(ctx.config.configDir, "locks")), "700");
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), {
      remotes: [
        { name: "origin", url: "ssh://backup@db2:2222/tank/zvpg" },
        { name: "usb", url: "file:///media/usb/zvpg" },
      ],
    });
    assert.deepEqual(remotes.list().map((r) => r.name), ["origin", "usb"]);
  });
});

Deno.test("remote list: no remotes file is no remotes", async () => {
  await withTempDir((dir) => {
    const { ctx, remotes } = setUp(dir);
    assert.deepEqual(remotes.list(), []);
    assert.equal(existsSync(ctx.layout.remotesFile), false);
  });
});

Deno.test("remote add: a taken name is refused and the file is left as it was", async () => {
  await withTempDir(async (dir) => {
    const { ctx, remotes } = setUp(dir);
    await remotes.add("origin", parseRemoteUrl("ssh://db2"));
    const before = readFileSync(ctx.layout.remotesFile, "utf8");
    await assert.rejects(
      () => remotes.add("origin", parseRemoteUrl("file:///srv/x")),
      (e: unknown) => {
        assert.ok(e instanceof RemoteExistsError);
        assert.equal(e.exitCode, 1);
        assert.equal(e.message, "remote 'origin' exists already (ssh://db2)");
        assert.match(e.hint ?? "", /zvpg remote remove origin/);
        return true;
      },
    );
    assert.equal(readFileSync(ctx.layout.remotesFile, "utf8"), before);
  });
});

Deno.test("remote remove: removes only that remote and returns it", async () => {
  await withTempDir(async (dir) => {
    const { remotes, fake } = setUp(dir);
    await remotes.add("a", parseRemoteUrl("ssh://a"));
    await remotes.add("b", parseRemoteUrl("ssh://b"));
    await remotes.add("c", parseRemoteUrl("ssh://c"));
    // nothing pulled from it, on a host without the pool: only the name goes
    fake.expect(zfsTreeCall([], ["tpool/remotes/b"], ["type"]), {
      argv: ["zpool", "list", "-H", "-p", "-o", "name,health,size,allocated,free", "tpool"],
      result: { code: 1, stderr: "cannot open 'tpool': no such pool\n" },
    });
    const removed = await remotes.remove("b");
    fake.assertDone();
    assert.equal(removed.remote.url.href, "ssh://b");
    assert.deepEqual(remotes.list().map((r) => r.name), ["a", "c"]);
    await assert.rejects(() => remotes.remove("b"), RemoteNotFoundError);
  });
});

Deno.test("remote add: waits for the remotes lock and reads the list inside it", async () => {
  await withTempDir(async (dir) => {
    const { ctx, remotes } = setUp(dir);
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => held = r);
    // another zvpg holding the lock, which adds a remote of its own meanwhile
    const other = withLock({ lockFile: ctx.layout.remotesLockFile }, async () => {
      held();
      await new Promise<void>((r) => release = r);
      writeFileSync(ctx.layout.remotesFile, remotesFileText([{ name: "a", url: url("ssh://a") }]));
    });
    await isHeld;
    const adding = remotes.add("b", url("ssh://b"));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(existsSync(ctx.layout.remotesFile), false, "nothing written while locked");
    release();
    await other;
    await adding;
    assert.deepEqual(remotes.list().map((r) => r.name), ["a", "b"]);
  });
});

Deno.test("remote list: a remotes file it cannot read in full is an error naming it", async () => {
  await withTempDir((dir) => {
    const { ctx, remotes } = setUp(dir);
    writeFileSync(ctx.layout.remotesFile, '{"remotes": [{"name": "a", "url": "db2:/x"}]}');
    assert.throws(() => remotes.list(), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /^remotes file .*remotes\.json: remote 'a' has URL 'db2:\/x'/);
      assert.match(e.hint ?? "", /zvpg remote add/);
      return true;
    });
  });
});

Deno.test("remote add: a config directory given with -c keeps its mode", async () => {
  await withTempDir(async (dir) => {
    const shared = join(dir, "etc");
    mkdirSync(shared);
    chmodSync(shared, 0o755);
    writeFileSync(join(shared, "config.json"), JSON.stringify({ mountDir: join(dir, "mnt") }));
    const config = loadConfig({ configPath: join(shared, "config.json"), env: { HOME: dir } });
    const ctx = createContext(config, new FakeRunner());
    await new RemoteService(ctx).add("origin", parseRemoteUrl("ssh://db2"));
    assert.equal(ctx.layout.remotesFile, join(shared, "remotes.json"));
    assert.equal(mode(shared), "755");
    assert.equal(mode(ctx.layout.remotesFile), "600");
    assert.equal(existsSync(join(dir, "mnt")), false, "no pool directory is made");
  });
});
