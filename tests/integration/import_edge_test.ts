/**
 * Import edge cases on the real stack: Ctrl-C in the middle of a restore, and a data
 * directory taken over without a copy when it is already on zvpg's pool (and given back
 * when the import fails).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { itest, sh, TEST_IMAGE, type TestEnv } from "../support/itest.ts";
import { freePort, SourceServer, tableHashes as hashes } from "../support/source_server.ts";

const MAIN_TS = new URL("../../main.ts", import.meta.url).pathname;

async function zfsValue(prop: string, name: string): Promise<string> {
  const r = await sh("zfs", ["get", "-H", "-o", "value", prop, name]);
  return r.code === 0 ? r.stdout.trim() : `(missing: ${r.stderr.trim()})`;
}

/** Waits until the CLI's log file has a line containing `text`. */
async function waitForLog(env: TestEnv, text: string, timeoutMs: number): Promise<void> {
  const file = join(env.base, "log", "zvpg.log");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file) && Deno.readTextFileSync(file).includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no '${text}' in ${file} within ${timeoutMs} ms`);
}

itest(
  "init env --from <uri>: Ctrl-C mid-restore exits 130 and leaves no pool, container, temp file or config file; a later import (of a custom-format dump) works",
  async (env) => {
    const src = new SourceServer(freePort(), TEST_IMAGE, 999);
    const tmp = join(env.base, "tmp");
    mkdirSync(tmp, { recursive: true });
    try {
      await src.start();
      // enough rows that the restore lasts a few seconds
      await src.psql(
        "app",
        "INSERT INTO orders (customer, total) SELECT g % 500 + 1, g FROM generate_series(1, 400000) g",
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", MAIN_TS, "init", "env", "--from", src.uri(), "--jobs", "2"],
        env: {
          ZVPG_CONFIG_DIR: env.configDir,
          ZVPG_LOG_LEVEL: "INFO",
          PGPASSWORD: src.password,
          TMPDIR: tmp,
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      try {
        await waitForLog(env, "import phase: restoring database 'app'", 240_000);
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        child.kill("SIGINT");
      }
      const out = await output;
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 130, stderr);
      assert.match(stderr, /interrupted/i);
      assert.equal(
        (await sh("zpool", ["list", "-H", env.pool])).code,
        1,
        "the pool it made is gone",
      );
      assert.ok(!existsSync(join(env.mountDir, `${env.pool}.img`)), "the pool file is gone");
      assert.deepEqual(await env.containers(), [], "no container is left");
      assert.deepEqual(readdirSync(tmp), [], "no temporary file is left");
      assert.deepEqual(
        readdirSync(env.configDir),
        ["config.json"],
        "only the user's config is left",
      );

      // the custom format (pg_dump -Fc), which import_test.ts does not cover
      const dump = join(env.base, "app.dump");
      await src.dump("c", dump, ["--no-owner", "--no-acl"]);
      const again = await env.zvpg(["init", "env", "--from", dump, "--jobs", "2"], { TMPDIR: tmp });
      assert.equal(again.code, 0, again.stderr);
      const port = await env.port("main");
      assert.deepEqual(
        await hashes((sql) => env.psql(port, sql, "app")),
        await hashes((sql) => src.psql("app", sql)),
      );
      assert.deepEqual(readdirSync(tmp), []);
    } finally {
      await src.remove();
    }
  },
  { init: false },
);

itest(
  "init env --from <data directory on zvpg's pool>: the dataset is taken over without a copy; a failed or interrupted import gives it back as it was",
  async (env) => {
    // zvpg's pool exists already (as zvpg makes it) and holds the user's cluster
    mkdirSync(env.mountDir, { recursive: true });
    const image = join(env.mountDir, `${env.pool}.img`);
    assert.equal((await sh("truncate", ["-s", "3G", image])).code, 0);
    const created = await sh("zpool", ["create", "-m", "none", env.pool, image]);
    assert.equal(created.code, 0, created.stderr);
    const src = new SourceServer(freePort(), TEST_IMAGE, 999);
    const legacy = `${env.pool}/legacy`;
    try {
      // the dataset's root is the data directory (the case that needs the most moving)
      const made = await sh("zfs", ["create", "-o", `mountpoint=${src.pgdata}`, legacy]);
      assert.equal(made.code, 0, made.stderr);
      await src.start();
      const expected = await hashes((sql) => src.psql("app", sql));
      await src.stop();
      const guid = await zfsValue("guid", legacy);

      // a failure after the take-over (no such superuser): the dataset comes back as it was
      env.writeConfig({ postgresUser: "nobody_here" });
      const failed = await env.zvpg(["init", "env", "--from", src.pgdata]);
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, /no superuser 'nobody_here'/);
      assert.equal(await zfsValue("guid", legacy), guid, "the same dataset, under its old name");
      assert.equal(await zfsValue("mountpoint", legacy), src.pgdata);
      assert.equal(await zfsValue("zvpg:branch", legacy), "-");
      assert.ok(existsSync(join(src.pgdata, "PG_VERSION")), "its data directory is in place");
      assert.ok(!existsSync(join(src.pgdata, "pgdata")));
      assert.deepEqual(await env.datasets(), [env.pool, legacy].sort(), "no snapshot is left");

      env.writeConfig({});
      // Ctrl-C right after the take-over: given back the same way
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", MAIN_TS, "init", "env", "--from", src.pgdata],
        env: {
          ZVPG_CONFIG_DIR: env.configDir,
          ZVPG_FAULT_DELAY: "import.after-adopt:4000",
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      try {
        await waitForLog(env, "fault point 'import.after-adopt'", 120_000);
      } finally {
        child.kill("SIGINT");
      }
      const interrupted = await output;
      assert.equal(interrupted.code, 130, new TextDecoder().decode(interrupted.stderr));
      assert.equal(await zfsValue("guid", legacy), guid, "given back after Ctrl-C");
      assert.equal(await zfsValue("mountpoint", legacy), src.pgdata);
      assert.ok(existsSync(join(src.pgdata, "PG_VERSION")));
      assert.deepEqual(await env.datasets(), [env.pool, legacy].sort());
      assert.deepEqual(await env.containers(), []);

      const r = await env.ok(["init", "env", "--from", src.pgdata, "-f", "json"]);
      const steps = JSON.parse(r.stdout).steps as { step: string; detail: string }[];
      assert.ok(steps.some((s) => s.step === "adopt"), r.stdout);
      assert.equal(await zfsValue("guid", `${env.pool}/data`), guid, "taken over, not copied");
      assert.match(await zfsValue("name", legacy), /missing/);
      const port = await env.port("main");
      assert.deepEqual(await hashes((sql) => env.psql(port, sql, "app")), expected);
      const snaps = (await env.datasets()).filter((d) => d.includes("@"));
      assert.equal(snaps.length, 1, `only the import snapshot: ${snaps}`);
      assert.match(snaps[0], /@import-\d{8}-\d{6}$/);
    } finally {
      // the pool first: a dataset may still be mounted inside the source's directory
      await env.cleanup();
      await src.remove();
    }
  },
  { init: false },
);
