/**
 * Running programs: the real runner with harmless programs (echo, cat, env, false,
 * sleep, sh), its abort and interrupt handling, the error classes and `tail()`, and the strictness of the fake runner.
 */
import assert from "node:assert/strict";
import {
  CommandFailedError,
  CommandTimeoutError,
  ConfigError,
  InterruptedError,
  InvalidNameError,
  ProgramNotFoundError,
  tail,
  UsageError,
  ZvpgError,
} from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { withOperationSignal } from "../../src/runtime/operation_signal.ts";
import {
  childrenExited,
  DenoCommandRunner,
  INTERRUPT_GRACE_MS,
  KILL_GRACE_MS,
  type RunResult,
} from "../../src/runtime/runner.ts";
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

/** Whether a process whose command line contains `marker` runs. */
async function running(marker: string): Promise<boolean> {
  const out = await new Deno.Command("pgrep", { args: ["-f", marker] }).output();
  return out.code === 0;
}

Deno.test("runner: an abort kills the running program and throws InterruptedError", async () => {
  const controller = new AbortController();
  const reason = new InterruptedError("branch create 'x' interrupted by SIGINT");
  const started = performance.now();
  setTimeout(() => controller.abort(reason), 200);
  await assert.rejects(
    runner.run("sleep", ["31.4159"], { signal: controller.signal }),
    (e: unknown) => {
      assert.equal(e, reason);
      assert.equal((e as InterruptedError).exitCode, 130);
      return true;
    },
  );
  assert.ok(performance.now() - started < 2000, "stopped long before it would have ended");
  assert.equal(await running("sleep 31.4159"), false, "the child is gone");
});

Deno.test("runner: a program that ignores SIGTERM gets SIGKILL after the grace", async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = performance.now();
  // an ignored signal stays ignored across exec
  await assert.rejects(
    runner.run("sh", ["-c", "trap '' TERM; exec sleep 32.4159"], { signal: controller.signal }),
    (e: unknown) => {
      assert.ok(e instanceof InterruptedError, String(e));
      assert.equal(e.message, "'sh -c trap '' TERM; exec sleep 32.4159' was interrupted");
      return true;
    },
  );
  const took = performance.now() - started;
  assert.ok(took >= KILL_GRACE_MS && took < KILL_GRACE_MS + 3000, `took ${took} ms`);
  assert.equal(await running("sleep 32.4159"), false);
});

Deno.test("runner: a call made after the abort throws at once, running nothing", async () => {
  const controller = new AbortController();
  controller.abort(new InterruptedError("stopped"));
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      runner.run("touch", [`${dir}/made`], { signal: controller.signal }),
      /^InterruptedError: stopped$/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runner: the operation's signal is the default of every call", async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new InterruptedError("op interrupted")), 100);
  await withOperationSignal(controller.signal, async () => {
    await assert.rejects(runner.run("sleep", ["33.4159"]), /op interrupted/);
    // a call's own signal wins over the operation's
    const own = new AbortController();
    assert.equal((await runner.run("echo", ["x"], { signal: own.signal })).stdout, "x\n");
  });
  assert.equal(await running("sleep 33.4159"), false);
});

Deno.test("runner: a child that died of SIGINT while the operation is interrupted is InterruptedError", async () => {
  // a terminal's Ctrl-C reaches the child and zvpg together: here the child sees it first
  // and the operation's signal aborts 100 ms later
  const controller = new AbortController();
  const reason = new InterruptedError("op interrupted by SIGINT");
  const diesOfSigint = ["-c", "kill -INT $$; sleep 5"];
  const run = runner.run("sh", diesOfSigint, { signal: controller.signal, allowFailure: true });
  setTimeout(() => controller.abort(reason), 100);
  await assert.rejects(run, (e: unknown) => e === reason);
  // the same when the child exits 130 itself (as docker does)
  const again = new AbortController();
  const exits130 = runner.run("sh", ["-c", "exit 130"], { signal: again.signal });
  setTimeout(() => again.abort(reason), 100);
  await assert.rejects(exits130, (e: unknown) => e === reason);
  // without an interrupt it stays a failed command (once the short wait is over)
  const quiet = new AbortController();
  const started = performance.now();
  await assert.rejects(runner.run("sh", diesOfSigint, { signal: quiet.signal }), (e: unknown) => {
    assert.ok(e instanceof CommandFailedError, String(e));
    assert.equal(e.code, 130);
    return true;
  });
  assert.ok(performance.now() - started >= INTERRUPT_GRACE_MS - 50);
  // and a plain failure does not wait at all
  const t = performance.now();
  await assert.rejects(runner.run("false", [], { signal: quiet.signal }), CommandFailedError);
  assert.ok(performance.now() - t < INTERRUPT_GRACE_MS);
});

Deno.test("runner: tolerate names the failures that are returned, not thrown", async () => {
  const missing = (r: RunResult) => /No such file/.test(r.stderr);
  const gone = await runner.run("cat", ["/nonexistent-zvpg-unit"], { tolerate: missing });
  assert.equal(gone.code, 1);
  await assert.rejects(
    runner.run("sh", ["-c", "echo denied >&2; exit 1"], { tolerate: missing }),
    (e: unknown) => {
      assert.ok(e instanceof CommandFailedError);
      assert.deepEqual(e.args, ["-c", "echo denied >&2; exit 1"]);
      assert.equal(e.stderr, "denied\n");
      return true;
    },
  );
  // success is never passed to tolerate
  let asked = 0;
  await runner.run("true", [], { tolerate: () => (asked++, false) });
  assert.equal(asked, 0);
});

Deno.test("fake runner: tolerate and the operation's signal work as in the real runner", async () => {
  const controller = new AbortController();
  const reason = new InterruptedError("op interrupted by SIGINT");
  const fake = new FakeRunner([
    { argv: ["zfs", "mount", "d"], result: { code: 1, stderr: "already mounted\n" } },
    { argv: ["zfs", "mount", "d"], result: { code: 1, stderr: "busy\n" } },
    // the "program" dies of the SIGINT that interrupts the operation
    {
      argv: ["zfs", "clone", "s", "d"],
      result: { code: 130 },
      diedOf: "SIGINT",
      during: () => controller.abort(reason),
    },
  ]);
  const tolerate = (r: RunResult) => /already mounted/.test(r.stderr);
  assert.equal((await fake.run("zfs", ["mount", "d"], { tolerate })).code, 1);
  await assert.rejects(fake.run("zfs", ["mount", "d"], { tolerate }), CommandFailedError);
  await withOperationSignal(controller.signal, async () => {
    await assert.rejects(fake.run("zfs", ["clone", "s", "d"]), (e: unknown) => e === reason);
    // after the abort a call is refused without being made
    await assert.rejects(fake.run("zfs", ["destroy", "d"]), (e: unknown) => e === reason);
  });
  assert.deepEqual(fake.calls, [["zfs", "mount", "d"], ["zfs", "mount", "d"], [
    "zfs",
    "clone",
    "s",
    "d",
  ]]);
  fake.assertDone();
});

Deno.test("runner: childrenExited waits for calls a failed Promise.all left behind", async () => {
  const controller = new AbortController();
  const both = Promise.all([
    runner.run("false", [], { signal: controller.signal }),
    runner.run("sleep", ["37.4159"], { signal: controller.signal }),
  ]);
  await assert.rejects(both, CommandFailedError);
  // the sleep still runs: nobody waits for it any more
  assert.equal(await running("sleep 37.4159"), true);
  controller.abort();
  await childrenExited();
  assert.equal(await running("sleep 37.4159"), false);
});

Deno.test("runner: onStderr receives stderr as it comes, and the result still holds all of it", async () => {
  const seen: string[] = [];
  const result = await runner.run(
    Deno.execPath(),
    [
      "eval",
      "console.error('first'); await new Promise((r) => setTimeout(r, 200)); console.error('second'); console.log('out')",
    ],
    { onStderr: (text) => seen.push(text) },
  );
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "out\n");
  assert.equal(result.stderr, "first\nsecond\n");
  assert.equal(seen.join(""), "first\nsecond\n");
  assert.ok(seen.length >= 2, "the two writes arrive apart");
});
