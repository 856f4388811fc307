/**
 * Programs joined by OS pipes (runtime/os_pipe.ts): the stream goes program to program
 * through dd, which counts it; a line read off the head leaves the rest for the next
 * program; one end failing stops the others; an interrupt stops all three. A direct join
 * has nothing between the programs; a metered copy gives back what zvpg read off the head.
 * Real harmless programs (head, wc, sh, sleep, false, md5sum).
 */
import assert from "node:assert/strict";
import { InterruptedError } from "../../src/errors.ts";
import { withOperationSignal } from "../../src/runtime/operation_signal.ts";
import {
  joinDirectly,
  joinPrograms,
  meteredBytes,
  meterInto,
  readExactly,
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

/** 1 MiB of bytes unlike each other's neighbours: a byte lost or moved shows in a digest. */
const PATTERN = [
  "sh",
  "-c",
  "i=0; while [ $i -lt 4096 ]; do printf '%0255d\\n' $i; i=$((i+1)); done",
];

Deno.test("os pipe: a direct join reads the line, then hands the rest to the next program", async () => {
  const whole = await runner.run(PATTERN[0], PATTERN.slice(1));
  const expected = await runner.run("md5sum", [], { stdin: whole.stdout.slice(256) });
  const outcome = await joinDirectly(
    runner,
    (out, signal) => runner.run(PATTERN[0], PATTERN.slice(1), { stdoutEnd: out, signal }),
    async (input, signal) => {
      const line = await readLineExactly(input, 1000);
      const rest = await runner.run("md5sum", [], { stdinEnd: input, signal });
      return { line, digest: rest.stdout };
    },
  );
  assert.equal(outcome.consumer.status, "fulfilled");
  if (outcome.consumer.status === "fulfilled") {
    assert.equal(outcome.consumer.value.line, "0".repeat(255));
    assert.equal(outcome.consumer.value.digest, expected.stdout);
  }
  assert.equal(outcome.bytes, 0);
});

Deno.test("os pipe: a metered copy puts the head back, counts it, and loses nothing", async () => {
  const whole = await runner.run(PATTERN[0], PATTERN.slice(1));
  const expected = await runner.run("md5sum", [], { stdin: whole.stdout });
  const outer = await joinDirectly(
    runner,
    (out, signal) => runner.run(PATTERN[0], PATTERN.slice(1), { stdoutEnd: out, signal }),
    async (input) => {
      const head = await readExactly(input, 56);
      let reported = 0;
      const inner = await meterInto(
        runner,
        head,
        input,
        (stream, signal) => runner.run("md5sum", [], { stdinEnd: stream, signal }),
        { onBytes: (n) => reported = n },
      );
      return { inner, reported };
    },
  );
  assert.equal(outer.consumer.status, "fulfilled");
  if (outer.consumer.status !== "fulfilled") return;
  const { inner, reported } = outer.consumer.value;
  assert.equal(inner.producer.status, "fulfilled");
  assert.equal(inner.consumer.status, "fulfilled");
  if (inner.consumer.status === "fulfilled") {
    assert.equal(inner.consumer.value.stdout, expected.stdout);
  }
  assert.equal(inner.bytes, 4096 * 256);
  assert.equal(reported, 4096 * 256);
});

Deno.test("os pipe: a metered copy stops when told to, and its program with it", async () => {
  const stop = new AbortController();
  setTimeout(() => stop.abort(new Error("idle")), 300);
  const started = performance.now();
  const fifo = await runner.osPipe();
  const outcome = await meterInto(
    runner,
    new Uint8Array(0),
    fifo.read,
    (input, signal) => runner.run("sleep", ["30"], { stdinEnd: input, signal }),
    { stop: stop.signal },
  );
  fifo.write.close();
  assert.ok(performance.now() - started < 10_000);
  assert.equal(outcome.producer.status, "rejected");
  assert.equal(outcome.consumer.status, "rejected");
  await childrenExited();
});
