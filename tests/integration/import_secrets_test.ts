/**
 * The import's private directory (the source password as a pgpass file, the loader's
 * config) on the real stack: no other uid of the host can read it while it exists, the
 * image's postgres uid included (another account may have it), and a Ctrl-C right after
 * the preflight removes it like any other.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { itest, sh, type TestEnv } from "../support/itest.ts";
import { logSize, waitForLog } from "../support/fault_support.ts";
import { withSource } from "../support/source_server.ts";

const MAIN_TS = new URL("../../main.ts", import.meta.url).pathname;

/** Starts `zvpg init env --from <from>` paused at `point` (ZVPG_FAULT_DELAY), TMPDIR `tmp`. */
function spawnPaused(
  env: TestEnv,
  from: string,
  point: string,
  tmp: string,
  extra: Record<string, string> = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN_TS, "init", "env", "--from", from],
    env: {
      ZVPG_CONFIG_DIR: env.configDir,
      ZVPG_LOG_LEVEL: "INFO",
      ZVPG_FAULT_DELAY: `${point}:8000`,
      TMPDIR: tmp,
      ...extra,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, output: child.output() };
}

/** Every file called `name` below `dir` (read as root). */
function filesNamed(dir: string, name: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === name) found.push(p);
    }
  };
  walk(dir);
  return found;
}

itest(
  "init env --from <uri>: while the import runs, its pgpass names the source's host and port and no other uid (the image's postgres uid, nobody) can read it",
  async (env) => {
    await withSource(async (src) => {
      const tmp = join(env.base, "tmp");
      mkdirSync(tmp, { recursive: true });
      const offset = logSize(env);
      const { child, output } = spawnPaused(env, src.uri(), "import.after-preflight", tmp, {
        PGPASSWORD: src.password,
      });
      try {
        await waitForLog(env, "fault point 'import.after-preflight'", 120_000, offset);
        const [pgpass] = filesNamed(tmp, "pgpass");
        assert.ok(pgpass, "the import's pgpass exists while it runs");
        const client = statSync(dirname(pgpass));
        assert.notEqual(client.uid, 0, "the client's directory belongs to the image's postgres");
        for (const [uid, gid] of [[client.uid, client.gid], [65534, 65534]]) {
          const read = await sh("setpriv", [
            ...[`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups"],
            ...["cat", pgpass],
          ]);
          assert.notEqual(read.code, 0, `uid ${uid} read the pgpass`);
          assert.ok(!read.stdout.includes(src.password), `uid ${uid} read the password`);
          const list = await sh("setpriv", [
            ...[`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups"],
            ...["ls", dirname(pgpass)],
          ]);
          assert.notEqual(list.code, 0, `uid ${uid} listed the secrets directory`);
        }
        // the parent every uid must pass: zvpg's own, 0700
        const parent = statSync(dirname(dirname(pgpass)));
        assert.equal(parent.mode & 0o777, 0o700);
        assert.equal(parent.uid, Deno.uid());
        const line = readFileSync(pgpass, "utf8");
        assert.ok(line.startsWith(`127.0.0.1:${src.port}:`), `pgpass names host and port: ${line}`);
      } finally {
        child.kill("SIGINT");
      }
      const out = await output;
      assert.equal(out.code, 130, new TextDecoder().decode(out.stderr));
      assert.deepEqual(readdirSync(tmp), [], "the secrets are gone");
    });
  },
  { init: false },
);

itest(
  "init env --from <dump>: Ctrl-C right after the preflight exits 130 and leaves no secrets directory, pool or container",
  async (env) => {
    const tmp = join(env.base, "tmp");
    mkdirSync(tmp, { recursive: true });
    const dump = join(env.base, "small.sql");
    writeFileSync(dump, "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n");
    const offset = logSize(env);
    const { child, output } = spawnPaused(env, dump, "import.after-preflight", tmp);
    try {
      await waitForLog(env, "fault point 'import.after-preflight'", 120_000, offset);
      assert.equal(readdirSync(tmp).length, 1, "the secrets directory exists meanwhile");
    } finally {
      child.kill("SIGINT");
    }
    const out = await output;
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 130, stderr);
    assert.match(stderr, /interrupted/i);
    assert.deepEqual(readdirSync(tmp), [], "no secrets directory is left");
    assert.notEqual((await sh("zpool", ["list", "-H", env.pool])).code, 0, "no pool was made");
    assert.deepEqual(await env.containers(), []);
    // and the next import runs
    const again = await env.zvpg(["init", "env", "--from", dump], { TMPDIR: tmp });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await env.psql(await env.port("main"), "SELECT count(*) FROM t"), "1");
    assert.deepEqual(readdirSync(tmp), []);
  },
  { init: false },
);
