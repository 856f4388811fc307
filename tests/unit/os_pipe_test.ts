/**
 * Programs joined by OS pipes (runtime/os_pipe.ts): the stream goes program to program
 * through dd, which counts it; a line read off the head leaves the rest for the next
 * program; one end failing stops the others; an interrupt stops all three. Real harmless
 * programs (head, wc, sh, sleep, false).
 */
import assert from "node:assert/strict";
import { InterruptedError } from "../../src/errors.ts";
import { withOperationSignal } from "../../src/runtime/operation_signal.ts";
import {
  joinPrograms,
  meteredBytes,
  readLineExactly,
  writeAllTo,
} from "../../src/runtime/os_pipe.ts";
import { isPeerStop } from "../../src/runtime/pipe.ts";
import { childrenExited, DenoCommandRunner } from "../../src/runtime/runner.ts";

const runner = new DenoCommandRunner();

Deno.test("os pipe: dd's last count is the bytes", () => {
  assert.equal(meteredBytes("1048576 bytes (1.0 MB) copied, 1 s\r2097152 bytes (2.1 MB)"), 2097152);
  assert.equal(
    meteredBytes("3+1 records in\n3+1 records out\n3145731 bytes (3.1 MB, 3.0 MiB) copied"),
    3145731,
  );
  assert.equal(meteredBytes("dd: nothing"), undefined);
});

Deno.test("os pipe: a line written first, then 8 MiB, reach the consumer whole", async () => {
  const outcome = await joinPrograms(
    runner,
    async (out, signal) => {
      await writeAllTo(out, new TextEncoder().encode("hello\n"));
      await runner.run("head", ["-c", String(8 * 1024 * 1024), "/dev/zero"], {
        stdoutEnd: out,
        signal,
      });
    },
    async (input, signal) => {
      const line = await readLineExactly(input, 100);
      const counted = await runner.run("wc", ["-c"], { stdinEnd: input, signal });
      return { line, rest: Number(counted.stdout.trim()) };
    },
  );
  assert.equal(outcome.producer.status, "fulfilled");
  assert.equal(outcome.consumer.status, "fulfilled");
  if (outcome.consumer.status === "fulfilled") {
    assert.deepEqual(outcome.consumer.value, { line: "hello", rest: 8 * 1024 * 1024 });
  }
  assert.equal(outcome.bytes, 8 * 1024 * 1024 + 6);
});

Deno.test("os pipe: a consumer that fails stops an endless producer", async () => {
  const outcome = await joinPrograms(
    runner,
    (out, signal) =>
      runner.run("sh", ["-c", "while :; do echo y; done"], { stdoutEnd: out, signal }),
    (input, signal) => runner.run("false", [], { stdinEnd: input, signal }),
  );
  assert.equal(outcome.consumer.status, "rejected");
  assert.equal(outcome.producer.status, "rejected");
  if (outcome.consumer.status === "rejected") assert.ok(!isPeerStop(outcome.consumer.reason));
  await childrenExited();
});

Deno.test("os pipe: an interrupt stops all three programs", async () => {
  const controller = new AbortController();
  const reason = new InterruptedError("interrupted");
  setTimeout(() => controller.abort(reason), 300);
  const started = performance.now();
  const outcome = await withOperationSignal(controller.signal, () =>
    joinPrograms(
      runner,
      (out, signal) => runner.run("sleep", ["30"], { stdoutEnd: out, signal }),
      (input, signal) => runner.run("sleep", ["30"], { stdinEnd: input, signal }),
    ));
  assert.ok(performance.now() - started < 10_000);
  assert.equal(outcome.producer.status, "rejected");
  assert.equal(outcome.consumer.status, "rejected");
  await childrenExited();
});
