/**
 * Only datasets zvpg made are branches: a user's dataset inside a branch (which inherits
 * the branch's zvpg:* properties) or a stray one under clones/ is reported, never taken
 * for a branch, never repaired, and never destroyed without --force naming it.
 */
import assert from "node:assert/strict";
import { assertCliError, itest, sh } from "../support/itest.ts";

type Check = { name: string; status: string; detail: string; hint?: string };

itest(
  "a user's dataset inside a branch is not a branch, and delete refuses to take it",
  async (env) => {
    await env.ok(["branch", "create", "testing"]);
    const dataset = `${env.pool}/clones/testing`;
    const mine = `${dataset}/mine`;
    const made = await sh("zfs", ["create", mine]);
    assert.equal(made.code, 0, made.stderr);
    await sh("zfs", ["snapshot", `${mine}@keep`]);

    const branches = await env.json<{ name: string }[]>(["branch", "list"]);
    assert.deepEqual(branches.map((b) => b.name), ["main", "testing"]);
    const snapshots = await env.json<{ name: string }[]>(["snapshot", "list"]);
    assert.ok(!snapshots.some((s) => s.name === "keep"), JSON.stringify(snapshots));

    // health passes (no "port claimed by testing, testing") and warns about the dataset
    const r = await env.zvpg(["status", "health", "-f", "json"]);
    const checks = JSON.parse(r.stdout).checks as Check[];
    assert.equal(r.code, 0, r.stdout);
    const ownership = checks.find((c) => c.name === "ownership")!;
    assert.equal(ownership.status, "warn");
    assert.match(ownership.detail, new RegExp(`${mine}`));
    assert.equal(checks.find((c) => c.name === "ports")!.status, "pass");

    const refused = await env.zvpg(["branch", "delete", "testing"]);
    assertCliError(refused, 1, new RegExp(`holds datasets zvpg did not make: ${mine}`));
    assert.ok((await env.datasets()).includes(mine), "the user's dataset survives");

    const forced = await env.zvpg(["branch", "delete", "testing", "--force", "-f", "json"]);
    assert.equal(forced.code, 0, forced.stderr);
    const removed = JSON.parse(forced.stdout);
    assert.equal(removed.branch, "testing");
    assert.deepEqual(removed.removedBranches, []);
    assert.deepEqual(removed.removedDatasets, [mine]);
    // the automatic snapshot main took for it goes with it
    assert.equal(removed.removedSnapshots.length, 1);
    assert.ok(!(await env.datasets()).some((d) => d.startsWith(dataset)));
  },
);

itest("delete --force lists the datasets it destroyed in text", async (env) => {
  await env.ok(["branch", "create", "b"]);
  await sh("zfs", ["create", `${env.pool}/clones/b/mine`]);
  const r = await env.ok(["branch", "delete", "b", "--force"]);
  assert.match(r.stdout, new RegExp(`Destroyed dataset '${env.pool}/clones/b/mine'`));
  assert.match(r.stdout, /Deleted branch 'b'/);
});

itest(
  "a stray dataset under clones/ is a warning that repair does not claim to fix",
  async (env) => {
    await sh("zfs", ["create", `${env.pool}/clones/stranger`]);
    const h = await env.zvpg(["status", "health", "-f", "json"]);
    assert.equal(h.code, 0, h.stdout);
    const checks = JSON.parse(h.stdout).checks as Check[];
    const ownership = checks.find((c) => c.name === "ownership")!;
    assert.equal(ownership.status, "warn");
    assert.match(ownership.detail, /clones\/stranger/);
    assert.ok(!/--repair/.test(ownership.hint ?? ""));
    const repaired = await env.zvpg(["status", "health", "--repair"]);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    assert.doesNotMatch(repaired.stdout, /REPAIRED.*stranger/);
    assert.match(repaired.stdout, /WARN\s+ownership/);
    assert.ok((await env.datasets()).includes(`${env.pool}/clones/stranger`));
  },
);
