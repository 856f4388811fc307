/**
 * `branch create --if-not-exists` through the strict fake runner: a running branch is
 * returned as it is, and one another live zvpg process is creating is waited for.
 */
import assert from "node:assert/strict";
import { StateError } from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { createContext } from "../../src/cli/session.ts";
import { BranchService } from "../../src/workflows/branch_service.ts";
import { ensureBranch } from "../../src/workflows/branch_ensure.ts";
import {
  BASELINE,
  branchScope,
  CLONES,
  FEATURE,
  FEATURE_PS,
  featureDataset,
  mainDataset,
  PID,
  pool,
} from "../cli/fixtures.ts";
import { testConfig, withTempDir } from "./helpers.ts";

function creating(pid: string) {
  const feature = featureDataset("creating");
  feature.props["zvpg:pid"] = pid;
  return [mainDataset(), BASELINE, CLONES, feature];
}

Deno.test("ensureBranch: a running branch is returned as it is, not created", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner(
      branchScope("feature/auth", FEATURE, { entries: pool("running"), ps: [FEATURE_PS] }),
    );
    const ctx = createContext(testConfig(dir), fake);
    const r = await ensureBranch(ctx, new BranchService(ctx), "feature/auth", { from: "baseline" });
    assert.deepEqual([r.created, r.branch.status], [false, "running"]);
    fake.assertDone();
  });
});

Deno.test("ensureBranch: a branch a live zvpg process is creating is waited for", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([
      ...branchScope("feature/auth", FEATURE, { entries: creating(PID), ps: [FEATURE_PS] }),
      ...branchScope("feature/auth", FEATURE, { entries: pool("running"), ps: [FEATURE_PS] }),
    ]);
    const ctx = createContext(testConfig(dir), fake);
    const r = await ensureBranch(ctx, new BranchService(ctx), "feature/auth");
    assert.deepEqual([r.created, r.branch.status], [false, "running"]);
    fake.assertDone();
  });
});

Deno.test("ensureBranch: a branch being deleted is refused, naming the process", async () => {
  await withTempDir(async (dir) => {
    const entries = creating(PID);
    entries[3].props["zvpg:state"] = "deleting";
    const fake = new FakeRunner(branchScope("feature/auth", FEATURE, { entries }));
    const ctx = createContext(testConfig(dir), fake);
    await assert.rejects(
      () => ensureBranch(ctx, new BranchService(ctx), "feature/auth"),
      (e: unknown) => e instanceof StateError && /being deleted by zvpg process/.test(e.message),
    );
  });
});
