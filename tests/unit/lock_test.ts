/**
 * The pool lock: an flock on `<mountDir>/.zvpg.lock` that serialises mutating work.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InterruptedError } from "../../src/errors.ts";
import { withOperationSignal } from "../../src/runtime/operation_signal.ts";
import { Layout } from "../../src/domain/layout.ts";
import { withLock } from "../../src/runtime/lock.ts";
import { testConfig, withTempDir } from "./helpers.ts";

Deno.test("lock: runs the action, creating the mount directory and the lock file", async () => {
  await withTempDir(async (dir) => {
    const layout = new Layout(testConfig(dir, { mountDir: join(dir, "not", "yet") }));
    assert.equal(await withLock(layout, () => Promise.resolve(42)), 42);
    assert.ok(existsSync(join(dir, "not", "yet", ".zvpg.lock")));
  });
});

Deno.test("lock: released when the action throws", async () => {
  await withTempDir(async (dir) => {
    const layout = new Layout(testConfig(dir));
    await assert.rejects(withLock(layout, () => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await withLock(layout, () => Promise.resolve("again")), "again");
  });
});

Deno.test("lock: a second holder waits for the first", async () => {
  await withTempDir(async (dir) => {
    const layout = new Layout(testConfig(dir));
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => release = r);
    let entered!: () => void;
    const firstIn = new Promise<void>((r) => entered = r);
    const first = withLock(layout, async () => {
      order.push("first in");
      entered();
      await held;
      order.push("first out");
    });
    await firstIn;
    const second = withLock(layout, () => {
      order.push("second in");
      return Promise.resolve();
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(order, ["first in"], "the second waits while the first holds the lock");
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ["first in", "first out", "second in"]);
  });
});

Deno.test("lock: waiting for it stops when the operation is interrupted", async () => {
  await withTempDir(async (dir) => {
    const layout = new Layout(testConfig(dir));
    let release!: () => void;
    const held = new Promise<void>((r) => release = r);
    let entered!: () => void;
    const firstIn = new Promise<void>((r) => entered = r);
    const first = withLock(layout, async () => {
      entered();
      await held;
    });
    await firstIn;
    const controller = new AbortController();
    const reason = new InterruptedError("branch stop 'x' interrupted by SIGINT");
    let ran = false;
    const second = withOperationSignal(controller.signal, () =>
      withLock(layout, () => {
        ran = true;
        return Promise.resolve();
      }));
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(second, (e: unknown) => e === reason);
    assert.equal(ran, false);
    release();
    await first;
  });
});
