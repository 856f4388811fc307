/**
 * The connection helpers through the strict fake runner: the per-branch passfile, the
 * refusal of a branch that does not run, and psql on the host or in the container.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { StateError } from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { createContext } from "../../src/cli/session.ts";
import { findOnPath } from "../../src/runtime/runner.ts";
import { runPsql } from "../../src/ops/branch_psql.ts";
import { ConnectService } from "../../src/workflows/connect_service.ts";
import { writePrivateFile } from "../../src/runtime/private_fs.ts";
import { branchScope, FEATURE_PS, pool } from "../cli/fixtures.ts";
import { testConfig, withTempDir } from "./helpers.ts";

const PASSWORD = "pw-unit-1";

function setUp(dir: string, running = true) {
  const fake = new FakeRunner();
  const ctx = createContext(testConfig(dir), fake);
  writePrivateFile(ctx.layout.passFile, `*:*:*:postgres:${PASSWORD}\n`);
  const read = running
    ? branchScope("feature/auth", "tpool/clones/feature_sauth", {
      entries: pool("running"),
      ps: [FEATURE_PS],
    })
    : branchScope();
  return { fake, ctx, read };
}

Deno.test("branch url: writes a 0600 passfile for the branch's host and port, in a 0700 directory", async () => {
  await withTempDir(async (dir) => {
    const { fake, ctx, read } = setUp(dir);
    fake.expect(...read);
    const c = await new ConnectService(ctx).connect("feature/auth");
    fake.assertDone();
    assert.equal(c.password, undefined);
    assert.equal(c.connection.port, 6002);
    const file = ctx.layout.branchPassFile("feature/auth");
    assert.equal(c.connection.passfile, file);
    assert.equal(readFileSync(file, "utf8"), `127.0.0.1:6002:*:postgres:${PASSWORD}\n`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(`${dir}/passfiles`).mode & 0o777, 0o700);
    assert.equal(statSync(file).uid, Deno.uid());
  });
});

Deno.test("branch url: a passfile left open by someone is closed and rewritten", async () => {
  await withTempDir(async (dir) => {
    const { fake, ctx, read } = setUp(dir);
    const file = ctx.layout.branchPassFile("feature/auth");
    mkdirSync(`${dir}/passfiles`, { mode: 0o777 });
    writeFileSync(file, "stale\n", { mode: 0o644 });
    fake.expect(...read);
    await new ConnectService(ctx).connect("feature/auth", { showPassword: true });
    assert.equal(readFileSync(file, "utf8"), `127.0.0.1:6002:*:postgres:${PASSWORD}\n`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(`${dir}/passfiles`).mode & 0o777, 0o700);
  });
});

Deno.test("branch url: --show-password returns the password", async () => {
  await withTempDir(async (dir) => {
    const { fake, ctx, read } = setUp(dir);
    fake.expect(...read);
    const c = await new ConnectService(ctx).connect("feature/auth", { showPassword: true });
    assert.equal(c.password, PASSWORD);
  });
});

Deno.test("branch env|psql: a stopped branch is refused, naming 'zvpg branch start'", async () => {
  await withTempDir(async (dir) => {
    const { fake, ctx, read } = setUp(dir, false);
    fake.expect(...read);
    await assert.rejects(
      () => new ConnectService(ctx).psql("feature/auth", []),
      (e: unknown) => e instanceof StateError && /zvpg branch start feature\/auth/.test(e.hint!),
    );
  });
});

Deno.test("branch psql: host psql gets the connection through its environment, the password never", async () => {
  await withTempDir(async (dir) => {
    const { fake, ctx, read } = setUp(dir);
    fake.expect(...read);
    const c = await new ConnectService(ctx).connect("feature/auth");
    fake.expect({
      argv: ["psql", "-c", "select 1"],
      result: { code: 3 },
      check: (options) => {
        assert.equal(options.interactive, true);
        assert.deepEqual(options.env, {
          PGHOST: "127.0.0.1",
          PGPORT: "6002",
          PGUSER: "postgres",
          PGDATABASE: "postgres",
          PGPASSFILE: c.connection.passfile,
        });
        assert.ok(!JSON.stringify(options).includes(PASSWORD));
      },
    });
    const record = { name: "feature/auth", container: { name: "zvpg_feature_sauth_6002" } };
    // deno-lint-ignore no-explicit-any
    const code = await runPsql(ctx, record as any, c.connection, ["-c", "select 1"], "host");
    assert.equal(code, 3);
    fake.assertDone();
  });
});

Deno.test("branch psql: without a host psql, the container's psql over its local socket", async () => {
  await withTempDir(async (dir) => {
    const { fake, ctx, read } = setUp(dir);
    fake.expect(...read);
    const c = await new ConnectService(ctx).connect("feature/auth");
    mkdirSync(ctx.layout.pgdata("feature/auth"), { recursive: true });
    const owner = statSync(ctx.layout.pgdata("feature/auth"));
    fake.expect({
      argv: [
        "docker",
        "exec",
        "-i",
        "--user",
        `${owner.uid}:${owner.gid}`,
        "zvpg_feature_sauth_6002",
        "psql",
        "-h",
        "/var/run/postgresql",
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-c",
        "select 1",
      ],
      result: { code: 2 },
      check: (options) => assert.equal(options.interactive, true),
    });
    const record = { name: "feature/auth", container: { name: "zvpg_feature_sauth_6002" } };
    // deno-lint-ignore no-explicit-any
    const code = await runPsql(ctx, record as any, c.connection, ["-c", "select 1"], "container");
    assert.equal(code, 2);
    fake.assertDone();
  });
});

Deno.test("findOnPath: finds an executable, not a directory or a plain file", async () => {
  await withTempDir((dir) => {
    mkdirSync(`${dir}/a/psql`, { recursive: true });
    writeFileSync(`${dir}/plain`, "");
    writeFileSync(`${dir}/exe`, "", { mode: 0o755 });
    assert.equal(findOnPath("psql", `${dir}/a`), undefined);
    assert.equal(findOnPath("plain", dir), undefined);
    assert.equal(findOnPath("exe", `:${dir}/a:${dir}`), `${dir}/exe`);
  });
});
