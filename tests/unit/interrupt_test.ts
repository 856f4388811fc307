/**
 * Ctrl-C handling (src/runtime/interrupt.ts) with real signals sent to this process and
 * real child programs: the first signal stops the operation and its programs, shielded
 * clean-up still runs, the result is always exit 130, and a second signal quits at once
 * (in a child zvpg-like process, since it exits). In-process tests send SIGTERM: the test
 * runner itself answers SIGINT.
 */
import assert from "node:assert/strict";
import { InterruptedError } from "../../src/errors.ts";
import { DenoCommandRunner } from "../../src/runtime/runner.ts";
import {
  interrupted,
  nameOperation,
  rolledBack,
  shielded,
  throwIfInterrupted,
  withInterrupts,
} from "../../src/runtime/interrupt.ts";

const runner = new DenoCommandRunner();
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

/** Sends `signal` to this process after `ms`. */
function signalSelf(signal: Deno.Signal, ms: number): void {
  setTimeout(() => Deno.kill(Deno.pid, signal), ms);
}

test("interrupt: the first SIGTERM kills the running program and ends in exit 130", async () => {
  signalSelf("SIGTERM", 200);
  const started = performance.now();
  await assert.rejects(
    withInterrupts("branch create 'x'", () => runner.run("sleep", ["34.4159"])),
    (e: unknown) => {
      assert.ok(e instanceof InterruptedError, String(e));
      assert.equal(e.exitCode, 130);
      assert.equal(e.message, "branch create 'x' interrupted by SIGTERM");
      assert.match(e.hint ?? "", /zvpg status health/);
      return true;
    },
  );
  assert.ok(performance.now() - started < 2000);
  const left = await new Deno.Command("pgrep", { args: ["-f", "sleep 34.4159"] }).output();
  assert.equal(left.code, 1, "no child left running");
});

test("interrupt: shielded clean-up still runs programs after the first signal", async () => {
  const cleaned: string[] = [];
  signalSelf("SIGTERM", 100);
  await assert.rejects(
    withInterrupts("branch start 'y'", async () => {
      try {
        await runner.run("sleep", ["5"]);
      } catch (error) {
        assert.equal(interrupted(), true);
        await shielded(async () => {
          assert.equal(interrupted(), false, "clean-up is not interrupted");
          throwIfInterrupted();
          cleaned.push((await runner.run("echo", ["removed"])).stdout.trim());
        });
        // outside the shield the operation is still stopped
        await assert.rejects(runner.run("echo", ["no"]), InterruptedError);
        throw rolledBack(error);
      }
    }),
    (e: unknown) => {
      assert.ok(e instanceof InterruptedError);
      assert.equal(e.message, "branch start 'y' interrupted by SIGTERM: removed what it had made");
      assert.equal(e.hint, undefined);
      return true;
    },
  );
  assert.deepEqual(cleaned, ["removed"]);
});

test("interrupt: an operation that ends after the signal still ends in exit 130", async () => {
  // no program ran: the action finishes, but the user asked to stop
  await assert.rejects(
    withInterrupts("snapshot create 's'", async () => {
      Deno.kill(Deno.pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      return "done";
    }),
    /snapshot create 's' interrupted by SIGTERM/,
  );
  // another failure caused by the interrupt is reported as the interrupt
  await assert.rejects(
    withInterrupts("branch delete 'd'", async () => {
      Deno.kill(Deno.pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      throw new Error("dataset does not exist");
    }),
    (e: unknown) => e instanceof InterruptedError && e.exitCode === 130,
  );
});

test("interrupt: the command names the operation; a read-only one has no hint", async () => {
  await assert.rejects(
    withInterrupts("zvpg", async () => {
      nameOperation("branch list", { mutating: false });
      signalSelf("SIGTERM", 50);
      await runner.run("sleep", ["5"]);
    }, { mutating: false }),
    (e: unknown) => {
      assert.ok(e instanceof InterruptedError);
      assert.equal(e.message, "branch list interrupted by SIGTERM");
      assert.equal(e.hint, undefined);
      return true;
    },
  );
  // nested: renames the operation under way, one listener only
  await assert.rejects(
    withInterrupts("zvpg", () =>
      withInterrupts("init env", async () => {
        signalSelf("SIGTERM", 50);
        await runner.run("sleep", ["5"]);
      })),
    /^InterruptedError: init env interrupted by SIGTERM$/,
  );
});

test("interrupt: without an operation nothing is interrupted", async () => {
  assert.equal(interrupted(), false);
  throwIfInterrupted();
  assert.equal(await shielded(() => Promise.resolve(7)), 7);
  assert.equal(await withInterrupts("quick", () => Promise.resolve(8)), 8);
  const other = new Error("x");
  assert.equal(rolledBack(other), other);
});

test("interrupt: a second signal kills the programs and quits at once", async () => {
  const script = `
    import { withInterrupts, shielded } from ${
    JSON.stringify(
      new URL("../../src/runtime/interrupt.ts", import.meta.url).href,
    )
  };
    import { DenoCommandRunner } from ${
    JSON.stringify(
      new URL("../../src/runtime/runner.ts", import.meta.url).href,
    )
  };
    const runner = new DenoCommandRunner();
    await withInterrupts("op", async () => {
      try { await runner.run("sleep", ["35.4159"]); }
      catch { console.log("cleaning"); await shielded(() => runner.run("sleep", ["36.4159"])); }
    });`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await wait(1500);
  child.kill("SIGINT");
  await wait(500);
  child.kill("SIGINT");
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 130, stderr);
  assert.equal(new TextDecoder().decode(out.stdout), "cleaning\n");
  assert.match(stderr, /SIGINT again: quitting at once/);
  for (const marker of ["sleep 35.4159", "sleep 36.4159"]) {
    const left = await new Deno.Command("pgrep", { args: ["-f", marker] }).output();
    assert.equal(left.code, 1, `${marker} left running`);
  }
});

Deno.test("interrupt: rolledBack says what the clean-up did, and leaves other errors alone", () => {
  const error = new InterruptedError("branch reset 'b' interrupted by SIGINT", {
    hint: "run 'zvpg status health'",
  });
  const undone = rolledBack(error) as InterruptedError;
  assert.equal(undone.message, "branch reset 'b' interrupted by SIGINT: removed what it had made");
  assert.equal(undone.hint, undefined);
  assert.equal(undone.exitCode, 130);
  // past its point of no return an operation finishes: it never says it undid anything
  const finished = rolledBack(error, "finished it (its old data was gone)") as InterruptedError;
  assert.equal(
    finished.message,
    "branch reset 'b' interrupted by SIGINT: finished it (its old data was gone)",
  );
  const other = new Error("zfs failed");
  assert.equal(rolledBack(other, "finished it"), other);
});
