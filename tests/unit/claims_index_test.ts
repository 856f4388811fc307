/**
 * The claims index through the strict fake runner: on a pool whose index is complete,
 * `snapshot create` and `branch start` read it instead of every branch (their calls are the
 * same for 2 and 100 branches), a claim is verified before it refuses a name or holds a
 * port, and `rebuildIndex` (repair) adds what is missing and prunes what is stale.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { PostgresProbe } from "../../src/adapters/postgres.ts";
import { AlreadyExistsError } from "../../src/errors.ts";
import { type ExpectedCall, FakeRunner } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { createContext } from "../../src/cli/session.ts";
import { BranchService } from "../../src/workflows/branch_service.ts";
import { SnapshotService } from "../../src/workflows/snapshot_service.ts";
import { rebuildIndex } from "../../src/ops/store/claims_index.ts";
import {
  parseClaims,
  portClaimKey,
  portClaimValue,
  snapshotClaimKey,
} from "../../src/domain/claims.ts";
import { planRepairs } from "../../src/domain/repair_plan.ts";
import { VERSION } from "../../src/version.ts";
import {
  branchGetCall,
  branchRecord,
  completeIndex,
  dockerPsCall,
  dockerPsLine,
  type FixtureEntry,
  freePortRange,
  INDEX_DATASET,
  inventoryOf,
  NOW,
  portClaimCall,
  runArgv,
  SLOT_PROPS,
  snapshotClaimCall,
  snapshotRecord as snap,
  testConfig,
  treeMounted,
  withTempDir,
  zfsGetNamesCall,
} from "./helpers.ts";

function main(state = "stopped", port = "6001"): FixtureEntry {
  return {
    name: "tpool/data",
    props: {
      type: "filesystem",
      createtxg: "10",
      "zvpg:branch": "main",
      "zvpg:state": state,
      "zvpg:port": port,
    },
  };
}

function branch(name: string, props: Record<string, string> = {}): FixtureEntry {
  return {
    name: `tpool/clones/${name}`,
    props: {
      type: "filesystem",
      createtxg: "100",
      origin: "tpool/data@base",
      "zvpg:branch": name,
      "zvpg:parent": "main",
      "zvpg:state": "stopped",
      "zvpg:created": NOW.toISOString(),
      ...props,
    },
  };
}

function snapshotEntry(dataset: string, name: string): FixtureEntry {
  return {
    name: `${dataset}@${name}`,
    props: { type: "snapshot", createtxg: "50", "zvpg:taken": NOW.toISOString() },
  };
}

function snapshotCall(fullName: string): ExpectedCall {
  return {
    argv: [
      "zfs",
      "snapshot",
      "-o",
      "zvpg:message=",
      "-o",
      `zvpg:taken=${NOW.toISOString()}`,
      "-o",
      `zvpg:tool=zvpg/${VERSION}`,
      fullName,
    ],
  };
}

function makeContext(
  dir: string,
  calls: ExpectedCall[],
  config: Parameters<typeof testConfig>[1] = {},
): { ctx: Context; fake: FakeRunner } {
  const fake = new FakeRunner(calls);
  const ctx = createContext(testConfig(dir, config), fake);
  ctx.mounts = treeMounted(ctx.layout);
  ctx.now = () => NOW;
  ctx.pg = new PostgresProbe(() => Promise.resolve("ready"));
  return { ctx, fake };
}

/** A pool of main (with snapshot `base`) and `count` stopped branches, all claimed. */
function crowd(count: number): { entries: FixtureEntry[]; claims: Record<string, string> } {
  const entries = [main(), snapshotEntry("tpool/data", "base")];
  const claims: Record<string, string> = { [snapshotClaimKey("base")]: "main" };
  for (let i = 0; i < count; i++) {
    entries.push(branch(`b${i}`, { "zvpg:port": String(7000 + i) }));
    entries.push(snapshotEntry(`tpool/clones/b${i}`, `s${i}`));
    claims[snapshotClaimKey(`s${i}`)] = `b${i}`;
  }
  return { entries, claims };
}

Deno.test("snapshot create: with a complete index the calls are the same for 2 and 100 branches", async () => {
  await withTempDir(async (dir) => {
    const argvs: string[][][] = [];
    for (const count of [2, 100]) {
      const { entries, claims } = crowd(count);
      const { ctx, fake } = makeContext(dir, [
        branchGetCall(entries, ["tpool/data"]),
        completeIndex(claims),
        dockerPsCall("", "main"),
        snapshotClaimCall("new", "main"),
        snapshotCall("tpool/data@new"),
        zfsGetNamesCall([...entries, snapshotEntry("tpool/data", "new")], ["tpool/data@new"]),
      ]);
      assert.equal((await new SnapshotService(ctx).create("new")).name, "new");
      fake.assertDone();
      // nothing reads the clones dataset's children or a name on every branch
      for (const argv of fake.calls) {
        assert.ok(!argv.includes("-d") && !argv.includes("-r"), argv.join(" "));
        assert.ok(argv.length < 12, argv.join(" "));
      }
      argvs.push(fake.calls);
    }
    assert.deepEqual(argvs[0], argvs[1]);
  });
});

Deno.test("snapshot create: a claimed name is refused once its snapshot is found; a stale claim is not", async () => {
  await withTempDir(async (dir) => {
    const { entries, claims } = crowd(3);
    const taken = makeContext(dir, [
      branchGetCall(entries, ["tpool/data"]),
      completeIndex(claims),
      dockerPsCall("", "main"),
      // only the one snapshot the claim names is read
      zfsGetNamesCall(entries, ["tpool/clones/b1@s1"]),
    ]);
    await assert.rejects(new SnapshotService(taken.ctx).create("s1"), (e: unknown) => {
      assert.ok(e instanceof AlreadyExistsError);
      assert.equal(e.message, "snapshot 's1' already exists (on branch 'b1')");
      return true;
    });
    taken.fake.assertDone();

    // the claim of 'gone' names a snapshot that no longer exists: the name is free again
    const stale = { ...claims, [snapshotClaimKey("gone")]: "b0" };
    const free = makeContext(dir, [
      branchGetCall(entries, ["tpool/data"]),
      completeIndex(stale),
      dockerPsCall("", "main"),
      zfsGetNamesCall(entries, ["tpool/clones/b0@gone"]),
      snapshotClaimCall("gone", "main"),
      snapshotCall("tpool/data@gone"),
      zfsGetNamesCall([...entries, snapshotEntry("tpool/data", "gone")], ["tpool/data@gone"]),
    ]);
    assert.equal((await new SnapshotService(free.ctx).create("gone")).branch, "main");
    free.fake.assertDone();
  });
});

Deno.test("branch start: with a complete index a verified claim holds its port, a stale one does not", async () => {
  await withTempDir(async (dir) => {
    const start = freePortRange(4);
    const entries = (devState: string) => [
      main("running"),
      snapshotEntry("tpool/data", "base"),
      // recorded creating on start+1 with no container (a create under way elsewhere)
      branch("other", { "zvpg:state": "creating", "zvpg:port": String(start + 1) }),
      branch("dev", { "zvpg:state": devState, "zvpg:port": String(start + 1) }),
    ];
    const claims = {
      [portClaimKey("tpool/data")]: portClaimValue(6001, "tpool/data"),
      [portClaimKey("tpool/clones/other")]: portClaimValue(start + 1, "tpool/clones/other"),
      // left by a branch since deleted: its dataset is gone
      [portClaimKey("tpool/clones/gone")]: portClaimValue(start, "tpool/clones/gone"),
    };
    const mainLine = dockerPsLine({ branch: "main", port: 6001, name: "zvpg_main_6001" });
    const { ctx, fake } = makeContext(dir, [], {
      branchPortStart: start,
      branchPortEnd: start + 3,
      readyTimeoutSeconds: 2,
    });
    mkdirSync(ctx.layout.pgdata("dev"), { recursive: true });
    const dev = "tpool/clones/dev";
    fake.expect(
      branchGetCall(entries("stopped"), [dev]),
      completeIndex(claims),
      dockerPsCall(mainLine + "\n"),
      // the claims no container covers are verified: one read of just those datasets
      zfsGetNamesCall(entries("stopped"), ["tpool/clones/gone", "tpool/clones/other"], SLOT_PROPS),
      { argv: runArgv(ctx, "dev", start), result: { stdout: "f00d\n" } },
      portClaimCall(dev, start),
      { argv: ["zfs", "set", `zvpg:port=${start}`, dev] },
      { argv: ["zfs", "set", "zvpg:runtime=docker", dev] },
      { argv: ["zfs", "set", "zvpg:state=running", dev] },
      branchGetCall(entries("running"), [dev]),
      dockerPsCall(dockerPsLine({ branch: "dev", port: start, name: `zvpg_dev_${start}` }), "dev"),
    );
    // its previous port start+1 is held by 'other'; start is free though 'gone' claimed it
    const record = await new BranchService(ctx).start("dev");
    fake.assertDone();
    assert.equal(record.port, start);
  });
});

Deno.test("rebuildIndex: adds unclaimed names and ports, prunes stale claims, marks it complete", async () => {
  await withTempDir(async (dir) => {
    const inventory = inventoryOf([
      branchRecord("main", { dataset: "tpool/data", state: "running", lastPort: 6001 }),
      branchRecord("a", { dataset: "tpool/clones/a", state: "stopped", lastPort: 6002 }),
    ], { snapshots: [snap("base", "main"), snap("hand", "a")] });
    const index = parseClaims({
      [snapshotClaimKey("base")]: "main",
      [snapshotClaimKey("old")]: "a",
    });
    const { ctx, fake } = makeContext(dir, [
      snapshotClaimCall("hand", "a"),
      portClaimCall("tpool/data", 6001),
      { argv: ["zfs", "inherit", snapshotClaimKey("old"), INDEX_DATASET] },
      { argv: ["zfs", "set", "zvpg:index=1", INDEX_DATASET] },
    ]);
    const drift = await rebuildIndex(ctx, inventory, index);
    fake.assertDone();
    assert.deepEqual(drift.snapshots, [{ name: "hand", branch: "a" }]);
  });
});

Deno.test("planRepairs: a rebuild of the index comes last, after the steps that change the pool", () => {
  const inventory = inventoryOf([branchRecord("main", { isDefault: true })]);
  const steps = planRepairs(inventory, [
    { kind: "index", index: { incomplete: true, snapshots: [], ports: [], stale: [] } },
    { kind: "stray-dir", dir: "/x" },
  ], { unusable: new Map(), remounted: new Set() });
  assert.deepEqual(steps.map((s) => s.do), ["remove-dir", "rebuild-index"]);
});
