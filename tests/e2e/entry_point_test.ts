/**
 * Black-box runs of the real entry point (`deno run main.ts ...`) with fake `zfs`,
 * `zpool` and `docker` programs first on PATH (tests/bin/): the exit code, stdout
 * holding only data, errors on stderr, and the argv the programs were called with.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FakeAnswer } from "../bin/fake_program.ts";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import { branchScope, inventory, MAIN_PS, pool } from "../cli/fixtures.ts";
import { withTempDir } from "../unit/helpers.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "tests", "bin");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The argv of every fake program call, in order. */
  calls: string[][];
}

/** Runs `zvpg <args>` as a subprocess on a temp configuration with the fake programs. */
async function zvpg(args: string[], answers: FakeAnswer[]): Promise<Run> {
  return await withTempDir(async (dir) => {
    const fixtures = join(dir, "fixtures.json");
    const log = join(dir, "calls.jsonl");
    writeFileSync(fixtures, JSON.stringify(answers));
    writeFileSync(log, "");
    writeFileSync(
      join(dir, "config.json"),
      JSON.stringify({ zfsPool: "tpool", mountDir: join(dir, "mnt"), logDir: join(dir, "log") }),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", join(ROOT, "main.ts"), ...args],
      env: {
        PATH: `${BIN}:${Deno.env.get("PATH")}`,
        ZVPG_CONFIG_DIR: dir,
        ZVPG_CONTAINER_RUNTIME: "docker",
        ZVPG_LOG_LEVEL: "INFO",
        ZVPG_FAKE_FIXTURES: fixtures,
        ZVPG_FAKE_LOG: log,
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    const calls = Deno.readTextFileSync(log).split("\n").filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { argv: string[] }).argv);
    return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr), calls };
  });
}

/** Expected calls as answers of the fake programs. */
function answers(calls: ExpectedCall[]): FakeAnswer[] {
  return calls.map((c) => ({
    argv: c.argv,
    stdout: c.result?.stdout,
    stderr: c.result?.stderr,
    code: c.result?.code,
  }));
}

Deno.test("entry point: branch list -f json prints only the JSON document, exit 0", async () => {
  const run = await zvpg(["branch", "list", "-f", "json"], answers(inventory(pool())));
  assert.equal(run.code, 0, run.stderr);
  const branches = JSON.parse(run.stdout) as { name: string; status: string }[];
  assert.deepEqual(branches.map((b) => [b.name, b.status]), [
    ["main", "running"],
    ["feature/auth", "stopped"],
  ]);
  // one zfs call and one engine call (run side by side, so in either order)
  assert.deepEqual(run.calls.map((c) => c.slice(0, 2).join(" ")).sort(), ["docker ps", "zfs get"]);
});

Deno.test("entry point: branch info prints the fields, the port line for scripts", async () => {
  const run = await zvpg(
    ["branch", "info", "main"],
    answers(branchScope("main", "tpool/data", { ps: [MAIN_PS] })),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^PostgreSQL Port: 6001$/m);
  assert.match(run.stdout, /^Branch: +main \(default\)$/m);
});

Deno.test("entry point: an unknown branch is exit 1, one error line, empty stdout", async () => {
  const run = await zvpg(
    ["branch", "info", "nope", "-f", "json"],
    answers(branchScope("nope", "tpool/clones/nope")),
  );
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.equal(
    run.stderr,
    "error: branch 'nope' does not exist — run 'zvpg branch list' to see the branches\n",
  );
});

Deno.test("entry point: a failing zfs is exit 1 with one line, never a stack trace", async () => {
  const run = await zvpg(["snapshot", "list"], []);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /\bat .*\.ts:\d+/);
  assert.deepEqual(run.calls.map((c) => c[0]), ["zfs"]);
});

Deno.test("entry point: a usage error is exit 2 and calls no program", async () => {
  const run = await zvpg(["branch", "create", "x", "--port", "70000"], []);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /--port/);
  assert.deepEqual(run.calls, []);
});
