/**
 * The CI helpers on the real stack: `branch url|env|psql` connect, the passfile is private
 * and the password shows in no process's argv or environment, `--if-not-exists` is
 * idempotent (also when two run at once), and the bash completion loads and completes
 * branch names.
 */
import assert from "node:assert/strict";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { assertCliError, itest, sh, type TestEnv } from "../support/itest.ts";
import { processTexts } from "../support/process_watch.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The password `init env` generated for this environment. */
function password(env: TestEnv): string {
  return readFileSync(env.passFile, "utf8").trim().split(":").slice(4).join(":");
}

/** A directory with a `zvpg` wrapper for this environment, and the given host programs. */
function binDir(env: TestEnv, programs: string[]): string {
  const dir = join(env.base, "bin");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "zvpg"),
    `#!/bin/sh\nexec ${Deno.execPath()} run --allow-all ${join(ROOT, "main.ts")} "$@"\n`,
    { mode: 0o755 },
  );
  for (const p of programs) {
    for (const d of ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
      try {
        statSync(join(d, p));
        symlinkSync(join(d, p), join(dir, p));
        break;
      } catch {
        // not in this directory
      }
    }
  }
  return dir;
}

/** Whether a host psql process runs with `text` in its argv. */
function hostPsqlRunning(text: string): boolean {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv[0].endsWith("psql") && argv.some((a) => a.includes(text))) return true;
    } catch {
      // gone
    }
  }
  return false;
}

/** `zvpg branch psql ci/db -- -XAt -c <sql>` running in the background. */
function psqlProcess(env: TestEnv, sql: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      join(ROOT, "main.ts"),
      "branch",
      "psql",
      "ci/db",
      "--",
      "-XAt",
      "-c",
      sql,
    ],
    env: { ZVPG_CONFIG_DIR: env.configDir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

itest(
  "branch url|env|psql: each connects; the password is in no output, argv or environment",
  async (env) => {
    await env.psql(await env.port("main"), "create table t (n int); insert into t values (41)");
    await env.ok(["snapshot", "create", "baseline"]);
    await env.ok(["branch", "create", "ci/db", "--from", "baseline"]);
    const secret = password(env);
    const clean = { PGPASSFILE: "/nonexistent", PGCONNECT_TIMEOUT: "5" };

    // url: the URI alone connects (its passfile parameter beats PGPASSFILE)
    const url = (await env.ok(["branch", "url", "ci/db"])).stdout.trim();
    assert.ok(!url.includes(secret));
    assert.match(url, /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?passfile=/);
    assert.equal((await sh("psql", ["-XAt", url, "-c", "select n from t"], clean)).stdout, "41\n");
    // --show-password: a URI for clients without libpq
    const withPassword = (await env.ok(["branch", "url", "ci/db", "--show-password"])).stdout
      .trim();
    assert.ok(withPassword.includes(encodeURIComponent(secret)));
    assert.equal(
      (await sh("psql", ["-XAt", withPassword, "-c", "select 1"], clean)).stdout,
      "1\n",
    );

    // env: eval in a shell, then a bare psql
    const lines = (await env.ok(["branch", "env", "ci/db"])).stdout;
    assert.ok(!lines.includes(secret));
    const evaluated = await sh("sh", [
      "-c",
      'eval "$ZVPG_ENV_LINES" && psql -XAt -c "select n from t" && psql -XAt "$DATABASE_URL" -c "select 2"',
    ], { ZVPG_ENV_LINES: lines, PGCONNECT_TIMEOUT: "5" });
    assert.equal(evaluated.stdout, "41\n2\n", evaluated.stderr);
    // --github: NAME=value lines, as a CI runner reads them
    const github = (await env.ok(["branch", "env", "ci/db", "--github"])).stdout.trim().split("\n");
    const vars = Object.fromEntries(
      github.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    assert.deepEqual(Object.keys(vars), [
      "PGHOST",
      "PGPORT",
      "PGUSER",
      "PGDATABASE",
      "PGPASSFILE",
      "DATABASE_URL",
    ]);
    assert.equal((await sh("psql", ["-XAt", "-c", "select 3"], vars)).stdout, "3\n");
    // the branch's passfile: 0600, ours, in a 0700 directory
    const info = statSync(vars.PGPASSFILE);
    assert.equal(info.mode & 0o777, 0o600);
    assert.equal(info.uid, Deno.uid());
    assert.equal(statSync(join(vars.PGPASSFILE, "..")).mode & 0o777, 0o700);
    const json = await env.json<{ PGPORT: string }>(["branch", "env", "ci/db"]);
    assert.equal(json.PGPORT, String(await env.port("ci/db")));

    // psql: runs psql with the connection, its exit code is zvpg's
    const one = await env.zvpg(["branch", "psql", "ci/db", "--", "-XAt", "-c", "select n from t"]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, "41\n");
    const script = join(env.base, "bad.sql");
    writeFileSync(script, "select 1;\nselect * from no_such_table;\n");
    const bad = await env.zvpg([
      "branch",
      "psql",
      "ci/db",
      "--",
      "-X",
      "-v",
      "ON_ERROR_STOP=1",
      "-f",
      script,
    ]);
    assert.equal(
      bad.code,
      3,
      `psql's exit code 3 for a failed script, got ${bad.code}: ${bad.stderr}`,
    );
    assert.match(bad.stderr, /no_such_table/);
    // without a psql on PATH: the container's own psql
    const path = binDir(env, ["zfs", "zpool", "docker"]);
    const inContainer = await env.zvpg([
      "branch",
      "psql",
      "ci/db",
      "--",
      "-XAt",
      "-c",
      "select n + 1 from t",
    ], {
      PATH: path,
    });
    assert.equal(inContainer.code, 0, inContainer.stderr);
    assert.equal(inContainer.stdout.trim(), "42");

    // while psql runs, no process shows the password in its argv or environment
    const running = psqlProcess(env, "select pg_sleep(5)");
    for (let i = 0; i < 150 && !hostPsqlRunning("pg_sleep(5)"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(hostPsqlRunning("pg_sleep(5)"), "psql was seen running");
    assert.ok(
      !processTexts().some((p) => p.argv.includes(secret) || p.environ.includes(secret)),
      "the password shows in some process",
    );
    // a SIGINT that reaches zvpg is psql's business (a terminal sends it to psql too): ignored
    running.kill("SIGINT");
    const finished = await running.output();
    assert.equal(finished.code, 0, new TextDecoder().decode(finished.stderr));
    assert.equal(new TextDecoder().decode(finished.stdout), "\n");
    // SIGTERM stops zvpg and psql with it: exit 130, no psql left behind
    const terminated = psqlProcess(env, "select pg_sleep(30)");
    for (let i = 0; i < 150 && !hostPsqlRunning("pg_sleep(30)"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(hostPsqlRunning("pg_sleep(30)"), "psql was seen running");
    terminated.kill("SIGTERM");
    assert.equal((await terminated.output()).code, 130);
    assert.ok(!hostPsqlRunning("pg_sleep(30)"), "psql outlived zvpg");

    // a stopped branch: one line naming 'zvpg branch start'
    await env.ok(["branch", "stop", "ci/db"]);
    for (const cmd of ["url", "env", "psql"]) {
      assertCliError(
        await env.zvpg(["branch", cmd, "ci/db"]),
        1,
        /not running .*zvpg branch start ci\/db/,
      );
    }
    // delete takes the branch's copy of the password with it
    await env.ok(["branch", "delete", "ci/db"]);
    assert.throws(() => statSync(vars.PGPASSFILE));
  },
);

itest(
  "branch create --if-not-exists: twice gives one branch, started if stopped, also when two race; bash completion",
  async (env) => {
    await env.ok(["snapshot", "create", "baseline"]);
    type Created = { name: string; createdNow: boolean; status: string; port: number };
    const args = ["branch", "create", "ci", "--from", "baseline", "--if-not-exists"];
    const first = await env.json<Created>(args);
    assert.equal(first.createdNow, true);
    const second = await env.json<Created>(args);
    assert.equal(second.createdNow, false);
    assert.equal(second.port, first.port);
    await env.ok(["branch", "stop", "ci"]);
    const third = await env.json<Created>(args);
    assert.equal(third.createdNow, false);
    assert.equal(third.status, "running");
    await env.psql(third.port, "select 1");
    // without the flag it still refuses, naming it
    assertCliError(
      await env.zvpg(["branch", "create", "ci", "--from", "baseline"]),
      1,
      /already exists.*--if-not-exists/,
    );

    // two at once: both exit 0, one made it
    const race = [
      "branch",
      "create",
      "race",
      "--from",
      "baseline",
      "--if-not-exists",
      "-f",
      "json",
    ];
    const results = await Promise.all([env.zvpg(race), env.zvpg(race)]);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const created = results.map((r) => (JSON.parse(r.stdout) as Created).createdNow).sort();
    assert.deepEqual(created, [false, true]);
    const names = (await env.json<{ name: string }[]>(["branch", "list"])).map((b) => b.name);
    assert.deepEqual(names.filter((n) => n === "race"), ["race"]);
    assert.equal((await env.json<Created>(["branch", "info", "race"])).status, "running");

    // completions, on the same pool (one set-up less)
    await env.ok(["branch", "create", "feature/x", "--from", "baseline"]);
    await env.ok(["branch", "stop", "feature/x"]);
    const path = `${binDir(env, [])}:${Deno.env.get("PATH")}`;
    const bash = (script: string) =>
      sh("bash", ["-c", `source <(zvpg completions bash)\n${script}`], {
        PATH: path,
        ZVPG_CONFIG_DIR: env.configDir,
      });
    const loaded = await bash("complete -p zvpg");
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /complete -o default -F _zvpg_complete zvpg/);
    const at = (words: string) =>
      bash(
        `COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _zvpg_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      );
    assert.deepEqual((await at(`zvpg branch info ""`)).stdout.trim().split("\n").sort(), [
      "ci",
      "feature/x",
      "main",
      "race",
    ]);
    assert.equal((await at(`zvpg branch url fe`)).stdout.trim(), "feature/x");
    assert.equal((await at(`zvpg branch create y --from ""`)).stdout.trim(), "baseline");
    assert.equal((await at(`zvpg sta`)).stdout.trim(), "status");
    assert.match((await at(`zvpg branch create y --if`)).stdout, /--if-not-exists/);
    // silent on error: a broken configuration completes nothing and prints nothing
    writeFileSync(env.configFile, "{ not json");
    const broken = await at(`zvpg branch info ""`);
    assert.equal(broken.stdout.trim(), "");
    assert.equal(broken.stderr, "");
    env.writeConfig({});
  },
);
