/**
 * Before `init env` commands say "not initialised"; a pool that is only exported is
 * reported as not imported, with how to import it.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotInitializedError, PoolNotImportedError } from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { createContext } from "../../src/cli/session.ts";
import { loadInitializedInventory } from "../../src/ops/store/load_inventory.ts";
import {
  assertOneLine,
  dockerPsCall,
  POOL,
  testConfig,
  withTempDir,
  zfsGetMissingCall,
} from "./helpers.ts";

const noPool = {
  argv: ["zpool", "list", "-H", "-p", "-o", "name,health,size,allocated,free", POOL],
  result: { code: 1, stderr: `cannot open '${POOL}': no such pool\n` },
};

Deno.test("guards: an exported file-backed pool is 'not imported', with the fix", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([zfsGetMissingCall(), dockerPsCall(""), noPool]);
    const ctx = createContext(testConfig(dir), fake);
    writeFileSync(ctx.layout.poolImage, "");
    await assert.rejects(loadInitializedInventory(ctx, "branch list"), (e: unknown) => {
      assert.ok(e instanceof PoolNotImportedError, String(e));
      assert.equal(e.message, `branch list: pool '${POOL}' is not imported`);
      assert.match(e.hint ?? "", /zvpg init env/);
      assert.ok(e.hint?.includes(`zpool import -d ${ctx.config.mountDir} ${POOL}`), e.hint);
      assertOneLine(e.message);
      return true;
    });
    fake.assertDone();
  });
});

Deno.test("guards: an exported device pool is found with 'zpool import -d'", async () => {
  await withTempDir(async (dir) => {
    const device = join(dir, "disks", "sdz");
    const listing = `   pool: ${POOL}\n     id: 123\n  state: ONLINE\n action: ...\n`;
    const fake = new FakeRunner([
      zfsGetMissingCall(),
      dockerPsCall(""),
      noPool,
      { argv: ["zpool", "import", "-d", join(dir, "disks")], result: { stdout: listing } },
    ]);
    const ctx = createContext(testConfig(dir, { zfsPoolDevice: device }), fake);
    await assert.rejects(loadInitializedInventory(ctx, "branch list"), PoolNotImportedError);
    fake.assertDone();

    // another pool there: this one was never made
    const other = new FakeRunner([
      zfsGetMissingCall(),
      dockerPsCall(""),
      noPool,
      {
        argv: ["zpool", "import", "-d", join(dir, "disks")],
        result: { stdout: "   pool: otherpool\n" },
      },
    ]);
    const ctx2 = createContext(testConfig(dir, { zfsPoolDevice: device }), other);
    await assert.rejects(loadInitializedInventory(ctx2, "branch list"), NotInitializedError);
    other.assertDone();
  });
});

Deno.test("guards: no pool and no pool file is 'not initialised'", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([zfsGetMissingCall(), dockerPsCall(""), noPool]);
    const ctx = createContext(testConfig(dir), fake);
    await assert.rejects(loadInitializedInventory(ctx, "branch list"), (e: unknown) => {
      assert.ok(e instanceof NotInitializedError && !(e instanceof PoolNotImportedError));
      assert.match(e.message, /not initialised/);
      return true;
    });
    fake.assertDone();
  });
});
