/**
 * The snapshot service through the strict fake runner: every zfs and runtime call is
 * scripted, in order, with its exact argv.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  AlreadyExistsError,
  BranchNotFoundError,
  DependencyError,
  InvalidNameError,
  NotInitializedError,
  SnapshotNotFoundError,
  StateError,
  UsageError,
} from "../../src/errors.ts";
import { type ExpectedCall, FakeRunner } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { createContext } from "../../src/cli/session.ts";
import { SnapshotService } from "../../src/workflows/snapshot_service.ts";
import { MAX_MESSAGE_BYTES } from "../../src/ops/take_snapshot.ts";
import { VERSION } from "../../src/version.ts";
import {
  branchGetCall,
  dockerPsCall,
  dockerPsLine,
  execSqlCall,
  type FixtureEntry,
  indexCall,
  NOW,
  portReleaseCall,
  slotsCall,
  snapshotNamedCall,
  snapshotReleaseCall,
  testConfig,
  treeMounted,
  withTempDir,
  zfsGetCall,
  zfsGetNamesCall,
  zfsGetOutput,
} from "./helpers.ts";

function mainDataset(state = "stopped", port = "6001"): FixtureEntry {
  return {
    name: "tpool/data",
    props: {
      type: "filesystem",
      used: "42151936",
      referenced: "41930752",
      creation: "1732448005",
      createtxg: "10",
      "zvpg:branch": "main",
      "zvpg:state": state,
      "zvpg:port": port,
    },
  };
}

function snapshot(
  dataset: string,
  name: string,
  txg: number,
  props: Record<string, string> = {},
): FixtureEntry {
  return {
    name: `${dataset}@${name}`,
    props: {
      type: "snapshot",
      used: String(1000 + txg),
      referenced: "41930752",
      creation: String(1732448005 + txg),
      createtxg: String(txg),
      "zvpg:message": `message ${name}`,
      "zvpg:taken": new Date(Date.UTC(2026, 10, 24, 0, 0, txg)).toISOString(),
      "zvpg:tool": `zvpg/${VERSION}`,
      ...props,
    },
  };
}

function clone(
  branch: string,
  encoded: string,
  origin: string,
  state = "stopped",
  port = "6002",
): FixtureEntry {
  return {
    name: `tpool/clones/${encoded}`,
    props: {
      type: "filesystem",
      used: "331776",
      referenced: "41897984",
      createtxg: "100",
      origin,
      mountpoint: `/unused/${encoded}`,
      "zvpg:branch": branch,
      "zvpg:parent": "main",
      "zvpg:state": state,
      "zvpg:port": port,
      "zvpg:created": "2026-11-24T12:00:00.000Z",
    },
  };
}

const CLONES: FixtureEntry = { name: "tpool/clones", props: { type: "filesystem" } };

/** The inventory read with the remote-tracking snapshots. */
const TRACKING = { tracking: true };

/** Remote `origin`'s tracking dataset of its branch main. */
const ORIGIN_MAIN = "tpool/remotes/origin/main";

/** `tpool/remotes/origin/main` holding `names` pulled from `origin` (taken on its main). */
function pulledFromOrigin(...names: string[]): FixtureEntry[] {
  return [
    { name: "tpool/remotes", props: { type: "filesystem" } },
    { name: "tpool/remotes/origin", props: { type: "filesystem" } },
    { name: ORIGIN_MAIN, props: { type: "filesystem" } },
    ...names.map((n, i) => {
      const { name, props } = snapshot(ORIGIN_MAIN, n, 200 + i, { "zvpg:branch": "main" });
      const { "zvpg:tool": _tool, ...rest } = props;
      return { name, props: rest };
    }),
  ];
}

/** The `userrefs` read of `snapshots`, none held. */
function noHolds(...snapshots: string[]): ExpectedCall {
  return zfsGetNamesCall(
    snapshots.map((name) => ({ name, props: { type: "snapshot", userrefs: "0" } })),
    snapshots,
    ["type", "userrefs"],
  );
}

/** A context on a fake runner expecting `calls`, with the fixed clock. */
function makeContext(dir: string, calls: ExpectedCall[]): { ctx: Context; fake: FakeRunner } {
  const fake = new FakeRunner(calls);
  const ctx = createContext(testConfig(dir), fake);
  ctx.now = () => NOW;
  ctx.mounts = treeMounted(ctx.layout);
  return { ctx, fake };
}

/**
 * What a snapshot create reads before it takes the snapshot: the default branch's dataset
 * and the branch's, the branch slots, the branch's containers, then the name on every slot.
 */
function createReads(
  entries: FixtureEntry[],
  name: string,
  branch = "main",
  ps = "",
): ExpectedCall[] {
  const dataset = branch === "main" ? "tpool/data" : `tpool/clones/${branch.replace("/", "_s")}`;
  return [
    branchGetCall(entries, [dataset]),
    indexCall(),
    dockerPsCall(ps, branch),
    slotsCall(entries),
    snapshotNamedCall(entries, name),
  ];
}

function snapshotCall(fullName: string, message: string): ExpectedCall {
  return {
    argv: [
      "zfs",
      "snapshot",
      "-o",
      `zvpg:message=${message}`,
      "-o",
      `zvpg:taken=${NOW.toISOString()}`,
      "-o",
      `zvpg:tool=zvpg/${VERSION}`,
      fullName,
    ],
    check: (o) => assert.equal(o.allowFailure, undefined),
  };
}

Deno.test("snapshot create: a stopped default branch is snapshotted without CHECKPOINT", async () => {
  await withTempDir(async (dir) => {
    const before = [mainDataset(), CLONES];
    const after = [
      mainDataset(),
      snapshot("tpool/data", "baseline", 20, {
        "zvpg:message": "Initial production state",
        "zvpg:taken": NOW.toISOString(),
      }),
      CLONES,
    ];
    const { ctx, fake } = makeContext(dir, [
      ...createReads(before, "baseline"),
      snapshotCall("tpool/data@baseline", "Initial production state"),
      zfsGetNamesCall(after, ["tpool/data@baseline"]),
    ]);
    const record = await new SnapshotService(ctx).create("baseline", {
      message: "Initial production state",
    });
    fake.assertDone();
    assert.deepEqual(record, {
      name: "baseline",
      zfsName: "tpool/data@baseline",
      branch: "main",
      created: NOW,
      message: "Initial production state",
      used: 1020,
      referenced: 41930752,
      dependents: [],
      tool: `zvpg/${VERSION}`,
      auto: false,
    });
    // the lock file was taken in the mount directory
    assert.ok(existsSync(join(ctx.config.mountDir, ".zvpg.lock")));
  });
});

Deno.test("snapshot create: tabs and newlines in the message are encoded", async () => {
  await withTempDir(async (dir) => {
    const message = 'line 1\nline 2\twith tab and "quotes" — é';
    const encoded = 'line 1\\nline 2\\twith tab and \\"quotes\\" — é';
    const after = [
      mainDataset(),
      snapshot("tpool/data", "s1", 20, { "zvpg:message": encoded }),
    ];
    const { ctx, fake } = makeContext(dir, [
      ...createReads([mainDataset()], "s1"),
      snapshotCall("tpool/data@s1", encoded),
      zfsGetNamesCall(after, ["tpool/data@s1"]),
    ]);
    const record = await new SnapshotService(ctx).create("s1", { message });
    assert.equal(record.message, message);
    fake.assertDone();
  });
});

Deno.test("snapshot create: a running branch gets a CHECKPOINT first", async () => {
  await withTempDir(async (dir) => {
    const calls = (checkpoint: ExpectedCall["result"]): ExpectedCall[] => [
      ...createReads(
        [mainDataset("running")],
        "hot",
        "main",
        dockerPsLine({ branch: "main", port: 6001, name: "zvpg_main_6001" }) + "\n",
      ),
      execSqlCall(`${owner.uid}:${owner.gid}`, "zvpg_main_6001", "CHECKPOINT", checkpoint),
      snapshotCall("tpool/data@hot", ""),
      zfsGetNamesCall([mainDataset("running"), snapshot("tpool/data", "hot", 20)], [
        "tpool/data@hot",
      ]),
    ];
    const pgdata = join(dir, "mnt", "data", "pgdata");
    mkdirSync(pgdata, { recursive: true });
    const owner = { uid: statSync(pgdata).uid, gid: statSync(pgdata).gid };

    const ok = makeContext(dir, calls({ code: 0 }));
    assert.equal((await new SnapshotService(ok.ctx).create("hot")).name, "hot");
    ok.fake.assertDone();

    // a failed CHECKPOINT is only a warning: the snapshot is still taken
    const failing = makeContext(dir, calls({ code: 2, stderr: "psql: error: connection failed" }));
    assert.equal((await new SnapshotService(failing.ctx).create("hot")).name, "hot");
    failing.fake.assertDone();
  });
});

Deno.test("snapshot create: --branch snapshots that branch's dataset", async () => {
  await withTempDir(async (dir) => {
    const base = [
      mainDataset(),
      snapshot("tpool/data", "baseline", 20),
      CLONES,
      clone("feature/auth", "feature_sauth", "tpool/data@baseline"),
    ];
    const { ctx, fake } = makeContext(dir, [
      ...createReads(base, "mig", "feature/auth"),
      snapshotCall("tpool/clones/feature_sauth@mig", "after migration"),
      zfsGetNamesCall([
        ...base,
        snapshot("tpool/clones/feature_sauth", "mig", 30, { "zvpg:message": "after migration" }),
      ], ["tpool/clones/feature_sauth@mig"]),
    ]);
    const record = await new SnapshotService(ctx).create("mig", {
      branch: "feature/auth",
      message: "after migration",
    });
    assert.equal(record.branch, "feature/auth");
    assert.equal(record.zfsName, "tpool/clones/feature_sauth@mig");
    fake.assertDone();
  });
});

Deno.test("snapshot create: an existing name is refused without any zfs snapshot call", async () => {
  await withTempDir(async (dir) => {
    const entries = [
      mainDataset(),
      CLONES,
      clone("feature/auth", "feature_sauth", "tpool/data@baseline"),
      snapshot("tpool/clones/feature_sauth", "taken", 30),
      snapshot("tpool/data", "baseline", 20),
    ];
    const { ctx, fake } = makeContext(dir, createReads(entries, "taken"));
    await assert.rejects(new SnapshotService(ctx).create("taken"), (e: unknown) => {
      assert.ok(e instanceof AlreadyExistsError);
      assert.equal(e.message, "snapshot 'taken' already exists (on branch 'feature/auth')");
      return true;
    });
    fake.assertDone();
    assert.equal(fake.calls.length, 5);
  });
});

Deno.test("snapshot create: a branch being created or deleted is refused", async () => {
  await withTempDir(async (dir) => {
    for (const state of ["creating", "deleting"]) {
      const entries = [
        mainDataset(),
        snapshot("tpool/data", "baseline", 20),
        clone("wip", "wip", "tpool/data@baseline", state),
      ];
      const { ctx, fake } = makeContext(dir, createReads(entries, "s", "wip"));
      await assert.rejects(
        new SnapshotService(ctx).create("s", { branch: "wip" }),
        (e: unknown) => {
          assert.ok(e instanceof StateError);
          assert.match(
            e.message,
            new RegExp(`^branch 'wip' is being ${state.slice(0, -3)}ed by another zvpg process$`),
          );
          return true;
        },
      );
      fake.assertDone();
    }
  });
});

Deno.test("snapshot create: refused before init, for an unknown branch, for bad input", async () => {
  await withTempDir(async (dir) => {
    const notInit = makeContext(dir, [branchGetCall([]), indexCall(), dockerPsCall("", "main"), {
      argv: ["zpool", "list", "-H", "-p", "-o", "name,health,size,allocated,free", "tpool"],
      result: { code: 1, stderr: "cannot open 'tpool': no such pool\n" },
    }]);
    await assert.rejects(new SnapshotService(notInit.ctx).create("s"), NotInitializedError);
    notInit.fake.assertDone();

    const unknown = makeContext(dir, [
      branchGetCall([mainDataset()], ["tpool/clones/nope"]),
      indexCall(),
      dockerPsCall("", "nope"),
      slotsCall([mainDataset()]),
    ]);
    await assert.rejects(
      new SnapshotService(unknown.ctx).create("s", { branch: "nope" }),
      BranchNotFoundError,
    );
    unknown.fake.assertDone();

    // names and messages are checked before anything runs
    const none = makeContext(dir, []);
    const service = new SnapshotService(none.ctx);
    for (const bad of ["tpool/data@x", "-rf", "", "a b", "x".repeat(65)]) {
      await assert.rejects(service.create(bad), InvalidNameError);
    }
    await assert.rejects(
      service.create("ok", { message: "x".repeat(MAX_MESSAGE_BYTES + 1) }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /too long \(1001 bytes encoded, at most 1000\)/);
        return true;
      },
    );
    // the limit counts encoded bytes: 400 newlines are 800 bytes, 600 are 1200
    await assert.rejects(service.create("ok", { message: "\n".repeat(600) }), UsageError);
    assert.deepEqual(none.fake.calls, []);
  });
});

Deno.test("snapshot list: one zfs call whatever the count, oldest first", async () => {
  await withTempDir(async (dir) => {
    for (const count of [0, 1, 250]) {
      const entries: FixtureEntry[] = [mainDataset()];
      // listed newest first by zfs; txg decides the order
      for (let i = count; i >= 1; i--) entries.push(snapshot("tpool/data", `s${i}`, 10 + i));
      const { ctx, fake } = makeContext(dir, [
        zfsGetCall(zfsGetOutput(entries), undefined, TRACKING),
      ]);
      const list = await new SnapshotService(ctx).list();
      fake.assertDone();
      assert.equal(fake.calls.length, 1);
      assert.equal(list.length, count);
      assert.deepEqual(list.map((s) => s.name), [...Array(count)].map((_, i) => `s${i + 1}`));
    }
  });
});

Deno.test("snapshot list: --branch filters and checks the branch", async () => {
  await withTempDir(async (dir) => {
    const entries = [
      mainDataset(),
      snapshot("tpool/data", "baseline", 20),
      CLONES,
      clone("feature/auth", "feature_sauth", "tpool/data@baseline"),
      snapshot("tpool/clones/feature_sauth", "mig", 30),
    ];
    const { ctx, fake } = makeContext(dir, [
      zfsGetCall(zfsGetOutput(entries), undefined, TRACKING),
      zfsGetCall(zfsGetOutput(entries), undefined, TRACKING),
      zfsGetCall(zfsGetOutput(entries), undefined, TRACKING),
    ]);
    const service = new SnapshotService(ctx);
    assert.deepEqual((await service.list({ branch: "feature/auth" })).map((s) => s.name), ["mig"]);
    assert.deepEqual((await service.list({ branch: "main" })).map((s) => s.name), ["baseline"]);
    await assert.rejects(service.list({ branch: "nope" }), BranchNotFoundError);
    fake.assertDone();
  });
});

Deno.test("snapshot list: pulled snapshots come after this pool's, as <remote>/<name>", async () => {
  await withTempDir(async (dir) => {
    const entries = [
      mainDataset(),
      snapshot("tpool/data", "baseline", 20),
      CLONES,
      clone("feature/auth", "feature_sauth", `${ORIGIN_MAIN}@s2`),
      ...pulledFromOrigin("s1", "s2"),
    ];
    const call = () => zfsGetCall(zfsGetOutput(entries), undefined, TRACKING);
    const { ctx, fake } = makeContext(dir, [call(), call(), call(), call()]);
    const service = new SnapshotService(ctx);
    const all = await service.list();
    assert.deepEqual(
      all.map((s) => [s.name, s.branch, s.remote ?? null, s.dependents]),
      [
        ["baseline", "main", null, []],
        ["origin/s1", "origin/main", "origin", []],
        ["origin/s2", "origin/main", "origin", ["feature/auth"]],
      ],
    );
    assert.equal(all[2].zfsName, `${ORIGIN_MAIN}@s2`);
    // --branch takes a remote-tracking branch as <remote>/<branch>
    const tracked = await service.list({ branch: "origin/main" });
    assert.deepEqual(tracked.map((s) => s.name), ["origin/s1", "origin/s2"]);
    assert.deepEqual((await service.list({ branch: "main" })).map((s) => s.name), ["baseline"]);
    await assert.rejects(service.list({ branch: "origin/dev" }), BranchNotFoundError);
    fake.assertDone();
  });
});

Deno.test("snapshot info: one zfs call; a missing snapshot is SnapshotNotFoundError", async () => {
  await withTempDir(async (dir) => {
    const entries = [
      mainDataset(),
      snapshot("tpool/data", "baseline", 20),
      CLONES,
      clone("feature/auth", "feature_sauth", "tpool/data@baseline"),
    ];
    const { ctx, fake } = makeContext(dir, [
      zfsGetCall(zfsGetOutput(entries)),
      zfsGetCall(zfsGetOutput(entries)),
    ]);
    const service = new SnapshotService(ctx);
    const info = await service.info("baseline");
    assert.deepEqual(info.dependents, ["feature/auth"]);
    assert.equal(info.used, 1020);
    await assert.rejects(service.info("nope"), (e: unknown) => {
      assert.ok(e instanceof SnapshotNotFoundError);
      assert.equal(e.message, "snapshot 'nope' does not exist");
      return true;
    });
    await assert.rejects(service.info("pool/fs@snap"), InvalidNameError);
    fake.assertDone();
  });
});

Deno.test("snapshot delete: a snapshot without dependents is destroyed", async () => {
  await withTempDir(async (dir) => {
    const entries = [mainDataset(), snapshot("tpool/data", "old", 20), CLONES];
    const { ctx, fake } = makeContext(dir, [
      zfsGetCall(zfsGetOutput(entries)),
      dockerPsCall(""),
      { argv: ["zfs", "destroy", "tpool/data@old"] },
      snapshotReleaseCall("old"),
    ]);
    assert.deepEqual(await new SnapshotService(ctx).delete("old"), {
      snapshot: "old",
      remote: null,
      removedBranches: [],
      removedSnapshots: [],
      removedDatasets: [],
    });
    fake.assertDone();
  });
});

/** baseline <- feature/auth; feature/auth@mig <- child; baseline <- other. */
function dependentTree(): FixtureEntry[] {
  return [
    mainDataset(),
    snapshot("tpool/data", "baseline", 20),
    snapshot("tpool/data", "lonely", 21),
    CLONES,
    clone("child", "child", "tpool/clones/feature_sauth@mig", "stopped", "6004"),
    clone("feature/auth", "feature_sauth", "tpool/data@baseline", "running", "6002"),
    snapshot("tpool/clones/feature_sauth", "mig", 30),
    clone("other", "other", "tpool/data@baseline", "stopped", "6003"),
  ];
}

Deno.test("snapshot delete: dependents are named and nothing is destroyed", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = makeContext(dir, [
      zfsGetCall(zfsGetOutput(dependentTree())),
      dockerPsCall(""),
    ]);
    await assert.rejects(new SnapshotService(ctx).delete("baseline"), (e: unknown) => {
      assert.ok(e instanceof DependencyError);
      assert.equal(
        e.message,
        "snapshot 'baseline' has dependent branches: child, feature/auth, other",
      );
      assert.deepEqual(e.dependents, ["child", "feature/auth", "other"]);
      assert.match(e.hint ?? "", /--force/);
      return true;
    });
    fake.assertDone();
  });
});

Deno.test("snapshot delete --force: dependents go first, deepest first, containers stopped", async () => {
  await withTempDir(async (dir) => {
    const pid = String(Deno.pid);
    const featureContainer = dockerPsLine({
      branch: "feature/auth",
      port: 6002,
      name: "zvpg_feature_sauth_6002",
    });
    const removeBranch = (branch: string, dataset: string, ps: string): ExpectedCall[] => [
      { argv: ["zfs", "set", "zvpg:state=deleting", dataset] },
      { argv: ["zfs", "set", `zvpg:pid=${pid}`, dataset] },
      portReleaseCall(dataset),
      dockerPsCall(ps, branch),
    ];
    const { ctx, fake } = makeContext(dir, [
      zfsGetCall(zfsGetOutput(dependentTree())),
      dockerPsCall(featureContainer + "\n"),
      ...removeBranch("child", "tpool/clones/child", ""),
      { argv: ["zfs", "destroy", "-r", "tpool/clones/child"] },
      ...removeBranch("feature/auth", "tpool/clones/feature_sauth", featureContainer + "\n"),
      { argv: ["docker", "stop", "-t", "30", "zvpg_feature_sauth_6002"] },
      { argv: ["docker", "rm", "-f", "-v", "zvpg_feature_sauth_6002"] },
      { argv: ["zfs", "destroy", "-r", "tpool/clones/feature_sauth"] },
      ...removeBranch("other", "tpool/clones/other", ""),
      { argv: ["zfs", "destroy", "-r", "tpool/clones/other"] },
      { argv: ["zfs", "destroy", "tpool/data@baseline"] },
      snapshotReleaseCall("mig"),
      snapshotReleaseCall("baseline"),
    ]);
    // a runtime directory of a removed branch is cleaned up
    const runtimeDir = ctx.layout.runtimeDir("feature/auth");
    mkdirSync(join(runtimeDir, "sock"), { recursive: true });
    assert.deepEqual(await new SnapshotService(ctx).delete("baseline", { force: true }), {
      snapshot: "baseline",
      remote: null,
      removedBranches: ["child", "feature/auth", "other"],
      // the snapshot of a removed branch is named too: nothing goes unlisted
      removedSnapshots: ["mig"],
      removedDatasets: [],
    });
    fake.assertDone();
    assert.equal(existsSync(runtimeDir), false);
  });
});

Deno.test("snapshot delete <remote>/<name>: a held one is released, its last takes the dataset", async () => {
  await withTempDir(async (dir) => {
    const entries = [mainDataset(), CLONES, ...pulledFromOrigin("s1", "s2")];
    const s1 = `${ORIGIN_MAIN}@s1`;
    const s2 = `${ORIGIN_MAIN}@s2`;
    const read = (pool: FixtureEntry[]) => [
      zfsGetCall(zfsGetOutput(pool), undefined, TRACKING),
      dockerPsCall(""),
    ];
    const { ctx, fake } = makeContext(dir, [
      ...read(entries),
      zfsGetNamesCall([{ name: s1, props: { type: "snapshot", userrefs: "1" } }], [s1], [
        "type",
        "userrefs",
      ]),
      // zfs-fuse cannot list the tags: the remote's own is released
      { argv: ["zfs", "release", "zvpg-remote-origin", s1] },
      { argv: ["zfs", "destroy", s1] },
      // s2 is the last one then: its dataset goes with it
      ...read(entries.filter((e) => e.name !== s1)),
      noHolds(s2),
      { argv: ["zfs", "destroy", s2] },
      { argv: ["zfs", "destroy", ORIGIN_MAIN] },
    ]);
    const service = new SnapshotService(ctx);
    assert.deepEqual(await service.delete("origin/s1"), {
      snapshot: "origin/s1",
      remote: "origin",
      removedBranches: [],
      removedSnapshots: [],
      removedDatasets: [],
    });
    const last = await service.delete("origin/s2");
    assert.deepEqual(last.removedDatasets, [ORIGIN_MAIN]);
    fake.assertDone();
  });
});

Deno.test("snapshot delete <remote>/<name>: refused, naming them, while branches are cloned from it", async () => {
  await withTempDir(async (dir) => {
    const entries = [
      mainDataset(),
      CLONES,
      clone("feature/auth", "feature_sauth", `${ORIGIN_MAIN}@s1`),
      ...pulledFromOrigin("s1"),
    ];
    const { ctx, fake } = makeContext(dir, [
      zfsGetCall(zfsGetOutput(entries), undefined, TRACKING),
      dockerPsCall(""),
      zfsGetCall(zfsGetOutput(entries), undefined, TRACKING),
      dockerPsCall(""),
    ]);
    const service = new SnapshotService(ctx);
    await assert.rejects(service.delete("origin/s1"), (e: unknown) => {
      assert.ok(e instanceof DependencyError);
      assert.equal(e.message, "snapshot 'origin/s1' has dependent branches: feature/auth");
      assert.match(e.hint ?? "", /--force/);
      return true;
    });
    await assert.rejects(service.delete("origin/nope"), (e: unknown) => {
      assert.ok(e instanceof SnapshotNotFoundError);
      assert.equal(e.message, "snapshot 'origin/nope' does not exist");
      return true;
    });
    fake.assertDone();
  });
});

Deno.test("snapshot delete: unknown and invalid names", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = makeContext(dir, [
      zfsGetCall(zfsGetOutput([mainDataset()])),
      dockerPsCall(""),
    ]);
    const service = new SnapshotService(ctx);
    await assert.rejects(service.delete("nope"), SnapshotNotFoundError);
    await assert.rejects(service.delete("tpool/data@x"), InvalidNameError);
    fake.assertDone();
  });
});

Deno.test("snapshot create: the calls are the same for 5 and 500 snapshots on the pool", async () => {
  await withTempDir(async (dir) => {
    const argvs: string[][][] = [];
    for (const count of [5, 500]) {
      const entries = [mainDataset(), CLONES];
      for (let i = 0; i < count; i++) entries.push(snapshot("tpool/data", `s${i}`, 20 + i));
      const { ctx, fake } = makeContext(dir, [
        ...createReads(entries, "new"),
        snapshotCall("tpool/data@new", ""),
        zfsGetNamesCall([...entries, snapshot("tpool/data", "new", 9999)], ["tpool/data@new"]),
      ]);
      assert.equal((await new SnapshotService(ctx).create("new")).name, "new");
      fake.assertDone();
      // no call reads the other snapshots: none is recursive, none lists them
      for (const argv of fake.calls) assert.ok(!argv.includes("-r"), argv.join(" "));
      argvs.push(fake.calls);
    }
    assert.deepEqual(argvs[0], argvs[1]);
  });
});
