/**
 * Private files and directories: explicit modes whatever the umask, existing paths
 * tightened, and a log file that stays 0600 however often it is appended to.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Logger } from "../../src/runtime/log.ts";
import {
  ensurePrivateDir,
  ensurePrivateFile,
  writePrivateFile,
} from "../../src/runtime/private_fs.ts";
import { withTempDir } from "./helpers.ts";

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** Runs `fn` with umask 000, so only explicit modes count. */
function withUmask0<T>(fn: () => T): T {
  const old = Deno.umask(0);
  try {
    return fn();
  } finally {
    Deno.umask(old);
  }
}

Deno.test("ensurePrivateDir: new directories and their new parents are 0700", async () => {
  await withTempDir((dir) => {
    withUmask0(() => {
      assert.equal(ensurePrivateDir(join(dir, "a", "b", "c")), true);
      for (const d of ["a", "a/b", "a/b/c"]) assert.equal(mode(join(dir, d)), "700", d);
      assert.equal(ensurePrivateDir(join(dir, "a", "b", "c")), false);
    });
  });
});

Deno.test("ensurePrivateDir: an existing directory is tightened unless told not to", async () => {
  await withTempDir((dir) => {
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o755);
    ensurePrivateDir(open, { fixExisting: false });
    assert.equal(mode(open), "755");
    ensurePrivateDir(open);
    assert.equal(mode(open), "700");
  });
});

Deno.test("ensurePrivateFile and writePrivateFile: 0600 whatever the umask, old files fixed", async () => {
  await withTempDir((dir) => {
    withUmask0(() => {
      const file = join(dir, "f");
      ensurePrivateFile(file);
      assert.equal(mode(file), "600");
      writeFileSync(join(dir, "old"), "x");
      chmodSync(join(dir, "old"), 0o666);
      ensurePrivateFile(join(dir, "old"));
      assert.equal(mode(join(dir, "old")), "600");
      writePrivateFile(join(dir, "w"), "secret");
      assert.equal(mode(join(dir, "w")), "600");
      assert.equal(Deno.readTextFileSync(join(dir, "w")), "secret");
    });
  });
});

Deno.test("Logger: zvpg.log is 0600 and stays so as lines are appended; an old 0666 one is fixed", async () => {
  await withTempDir((dir) => {
    withUmask0(() => {
      const logDir = join(dir, "log");
      const logger = new Logger();
      logger.setLevel("ERROR");
      logger.setLogDir(logDir);
      logger.info("one");
      logger.debug("two");
      assert.equal(mode(logDir), "700");
      assert.equal(mode(join(logDir, "zvpg.log")), "600");
      assert.match(Deno.readTextFileSync(join(logDir, "zvpg.log")), /INFO one\n.*DEBUG two\n/);
      chmodSync(join(logDir, "zvpg.log"), 0o666);
      const again = new Logger();
      again.setLevel("ERROR");
      again.setLogDir(logDir);
      again.info("three");
      assert.equal(mode(join(logDir, "zvpg.log")), "600");
    });
  });
});
