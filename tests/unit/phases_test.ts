/** The phase timer of the workflows (src/runtime/phases.ts), on a clock the test moves. */
import assert from "node:assert/strict";
import { Phases } from "../../src/runtime/phases.ts";

/** A clock that reads `now`, and a timer on it started at 0. */
function timer(): { clock: { now: number }; phases: Phases } {
  const clock = { now: 0 };
  return { clock, phases: new Phases(() => clock.now) };
}

Deno.test("phases: time records a step's duration and returns its value", async () => {
  const { clock, phases } = timer();
  clock.now = 5;
  const value = await phases.time("clone", () => {
    clock.now = 12.5;
    return Promise.resolve("cloned");
  });
  assert.equal(value, "cloned");
  assert.deepEqual(phases.done(), { clone: 7.5 });
});

Deno.test("phases: a synchronous step is timed too", async () => {
  const { clock, phases } = timer();
  assert.equal(await phases.time("snapshot", () => (clock.now = 3, 42)), 42);
  assert.deepEqual(phases.done(), { snapshot: 3 });
});

Deno.test("phases: a step that throws records nothing", async () => {
  const { clock, phases } = timer();
  await assert.rejects(
    phases.time("clone", () => {
      clock.now = 9;
      return Promise.reject(new Error("zfs clone failed"));
    }),
    /zfs clone failed/,
  );
  assert.deepEqual(phases.done(), {});
});

Deno.test("phases: the record lists phases in the order they were recorded", async () => {
  const { clock, phases } = timer();
  await phases.time("total", async () => {
    await phases.time("snapshot", () => clock.now = 1);
    await phases.time("clone", () => clock.now = 4);
  });
  phases.total();
  assert.deepEqual(Object.keys(phases.done()), ["snapshot", "clone", "total"]);
});

Deno.test("phases: total is the time since the timer was made", async () => {
  const clock = { now: 100 };
  const phases = new Phases(() => clock.now);
  await phases.time("ready", () => clock.now = 130);
  clock.now = 160;
  phases.total();
  assert.deepEqual(phases.done(), { ready: 30, total: 60 });
});

Deno.test("phases: a phase recorded twice keeps its last time; done is a copy", async () => {
  const { clock, phases } = timer();
  await phases.time("ready", () => clock.now = 2);
  const first = phases.done();
  await phases.time("ready", () => clock.now = 7);
  assert.deepEqual(first, { ready: 2 });
  assert.deepEqual(phases.done(), { ready: 5 });
});

Deno.test("phases: the default clock measures real time", async () => {
  const phases = new Phases();
  await phases.time("wait", () => new Promise((resolve) => setTimeout(resolve, 20)));
  assert.ok(phases.done().wait >= 15, JSON.stringify(phases.done()));
});
