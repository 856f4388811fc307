/**
 * The runner's file streams: stdout written to a new 0600 file instead of memory, stdin
 * read from a file, and no partial file left by a call that fails, times out or is
 * stopped. Real harmless programs (cat, head, sh, sleep) and the fake runner.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CommandFailedError,
  CommandTimeoutError,
  InterruptedError,
  ProgramNotFoundError,
} from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { withOperationSignal } from "../../src/runtime/operation_signal.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
import { withTempDir } from "./helpers.ts";

const runner = new DenoCommandRunner();
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

Deno.test("runner: stdinFile to stdoutFile copies 8 MiB byte for byte, 0600", async () => {
  await withTempDir(async (dir) => {
    const input = join(dir, "in");
    const output = join(dir, "out");
    const bytes = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 7919) % 251);
    writeFileSync(input, bytes);
    const old = Deno.umask(0);
    try {
      const result = await runner.run("cat", [], { stdinFile: input, stdoutFile: output });
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "", "the output went to the file, not memory");
    } finally {
      Deno.umask(old);
    }
    assert.equal(mode(output), "600");
    assert.deepEqual(new Uint8Array(readFileSync(output)), bytes);
  });
});

Deno.test("runner: stdoutFile is never written over an existing file", async () => {
  await withTempDir(async (dir) => {
    const output = join(dir, "out");
    writeFileSync(output, "keep");
    await assert.rejects(() => runner.run("echo", ["x"], { stdoutFile: output }));
    assert.equal(readFileSync(output, "utf8"), "keep");
  });
});

Deno.test("runner: a failed, timed-out or stopped call leaves no stdoutFile", async () => {
  await withTempDir(async (dir) => {
    const failed = join(dir, "failed");
    await assert.rejects(
      () => runner.run("sh", ["-c", "echo partial; exit 3"], { stdoutFile: failed }),
      CommandFailedError,
    );
    assert.equal(existsSync(failed), false);
    const tolerated = join(dir, "tolerated");
    const r = await runner.run("sh", ["-c", "echo partial; exit 3"], {
      stdoutFile: tolerated,
      allowFailure: true,
    });
    assert.equal(r.code, 3);
    assert.equal(existsSync(tolerated), false);
    const slow = join(dir, "slow");
    await assert.rejects(
      () =>
        runner.run("sh", ["-c", "echo partial; exec sleep 5"], {
          stdoutFile: slow,
          timeoutMs: 300,
        }),
      CommandTimeoutError,
    );
    assert.equal(existsSync(slow), false);
    const stopped = join(dir, "stopped");
    const controller = new AbortController();
    setTimeout(() => controller.abort(new InterruptedError("stopped")), 300);
    await assert.rejects(
      () =>
        withOperationSignal(
          controller.signal,
          () => runner.run("sh", ["-c", "echo partial; exec sleep 5"], { stdoutFile: stopped }),
        ),
      InterruptedError,
    );
    assert.equal(existsSync(stopped), false);
  });
});

Deno.test("runner: a program that stops reading its stdinFile early is fine", async () => {
  await withTempDir(async (dir) => {
    const input = join(dir, "in");
    writeFileSync(input, new Uint8Array(4 * 1024 * 1024));
    const r = await runner.run("head", ["-c", "10"], { stdinFile: input });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.length, 10);
  });
});

Deno.test("FakeRunner: stdoutFile gets the answer's stdout, only on success", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([
      { argv: ["zfs", "send", "p/d@s"], result: { stdout: "stream" } },
      { argv: ["zfs", "send", "p/d@t"], result: { code: 1, stdout: "part", stderr: "boom" } },
    ]);
    const r = await fake.run("zfs", ["send", "p/d@s"], { stdoutFile: join(dir, "s") });
    assert.equal(r.stdout, "");
    assert.equal(readFileSync(join(dir, "s"), "utf8"), "stream");
    assert.equal(mode(join(dir, "s")), "600");
    await assert.rejects(
      () => fake.run("zfs", ["send", "p/d@t"], { stdoutFile: join(dir, "t") }),
      CommandFailedError,
    );
    assert.equal(existsSync(join(dir, "t")), false);
    fake.assertDone();
  });
});

Deno.test("runner: the program gets the stdoutFile and stdinFile themselves, no pipe", async () => {
  await withTempDir(async (dir) => {
    const output = join(dir, "out");
    await runner.run("sh", ["-c", 'readlink "/proc/$$/fd/1"'], { stdoutFile: output });
    assert.equal(readFileSync(output, "utf8").trim(), output, "its stdout is the file");
    const input = join(dir, "in");
    writeFileSync(input, "x");
    const r = await runner.run("sh", ["-c", 'readlink "/proc/$$/fd/0"'], { stdinFile: input });
    assert.equal(r.stdout.trim(), input, "its stdin is the file");
  });
});

Deno.test("runner: a missing program with a stdoutFile is ProgramNotFoundError, no file", async () => {
  await withTempDir(async (dir) => {
    const output = join(dir, "out");
    await assert.rejects(
      () => runner.run("zvpg-no-such-program", [], { stdoutFile: output }),
      ProgramNotFoundError,
    );
    assert.equal(existsSync(output), false);
  });
});

Deno.test("runner: a file call's stderr reaches onStderr and the result", async () => {
  await withTempDir(async (dir) => {
    const seen: string[] = [];
    const r = await runner.run("sh", ["-c", "echo out; echo err >&2"], {
      stdoutFile: join(dir, "out"),
      onStderr: (text) => seen.push(text),
    });
    assert.equal(r.stderr, "err\n");
    assert.equal(seen.join(""), "err\n");
    assert.equal(readFileSync(join(dir, "out"), "utf8"), "out\n");
  });
});
