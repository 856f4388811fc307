/**
 * Running programs: the real runner with harmless programs (echo, cat, env, false,
 * sleep), the error classes and `tail()`, and the strictness of the fake runner.
 */
import assert from "node:assert/strict";
import {
  CommandFailedError,
  CommandTimeoutError,
  ConfigError,
  InvalidNameError,
  ProgramNotFoundError,
  tail,
  UsageError,
  ZvpgError,
} from "../../src/errors.ts";
import { FakeRunner } from "../../src/process/fake_runner.ts";
import { DenoCommandRunner } from "../../src/process/runner.ts";
import { assertOneLine } from "./helpers.ts";

const runner = new DenoCommandRunner();

Deno.test("runner: captures stdout and passes arguments literally (no shell)", async () => {
  const result = await runner.run("echo", ["hello", "two words", "$HOME", "`id`", "a;b", "*"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "hello two words $HOME `id` a;b *\n");
  assert.equal(result.stderr, "");
});

Deno.test("runner: passes stdin as text or bytes", async () => {
  const text = await runner.run("cat", [], { stdin: "line 1\nligne 2 é\n" });
  assert.equal(text.stdout, "line 1\nligne 2 é\n");
  const bytes = await runner.run("cat", [], { stdin: new Uint8Array([104, 105, 0, 255]) });
  assert.equal(bytes.stdout.length, 4);
  assert.equal(bytes.stdout.slice(0, 3), "hi\0");
  // Without stdin, the program reads end-of-file at once.
  assert.equal((await runner.run("cat", [])).stdout, "");
  // a large input echoed back: stdin is written while stdout is drained (no deadlock)
  const big = "x".repeat(2_000_000);
  assert.equal((await runner.run("cat", [], { stdin: big, timeoutMs: 20_000 })).stdout, big);
  // the timeout is armed at spawn, not after stdin is written
  await assert.rejects(
    runner.run("sleep", ["5"], { stdin: "y".repeat(2_000_000), timeoutMs: 200 }),
    CommandTimeoutError,
  );
});

Deno.test("runner: extra environment variables are merged in", async () => {
  const result = await runner.run("env", [], { env: { ZVPG_UNIT_RUNNER_VAR: "x y" } });
  assert.ok(result.stdout.split("\n").includes("ZVPG_UNIT_RUNNER_VAR=x y"));
});

Deno.test("runner: a failing program throws CommandFailedError with its details", async () => {
  await assert.rejects(runner.run("false", []), (e: unknown) => {
    assert.ok(e instanceof CommandFailedError);
    assert.ok(e instanceof ZvpgError);
    assert.equal(e.program, "false");
    assert.deepEqual(e.args, []);
    assert.equal(e.code, 1);
    assert.equal(e.stderr, "");
    assert.equal(e.exitCode, 1);
    assertOneLine(e.message);
    assert.match(e.message, /'false ' failed \(exit 1\): \(no error output\)/);
    return true;
  });
  const missing = "/nonexistent-zvpg-unit/file";
  await assert.rejects(runner.run("cat", [missing, "--", "x"]), (e: unknown) => {
    assert.ok(e instanceof CommandFailedError);
    assert.equal(e.program, "cat");
    assert.deepEqual(e.args, [missing, "--", "x"]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /No such file or directory/);
    assert.ok(e.message.startsWith(`'cat ${missing} --' failed (exit 1): `), e.message);
    assert.match(e.message, /No such file or directory/);
    assertOneLine(e.message);
    return true;
  });
});

Deno.test("runner: allowFailure returns the exit code instead of throwing", async () => {
  const result = await runner.run("false", [], { allowFailure: true });
  assert.equal(result.code, 1);
  const cat = await runner.run("cat", ["/nonexistent-zvpg-unit"], { allowFailure: true });
  assert.equal(cat.code, 1);
  assert.match(cat.stderr, /No such file or directory/);
});

Deno.test("runner: a program running past timeoutMs is killed", async () => {
  const started = performance.now();
  await assert.rejects(runner.run("sleep", ["5"], { timeoutMs: 200 }), (e: unknown) => {
    assert.ok(e instanceof CommandTimeoutError);
    assert.equal(e.program, "sleep");
    assert.deepEqual(e.args, ["5"]);
    assert.equal(e.ms, 200);
    assert.equal(e.message, "'sleep 5' did not finish within 200 ms");
    return true;
  });
  assert.ok(performance.now() - started < 3000, "killed long before it would have ended");
  // A quick program with a timeout is unaffected (and its timer does not leak).
  assert.equal((await runner.run("echo", ["ok"], { timeoutMs: 5000 })).stdout, "ok\n");
});

Deno.test("runner: a missing program throws ProgramNotFoundError with a package hint", async () => {
  const cases: [string, RegExp][] = [
    ["zvpg-unit-no-such-program", /install 'zvpg-unit-no-such-program'/],
    ["/nonexistent-zvpg-unit/psql", /postgresql-client/],
    ["/nonexistent-zvpg-unit/pg_isready", /postgresql-client/],
    ["/nonexistent-zvpg-unit/zfs", /zfsutils-linux/],
    ["/nonexistent-zvpg-unit/zpool", /zfsutils-linux/],
    ["/nonexistent-zvpg-unit/docker", /docker\.io/],
    ["/nonexistent-zvpg-unit/podman", /install podman/],
    ["/nonexistent-zvpg-unit/nerdctl", /install nerdctl/],
  ];
  for (const [program, hint] of cases) {
    await assert.rejects(runner.run(program, ["--version"]), (e: unknown) => {
      assert.ok(e instanceof ProgramNotFoundError, String(e));
      assert.equal(e.program, program);
      assert.equal(e.message, `'${program}' was not found on PATH`);
      assert.match(e.hint ?? "", hint);
      return true;
    });
  }
});

Deno.test("errors: tail() folds the last lines of stderr to one line", () => {
  assert.equal(tail(""), "(no error output)");
  assert.equal(tail("  \n\n \t\n"), "(no error output)");
  assert.equal(tail("one"), "one");
  assert.equal(tail("  padded  \n"), "padded");
  assert.equal(tail("a\nb\n\nc\nd\n"), "b | c | d");
  assert.equal(
    tail("usage:\n\tzfs get ...\n\tzfs set ...\n"),
    "usage: | zfs get ... | zfs set ...",
  );
  const long = "x".repeat(500);
  const folded = tail(long);
  assert.equal(folded.length, 301);
  assert.ok(folded.startsWith("…"));
  assert.equal(tail("abcdef", 3), "…def");
  assert.equal(tail("abc", 3), "abc");
  assertOneLine(tail("a\r\nb\r\n"));
});

Deno.test("errors: classes carry their exit codes, names and hints", () => {
  const usage = new UsageError("bad option", { hint: "see --help" });
  assert.equal(usage.exitCode, 2);
  assert.equal(usage.name, "UsageError");
  assert.equal(usage.hint, "see --help");
  assert.equal(new InvalidNameError("x").exitCode, 2);
  assert.ok(new InvalidNameError("x") instanceof UsageError);
  const config = new ConfigError("bad", { cause: new Error("inner") });
  assert.equal(config.exitCode, 1);
  assert.equal(config.name, "ConfigError");
  assert.equal((config.cause as Error).message, "inner");
  assert.equal(new ZvpgError("x").hint, undefined);
  const failed = new CommandFailedError("zfs", ["get", "-H", "-p", "secret"], 2, "boom\n");
  assert.equal(failed.message, "'zfs get -H' failed (exit 2): boom");
  const timeout = new CommandTimeoutError("docker", ["stop"], 1500);
  assert.equal(timeout.message, "'docker stop' did not finish within 1500 ms");
});

Deno.test("fake runner: answers expected calls in order, with defaults", async () => {
  const seen: unknown[] = [];
  const fake = new FakeRunner([{ argv: ["zfs", "list"], result: { stdout: "a\n" } }]);
  fake.expect({ argv: ["zpool", "list"], check: (o) => seen.push(o) });
  const first = await fake.run("zfs", ["list"]);
  assert.deepEqual(first, { code: 0, stdout: "a\n", stderr: "" });
  assert.deepEqual(await fake.run("zpool", ["list"], { allowFailure: true, stdin: "x" }), {
    code: 0,
    stdout: "",
    stderr: "",
  });
  assert.deepEqual(seen, [{ allowFailure: true, stdin: "x" }]);
  assert.deepEqual(fake.calls, [["zfs", "list"], ["zpool", "list"]]);
  fake.assertDone();
});

Deno.test("fake runner: an unexpected call rejects", async () => {
  const fake = new FakeRunner();
  await assert.rejects(fake.run("zfs", ["destroy", "-r", "pool"]), /unexpected call/);
  assert.deepEqual(fake.calls, [["zfs", "destroy", "-r", "pool"]]);
  const done = new FakeRunner([{ argv: ["a"] }]);
  await done.run("a", []);
  await assert.rejects(done.run("a", []), /unexpected call: \["a"\]/);
});

Deno.test("fake runner: a call with the wrong argv rejects naming both", async () => {
  const fake = new FakeRunner([{ argv: ["zfs", "destroy", "pool/a"] }]);
  await assert.rejects(fake.run("zfs", ["destroy", "pool/b"]), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.ok(e.message.includes('["zfs","destroy","pool/a"]'));
    assert.ok(e.message.includes('["zfs","destroy","pool/b"]'));
    return true;
  });
  // the argv must match exactly, element by element
  const split = new FakeRunner([{ argv: ["echo", "a b"] }]);
  await assert.rejects(split.run("echo", ["a", "b"]), /expected/);
});

Deno.test("fake runner: a non-zero answer rejects unless failure is allowed", async () => {
  const fake = new FakeRunner([
    { argv: ["x"], result: { code: 3, stderr: "bad\n" } },
    { argv: ["x"], result: { code: 3, stderr: "bad\n" } },
  ]);
  await assert.rejects(fake.run("x", []), (e: unknown) => {
    assert.ok(e instanceof CommandFailedError);
    assert.equal(e.code, 3);
    assert.equal(e.stderr, "bad\n");
    return true;
  });
  assert.equal((await fake.run("x", [], { allowFailure: true })).code, 3);
  fake.assertDone();
});

Deno.test("fake runner: assertDone throws while expected calls are left", async () => {
  const fake = new FakeRunner([{ argv: ["a"] }, { argv: ["b", "1"] }]);
  assert.throws(() => fake.assertDone(), /expected calls not made: \[\["a"\],\["b","1"\]\]/);
  await fake.run("a", []);
  assert.throws(() => fake.assertDone(), /\["b","1"\]/);
  await fake.run("b", ["1"]);
  fake.assertDone();
});
