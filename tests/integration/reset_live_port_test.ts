/**
 * `branch reset` keeps the port a branch serves on, also when its records name another:
 * a `branch start` killed after its container ran (before it recorded the port) leaves
 * the old port recorded. Found by the chaos suite (seed 14: a reset killed after its
 * rollback was repaired onto the recorded port, moving the branch and its URI).
 *
 * @module
 */
import assert from "node:assert/strict";
import { itest } from "../support/itest.ts";
import { assertHealthy } from "../support/fault_support.ts";

interface Branch {
  status: string;
  port: number | null;
  lastPort: number | null;
}

itest(
  "branch reset: a branch whose killed start left another port recorded stays on the port it serves, done in place, swapped, or killed and repaired",
  async (env) => {
    const info = (name: string) => env.json<Branch>(["branch", "info", name]);
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "r", "--from", "base"]);
    const cases: [string, string[], Record<string, string>][] = [
      ["in place", [], {}],
      ["swapped", ["--to", "base"], {}],
      ["in place, killed after the rollback", [], {
        ZVPG_FAULT: "branch.reset.after-rollback",
      }],
    ];
    // a stop killed after its mark leaves it running, recorded stopped (its port claim
    // released): the reset records it running again and claims its port
    const port = await env.port("r");
    const stop = await env.zvpg(["branch", "stop", "r"], { ZVPG_FAULT: "branch.stop.after-mark" });
    assert.notEqual(stop.code, 0);
    assert.equal((await info("r")).status, "running");
    await env.ok(["branch", "reset", "r"]);
    assert.equal((await info("r")).port, port, "after a killed stop: the reset kept the port");
    await assertHealthy(env, "after a reset of a branch a killed stop left running");
    for (const [what, args, fault] of cases) {
      const recorded = await env.port("r");
      await env.ok(["branch", "stop", "r"]);
      // its port is taken meanwhile: the start picks another, and is killed before it
      // records it
      await env.ok(["branch", "create", "squat", "--from", "base", "--port", String(recorded)]);
      const killed = await env.zvpg(["branch", "start", "r"], {
        ZVPG_FAULT: "container.after-run",
      });
      assert.notEqual(killed.code, 0, what);
      const live = (await info("r")).port!;
      assert.notEqual(live, recorded, `${what}: the killed start runs r on another port`);
      await env.ok(["branch", "delete", "squat"]);
      const reset = await env.zvpg(["branch", "reset", "r", ...args], fault);
      if (fault.ZVPG_FAULT) {
        assert.notEqual(reset.code, 0, what);
        await env.zvpg(["status", "health", "--repair"]);
      } else assert.equal(reset.code, 0, `${what}: ${reset.stderr}`);
      const after = await info("r");
      assert.equal(after.status, "running", what);
      assert.equal(after.port, live, `${what}: the reset kept the port r served on`);
      assert.equal(after.lastPort, live, `${what}: and records it`);
      await assertHealthy(env, `after the reset ${what}`);
    }
  },
);
