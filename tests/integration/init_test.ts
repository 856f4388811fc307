import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, itest, sh } from "../support/itest.ts";

itest(
  "init env on a machine with no pool yields a running, reachable default branch",
  async (env) => {
    const pool = await sh("zpool", ["list", "-H", "-o", "health", env.pool]);
    assert.equal(pool.stdout.trim(), "ONLINE");
    const datasets = await env.datasets();
    for (const d of ["data", "clones", "sockets"]) {
      assert.ok(
        datasets.includes(`${env.pool}/${d}`),
        d,
      );
    }
    for (const f of ["postgresql.conf", "pg_hba.conf", "pg_ident.conf", "pgpass"]) {
      const path = join(env.configDir, f);
      assert.ok(existsSync(path), f);
      assert.equal(statSync(path).mode & 0o777, 0o600, `${f} is mode 0600`);
    }
    const port = await env.port("main");
    assert.ok(port >= env.portStart && port <= env.portEnd);
    assert.equal(await env.psql(port, "select 40 + 2"), "42");
    // a password-less TCP login is refused
    const noPassword = await sh("psql", [
      "-X",
      "-w",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-c",
      "select 1",
    ]);
    assert.notEqual(noPassword.code, 0);
    assert.equal((await env.containers()).length, 1);
  },
);

itest("a second init env changes nothing and says so", async (env) => {
  const before = await env.datasets();
  const r = await env.ok(["init", "env"]);
  assert.match(r.stdout, /Nothing to do/);
  const json = JSON.parse((await env.ok(["init", "env", "-f", "json"])).stdout);
  assert.equal(json.changed, false);
  assert.deepEqual(await env.datasets(), before);
  assert.equal((await env.containers()).length, 1);
});

itest("init env never overwrites the user's config files", async (env) => {
  const conf = join(env.configDir, "postgresql.conf");
  await Deno.writeTextFile(conf, (await Deno.readTextFile(conf)) + "\n# my edit\n");
  await env.ok(["init", "env"]);
  assert.match(await Deno.readTextFile(conf), /# my edit/);
});

itest("init check passes on a healthy system and prints json", async (env) => {
  const r = await env.ok(["init", "check"]);
  assert.match(r.stdout, /PASS\s+default-branch/);
  const json = JSON.parse((await env.ok(["init", "check", "-f", "json"])).stdout);
  assert.equal(json.ok, true);
  assert.deepEqual(
    json.checks.map((c: { name: string }) => c.name),
    ["zfs", "pool", "datasets", "runtime", "image", "config", "default-branch"],
  );
});

itest("init check fails naming the runtime when the engine is unreachable", async (env) => {
  const r = await env.zvpg(["init", "check"], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL\s+runtime/);
});

itest("init check fails naming the pool when the pool is exported", async (env) => {
  const port = await env.port("main");
  await env.ok(["branch", "stop", "main"]);
  const exported = await sh("zpool", ["export", env.pool]);
  assert.equal(exported.code, 0, exported.stderr);
  const r = await env.zvpg(["init", "check"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL\s+pool/);
  // init env brings it back: imports the pool and starts the default branch
  await env.ok(["init", "env"]);
  const again = await env.port("main");
  assert.ok(again > 0);
  assert.ok(port > 0);
  assert.equal((await env.ok(["init", "check"])).code, 0);
});

itest("init env works for an image whose postgres user has another uid", async (env) => {
  const custom = `zvpg-test/pg-uid-${env.id}`;
  const tmp = `zvpg-uid-${env.id}`;
  try {
    const r = await sh("docker", [
      "run",
      "--name",
      tmp,
      "--user",
      "0:0",
      "--entrypoint",
      "usermod",
      env.configJson({}).pgBaseImage as string,
      "-u",
      "4321",
      "postgres",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await sh("docker", ["commit", tmp, custom])).code, 0);
    env.writeConfig({ pgBaseImage: custom });
    await env.ok(["init", "env"]);
    const owner = statSync(join(env.mountDir, "data", "pgdata")).uid;
    assert.equal(owner, 4321);
    assert.equal(await env.psql(await env.port("main"), "select current_user"), "postgres");
  } finally {
    await sh("docker", ["rm", "-f", tmp]);
    await env.cleanup();
    await sh("docker", ["rmi", "-f", custom]);
  }
}, { init: false });

itest(
  "init env with a missing image fails with a one-line error and leaves no container",
  async (env) => {
    env.writeConfig({ pgBaseImage: "localhost/zvpg-no-such-image:1" });
    const r = await env.zvpg(["init", "env"]);
    assertCliError(r, 1, /image 'localhost\/zvpg-no-such-image:1'/);
    assert.deepEqual(await env.containers(), []);
  },
  { init: false },
);
