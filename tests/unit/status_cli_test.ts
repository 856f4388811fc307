/**
 * `status health --repair` lines: what was attempted and whether it worked, never a
 * success word for a failure.
 */
import assert from "node:assert/strict";
import { repairLine } from "../../src/cli/status.ts";

Deno.test("repairLine: a success names the action and why", () => {
  assert.equal(
    repairLine({
      target: "branch 'b'",
      action: "restart",
      ok: true,
      reason: "its container was exited",
    }),
    "REPAIRED  branch 'b': restart (its container was exited)",
  );
});

Deno.test("repairLine: a failure says it failed and why, with no past-tense success word", () => {
  const line = repairLine({
    target: "branch 'b'",
    action: "restart",
    ok: false,
    reason: "its container was exited",
    detail: "PostgreSQL of branch 'b' exited with code 1",
  });
  assert.equal(
    line,
    "FAILED    branch 'b': restart (its container was exited) failed: PostgreSQL of branch 'b' exited with code 1",
  );
  assert.doesNotMatch(line, /REPAIRED|UNFIXED|restarted|removed|rolled back|completed/);
});
