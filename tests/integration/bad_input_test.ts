/**
 * Bad input: every naming rule, names that look like ZFS paths or options, unknown
 * branches and snapshots, bad option values, unknown commands and options, huge
 * messages, and config files with a wrong type for every key. Each must give exactly one
 * error line (exit 2 for usage errors, 1 otherwise), no stack trace, and change nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configSchema } from "../../src/config/schema.ts";
import { assertCliError, type CliResult, itest, sh, type TestEnv } from "../support/itest.ts";
import { assertPoolState, poolState } from "../support/fault_support.ts";

/** One expected failure: arguments, exit code, error pattern. */
type Case = [args: string[], code: number, pattern: RegExp];

/** Runs `items` through `work`, at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Runs every case (in parallel), asserts each error, and that nothing changed. */
async function expectErrors(
  env: TestEnv,
  cases: Case[],
  extraEnv: Record<string, string> = {},
): Promise<void> {
  const before = await poolState(env);
  const results = await pool(cases, 6, ([args]) => env.zvpg(args, extraEnv));
  const problems: string[] = [];
  cases.forEach(([args, code, pattern], i) => {
    try {
      assertCliError(results[i], code, pattern);
    } catch (error) {
      problems.push(`zvpg ${JSON.stringify(args)}: ${(error as Error).message}`);
    }
  });
  assert.deepEqual(problems, [], `${problems.length} of ${cases.length} cases failed`);
  await assertPoolState(env, before, "after bad input");
}

/** One example name for every rule of names.ts (branchNameProblem), with its reason. */
const BAD_BRANCH_NAMES: [string, RegExp][] = [
  ["", /it is empty/],
  ["x".repeat(101), /longer than 100/],
  ["é".repeat(101), /longer than 100/],
  ["a\u0001b", /control character/],
  ["a\u007fb", /control character/],
  ["a\tb", /control character/],
  ["a\nb", /control character/],
  ["a b", /white space/],
  ["a\u00a0b", /white space/],
  ["-x", /starts with '-'/],
  ["--", /starts with '-'/],
  ["--force", /starts with '-'/],
  ["/x", /starts with '\/'/],
  [".x", /starts with '\.'/],
  ["x/", /ends with '\/'/],
  ["a..b", /contains '\.\.'/],
  ["a//b", /contains '\/\/'/],
  ["a/.b", /a component starts with '\.'/],
  ["x.lock", /ends with '\.lock'/],
  ["a@{b", /'@\{' or is '@'/],
  ["@", /'@\{' or is '@'/],
  ["pool/data@snap", /contains '@'/],
  ...[..."~^:?*[]\\$`'\"!&;|<>(){}#%,=+@"].map((c): [string, RegExp] => [
    `a${c}b`,
    new RegExp(`contains '${c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}'`),
  ]),
  ["a.b", /does not match branchNamingPattern/],
  ["a✓b", /does not match branchNamingPattern/],
];

itest("every branch-name rule is enforced with its reason by every command", async (env) => {
  const cases: Case[] = [];
  for (const [name, reason] of BAD_BRANCH_NAMES) {
    const why = new RegExp(`invalid branch name .*${reason.source}`);
    cases.push([["branch", "create", "--", name], 2, why]);
  }
  // every other command taking a branch name, with a sample of the rules
  const sample = BAD_BRANCH_NAMES.filter((_, i) => i % 4 === 0);
  for (const [name, reason] of sample) {
    const why = new RegExp(`invalid branch name .*${reason.source}`);
    for (const cmd of ["start", "stop", "info", "show", "delete", "remove"]) {
      cases.push([["branch", cmd, "--", name], 2, why]);
    }
    cases.push([["branch", "snapshot", "--", name, "s1"], 2, why]);
    cases.push([["branch", "create", `--parent=${name}`, "x"], 2, why]);
  }
  await expectErrors(env, cases);
});

itest(
  "snapshot/branch names given with --branch are validated like branch names",
  async (env) => {
    const cases: Case[] = [];
    for (const [name, reason] of BAD_BRANCH_NAMES.filter((_, i) => i % 4 === 0)) {
      const why = new RegExp(`invalid branch name .*${reason.source}`);
      cases.push([["snapshot", "create", "s1", `--branch=${name}`], 2, why]);
      cases.push([["commit", "create", "s1", `--branch=${name}`], 2, why]);
      cases.push([["snapshot", "list", `--branch=${name}`], 2, why]);
    }
    await expectErrors(env, cases);
  },
);

const BAD_SNAPSHOT_NAMES: [string, RegExp][] = [
  ["", /it is empty/],
  ["x".repeat(65), /longer than 64/],
  ["a@b", /contains '@' or '\/'/],
  ["a/b", /contains '@' or '\/'/],
  ["pool/data@snap", /contains '@' or '\/'/],
  ["@", /contains '@' or '\/'/],
  ["a@{b", /contains '@' or '\/'/],
  ["-x", /starts with '-'/],
  ["--", /starts with '-'/],
  [".x", /only letters, digits/],
  ["a b", /only letters, digits/],
  ["été", /only letters, digits/],
  ["a$b", /only letters, digits/],
  ["a;b", /only letters, digits/],
  ["a\nb", /only letters, digits/],
];

itest("every snapshot-name rule is enforced by every command taking one", async (env) => {
  const cases: Case[] = [];
  for (const [name, reason] of BAD_SNAPSHOT_NAMES) {
    const why = new RegExp(`invalid snapshot name .*${reason.source}`);
    cases.push([["snapshot", "create", "--", name], 2, why]);
    cases.push([["commit", "create", "--", name], 2, why]);
    // `<remote>/<snapshot>` names a pulled snapshot: valid, and not here
    const pulled = name === "a/b";
    for (
      const args of [
        ["snapshot", "info", "--", name],
        ["snapshot", "delete", "--force", "--", name],
        ["commit", "show", "--", name],
        ["commit", "remove", "--", name],
      ]
    ) cases.push(pulled ? [args, 1, /snapshot 'a\/b' does not exist/] : [args, 2, why]);
    if (!pulled) cases.push([["branch", "create", "x", `--from=${name}`], 2, why]);
    cases.push([["branch", "snapshot", "--", "main", name], 2, why]);
  }
  cases.push([
    ["branch", "create", "x", "--from=a/b"],
    1,
    /snapshot 'b' of remote 'a' is not here — pull it first/,
  ]);
  await expectErrors(env, cases);
});

itest(
  "branch and snapshot commands before init env say so and create nothing",
  async (env) => {
    const commands = [
      ["branch", "list"],
      ["branch", "info", "main"],
      ["branch", "create", "x"],
      ["branch", "start", "main"],
      ["branch", "stop", "main"],
      ["branch", "delete", "x"],
      ["branch", "snapshot", "main", "s"],
      ["snapshot", "create", "s"],
      ["snapshot", "list", "-f", "json"],
      ["snapshot", "info", "s"],
      ["snapshot", "delete", "s"],
      ["commit", "list"],
    ];
    for (const args of commands) {
      const r = await env.zvpg(args);
      assertCliError(r, 1, /not initialised.*run 'zvpg init env' first/);
      assert.equal(r.stdout, "", `zvpg ${args.join(" ")} printed data`);
    }
    assert.notEqual((await sh("zpool", ["list", env.pool])).code, 0, "no pool was created");
    assert.deepEqual(await env.containers(), []);
  },
  { init: false },
);

itest("unknown branches and snapshots are named by every command", async (env) => {
  await env.ok(["snapshot", "create", "real"]);
  const noBranch = /branch 'ghost' does not exist/;
  const noSnapshot = /snapshot 'ghost' does not exist/;
  await expectErrors(env, [
    [["branch", "info", "ghost"], 1, noBranch],
    [["branch", "show", "ghost"], 1, noBranch],
    [["branch", "delete", "ghost"], 1, noBranch],
    [["branch", "delete", "ghost", "--force"], 1, noBranch],
    [["branch", "remove", "ghost"], 1, noBranch],
    [["branch", "start", "ghost"], 1, noBranch],
    [["branch", "stop", "ghost"], 1, noBranch],
    [["branch", "snapshot", "ghost", "s1"], 1, noBranch],
    [["branch", "create", "x", "--parent", "ghost"], 1, noBranch],
    [["branch", "create", "x", "--from", "ghost"], 1, noSnapshot],
    [["snapshot", "create", "s1", "--branch", "ghost"], 1, noBranch],
    [["snapshot", "list", "--branch", "ghost"], 1, noBranch],
    [["snapshot", "info", "ghost"], 1, noSnapshot],
    [["snapshot", "show", "ghost"], 1, noSnapshot],
    [["snapshot", "delete", "ghost"], 1, noSnapshot],
    [["snapshot", "remove", "ghost", "--force"], 1, noSnapshot],
    [["commit", "show", "ghost"], 1, noSnapshot],
    [["commit", "info", "ghost"], 1, noSnapshot],
    [["commit", "remove", "ghost"], 1, noSnapshot],
    [["commit", "delete", "ghost"], 1, noSnapshot],
    [["commit", "create", "c1", "--branch", "ghost"], 1, noBranch],
    [["snapshot", "create", "real"], 1, /snapshot 'real' already exists/],
    [["branch", "delete", "main"], 1, /default branch/],
    [["branch", "start", "main"], 1, /already running/],
  ]);
});

itest("bad option values, unknown commands and options are usage errors", async (env) => {
  const cases: Case[] = [];
  for (const port of ["0", "65536", "abc", "", "-1", "1.5", "1e3", "0x10", " 80", "99999999999"]) {
    const why = /port.*invalid|must be a whole number/;
    cases.push([["branch", "create", "x", "--port", port], 2, why]);
    cases.push([["branch", "create", "x", `--port=${port}`], 2, why]);
    cases.push([["branch", "start", "main", "-p", port], 2, why]);
  }
  const formatCommands = [
    ["branch", "list"],
    ["branch", "info", "main"],
    ["branch", "create", "x"],
    ["branch", "stop", "main"],
    ["snapshot", "list"],
    ["snapshot", "create", "s1"],
    ["commit", "list"],
    ["status"],
    ["status", "system"],
    ["status", "branches"],
    ["status", "snapshots"],
    ["status", "health"],
    ["status", "health", "--repair"],
  ];
  for (const cmd of formatCommands) {
    for (const format of ["xml", "", "JSON", "table,json"]) {
      cases.push([[...cmd, "-f", format], 2, /format.*invalid|Allowed choices/]);
    }
  }
  cases.push(
    [["frobnicate"], 2, /unknown command 'frobnicate'/],
    [["branch", "frobnicate"], 2, /unknown command 'frobnicate'/],
    [["snapshot", "frobnicate"], 2, /unknown command 'frobnicate'/],
    [["commit", "frobnicate"], 2, /unknown command 'frobnicate'/],
    [["init", "frobnicate"], 2, /unknown command 'frobnicate'/],
    [["status", "frobnicate"], 2, /unknown command 'frobnicate'.*system, branches, snapshots/],
    [["status", "system", "frobnicate"], 2, /too many arguments for 'system'/],
    [["--bogus"], 2, /unknown option '--bogus'/],
    [["branch", "list", "--bogus"], 2, /unknown option '--bogus'/],
    [["branch", "create", "x", "--frm", "base"], 2, /unknown option '--frm'/],
    [["snapshot", "create", "s1", "--bogus"], 2, /unknown option '--bogus'/],
    [["status", "health", "--fix"], 2, /unknown option '--fix'/],
    [["branch", "create"], 2, /missing required argument/],
    [["branch", "delete"], 2, /missing required argument/],
    [["snapshot", "create"], 2, /missing required argument/],
    [["branch", "snapshot", "main"], 2, /missing required argument/],
    [["branch", "create", "x", "--from"], 2, /argument missing/],
    [["branch", "info", "main", "extra"], 2, /too many arguments/],
    [["branch", "create", "x", "-x"], 2, /unknown option '-x'/],
  );
  const huge = "x".repeat(5000);
  cases.push(
    [["snapshot", "create", "s1", "-m", huge], 2, /message is too long/],
    [["commit", "create", "s1", "-m", huge], 2, /message is too long/],
    [["branch", "snapshot", "main", "s1", "-m", huge], 2, /message is too long/],
    [["snapshot", "create", "s1", "-m", "é".repeat(600)], 2, /message is too long/],
  );
  await expectErrors(env, cases);
});

/** Wrong-typed values for a config key whose valid values are of `kind`. */
function wrongValues(kind: "string" | "number" | "list" | "boolean"): unknown[] {
  if (kind === "list") return ["-i /root/key", 7, {}, true, [7]];
  if (kind === "boolean") return ["true", 1, {}, []];
  return kind === "number" ? ["7", {}, [], true] : [7, {}, ["docker"], true];
}

/** Keys whose value is a list of strings. */
const LIST_KEYS = ["sshOptions"];

/** Keys whose value is true or false. */
const BOOLEAN_KEYS = ["walArchive"];

const NUMBER_KEYS = [
  "branchPortStart",
  "branchPortEnd",
  "readyTimeoutSeconds",
  "stopTimeoutSeconds",
  "archiveTimeoutSeconds",
];

itest(
  "a wrong type for every config key, malformed JSON and unknown keys are refused",
  async (env) => {
    const keys = Object.keys(configSchema.shape);
    assert.ok(keys.length >= 24, `${keys}`);
    const before = await poolState(env);
    const runs: { label: string; file: string; pattern: RegExp }[] = [];
    let n = 0;
    const write = (label: string, content: string, pattern: RegExp) => {
      const file = join(env.configDir, `bad-${n++}.json`);
      writeFileSync(file, content);
      runs.push({ label, file, pattern });
    };
    for (const key of keys) {
      const kind = NUMBER_KEYS.includes(key)
        ? "number"
        : LIST_KEYS.includes(key)
        ? "list"
        : BOOLEAN_KEYS.includes(key)
        ? "boolean"
        : "string";
      for (const value of wrongValues(kind)) {
        write(
          `${key}=${JSON.stringify(value)}`,
          JSON.stringify(env.configJson({ [key]: value })),
          new RegExp(`config .*: ${key}\\b`),
        );
      }
    }
    const good = JSON.stringify(env.configJson({}));
    write("truncated JSON", good.slice(0, -5), /not valid JSON/);
    write("empty file", "", /not valid JSON/);
    write("garbage", "zfsPool = 'x'", /not valid JSON/);
    write("single quotes", good.replaceAll('"', "'"), /not valid JSON/);
    write("array", "[]", /must hold a JSON object/);
    write("null", "null", /must hold a JSON object/);
    write("string", '"config"', /must hold a JSON object/);
    write(
      "unknown key",
      JSON.stringify({ ...env.configJson({}), bogus: 1 }),
      /unknown key 'bogus'/,
    );
    write(
      "typo key",
      JSON.stringify({ ...env.configJson({}), branchPortStrat: 7000 }),
      /unknown key 'branchPortStrat'/,
    );
    const results: CliResult[] = await pool(
      runs,
      6,
      ({ file }) => env.zvpg(["-c", file, "branch", "list"], { ZVPG_LOG_LEVEL: "" }),
    );
    const problems: string[] = [];
    runs.forEach(({ label, pattern }, i) => {
      try {
        assertCliError(results[i], 1, pattern);
      } catch (error) {
        problems.push(`${label}: ${(error as Error).message}`);
      }
    });
    assert.deepEqual(problems, [], `${problems.length} of ${runs.length} configs`);
    // the same through the default config file, for a mutating command
    env.writeConfig({ branchPortStart: "6000" });
    assertCliError(await env.zvpg(["branch", "create", "x"]), 1, /branchPortStart/);
    env.writeConfig({ branchPortStart: env.portEnd, branchPortEnd: env.portStart });
    assertCliError(await env.zvpg(["branch", "create", "x"]), 1, /branchPortStart/);
    env.writeConfig({ logLevel: { level: "DEBUG" } });
    assertCliError(
      await env.zvpg(["snapshot", "create", "s1"], { ZVPG_LOG_LEVEL: "" }),
      1,
      /logLevel/,
    );
    assertCliError(
      await env.zvpg(["branch", "list"], { ZVPG_LOG_LEVEL: "LOUD" }),
      1,
      /ZVPG_LOG_LEVEL.*logLevel/,
    );
    env.writeConfig({});
    await assertPoolState(env, before);
  },
);

itest(
  "init env with a value the engine or ZFS cannot take fails naming the key, making nothing",
  async (env) => {
    const cases: [Record<string, unknown>, string][] = [
      [{ mountDir: join(env.base, "mnt:colon") }, "mountDir"],
      [{ mountDir: join(env.base, "mnt,comma") }, "mountDir"],
      [{ dataSubdir: "da:ta" }, "dataSubdir"],
      [{ socketSubdir: "so,ck" }, "socketSubdir"],
      [{ zfsPool: `mirror${env.id}` }, "zfsPool"],
      [{ zfsPool: `c0${env.id}` }, "zfsPool"],
      [{ bindAddress: "127.0.0.256" }, "bindAddress"],
      [{ zfsPoolSize: "1M" }, "zfsPoolSize"],
      [{ pgBaseImage: "Localhost/ZVPG:17" }, "pgBaseImage"],
      [{ postgresUser: "pg_zvpg" }, "postgresUser"],
    ];
    for (const [values, key] of cases) {
      env.writeConfig(values);
      const r = await env.zvpg(["init", "env"]);
      assertCliError(r, 1, new RegExp(`config .*: ${key} .*— fix .*config\\.json`));
      assert.doesNotMatch(r.stderr, /too many colons|check the image/);
    }
    env.writeConfig({});
    assert.notEqual((await sh("zpool", ["list", env.pool])).code, 0, "no pool was created");
    for (const [values] of cases) {
      const name = String(values.zfsPool ?? "");
      if (name) assert.notEqual((await sh("zpool", ["list", name])).code, 0, `pool ${name}`);
    }
    assert.deepEqual(await env.containers(), []);
    for (const made of ["mnt", "mnt:colon", "mnt,comma", "log"]) {
      assert.ok(!existsSync(join(env.base, made)), `${made} was created`);
    }
  },
  { init: false },
);
