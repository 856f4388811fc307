/**
 * Messages that used to mislead: each says what happened and what to do.
 *
 * @module
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, itest } from "../support/itest.ts";
import { containerOf, must } from "../support/fault_support.ts";

/** Breaks postgresql.conf so every server start fails at once; returns how to undo it. */
function breakServerConfig(configDir: string): () => void {
  const file = join(configDir, "postgresql.conf");
  const good = readFileSync(file, "utf8");
  appendFileSync(file, "\nshared_bufers = 64MB\n");
  return () => writeFileSync(file, good);
}

/** The file the error's hint says the container log is kept in. */
function keptLog(stderr: string): string {
  const match = stderr.match(/its log is kept in (\S+\.log)/);
  assert.ok(match, `no kept log named in: ${stderr}`);
  return match[1];
}

itest(
  "a container that exits at start-up is reported at once with its exit code, its log kept",
  async (env) => {
    breakServerConfig(env.configDir);
    const t0 = Date.now();
    const r = await env.zvpg(["branch", "create", "broken"]);
    const took = Date.now() - t0;
    assertCliError(
      r,
      1,
      /PostgreSQL of branch 'broken' exited with code 1 [\d.]+s after its start: .*shared_bufers/,
    );
    assert.doesNotMatch(r.stderr, /did not accept connections|within 60s/);
    // readyTimeoutSeconds is 60: the exit was noticed at once
    assert.ok(took < 30_000, `took ${took} ms`);
    // the container is gone, so the message names a file, not '<engine> logs'
    assert.deepEqual((await env.containers()).filter((c) => c.includes("broken")), []);
    assert.doesNotMatch(r.stderr, /docker logs/);
    const file = keptLog(r.stderr);
    assert.ok(file.startsWith(join(env.base, "log") + "/"), file);
    assert.match(
      readFileSync(file, "utf8"),
      /unrecognized configuration parameter "shared_bufers"/,
    );
    assert.equal((statSync(file).mode & 0o777).toString(8), "600");
  },
);

itest("a failed repair says it failed, naming what it attempted", async (env) => {
  await env.ok(["branch", "create", "b"]);
  const restore = breakServerConfig(env.configDir);
  await must("docker", ["rm", "-f", await containerOf(env, "b")]);
  const text = await env.zvpg(["status", "health", "--repair"]);
  assert.equal(text.code, 1, text.stdout + text.stderr);
  const line = text.stdout.split("\n").find((l) => l.includes("branch 'b'"));
  assert.ok(line, text.stdout);
  assert.match(line, /^FAILED +branch 'b': restart \(its container was gone\) failed: /);
  assert.doesNotMatch(text.stdout, /UNFIXED|restarted/);
  assert.ok(existsSync(keptLog(text.stdout)));

  const json = await env.zvpg(["status", "health", "--repair", "-f", "json"]);
  const parsed = JSON.parse(json.stdout) as {
    repairs: { target: string; action: string; ok: boolean; reason?: string; detail?: string }[];
  };
  const repair = parsed.repairs.find((r) => r.target === "branch 'b'");
  assert.ok(repair, json.stdout);
  assert.equal(repair.action, "restart");
  assert.equal(repair.ok, false);
  assert.match(repair.reason ?? "", /container was/);
  assert.match(repair.detail ?? "", /exited with code/);

  restore();
  const fixed = await env.zvpg(["status", "health", "--repair"]);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  assert.match(fixed.stdout, /^REPAIRED +branch 'b': restart \(/m);
});

itest("an exported pool is reported as not imported, and init env imports it", async (env) => {
  await env.ok(["branch", "stop", "main"]);
  await must("zpool", ["export", env.pool]);
  for (
    const args of [["branch", "list"], ["snapshot", "create", "s"], ["branch", "start", "main"]]
  ) {
    assertCliError(
      await env.zvpg(args),
      1,
      new RegExp(`pool '${env.pool}' is not imported — run 'zvpg init env' to import it`),
    );
  }
  const listed = await env.zvpg(["branch", "list"]);
  assert.doesNotMatch(listed.stderr, /not initialised/);
  await env.ok(["init", "env"]);
  const branches = await env.json<{ name: string; status: string }[]>(["branch", "list"]);
  assert.deepEqual(branches.map((b) => [b.name, b.status]), [["main", "running"]]);
});

itest("a bad environment variable is named in the hint, not config.json", async (env) => {
  for (
    const [variable, value] of [["ZVPG_LOG_LEVEL", "bogus"], ["ZVPG_CONTAINER_RUNTIME", "bogus"]]
  ) {
    const r = await env.zvpg(["branch", "list"], { [variable]: value });
    assertCliError(
      r,
      1,
      new RegExp(`environment ${variable}: .* — unset the environment variable ${variable}`),
    );
    assert.doesNotMatch(r.stderr, /config\.json/);
  }
}, { init: false });

itest("'status <unknown>' is a usage error naming the command and the valid ones", async (env) => {
  const r = await env.zvpg(["status", "bogus"]);
  assertCliError(
    r,
    2,
    /unknown command 'bogus' for 'zvpg status' — use one of: system, branches, snapshots, health/,
  );
  assert.doesNotMatch(r.stderr, /too many arguments/);
}, { init: false });
