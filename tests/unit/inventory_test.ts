/**
 * The inventory: branches, snapshots, dependents and containers from one `zfs get` and
 * one `ps`, with sizes as numbers and statuses derived from state and container.
 */
import { operationAlive } from "../../src/ops/operation_alive.ts";
import assert from "node:assert/strict";
import { hostZfsFlavor, parseGetOutput } from "../../src/adapters/zfs.ts";
import {
  AlreadyExistsError,
  BranchNotFoundError,
  SnapshotNotFoundError,
} from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { createContext } from "../../src/cli/session.ts";
import { loadInventory } from "../../src/ops/store/load_inventory.ts";
import {
  buildInventory,
  decodeMessage,
  encodeMessage,
  findBranch,
  findSnapshot,
  foreignDatasetsIn,
  inventoryProps,
  ZFS_PROPS,
} from "../../src/domain/inventory.ts";
import { Layout } from "../../src/domain/layout.ts";
import { parsePsJson } from "../../src/adapters/container_runtime.ts";
import {
  dockerPsCall,
  dockerPsLine,
  type FixtureEntry,
  testConfig,
  withTempDir,
  zfsGetCall,
  zfsGetOutput,
} from "./helpers.ts";

/** A pool with a default branch, clones of clones, and every branch status. */
function fixture(mnt: string): FixtureEntry[] {
  const inherited = (branch: string) => ({ "zvpg:branch": branch });
  return [
    {
      name: "tpool/clones",
      props: { type: "filesystem", used: "1000", referenced: "24576", createtxg: "5" },
    },
    {
      name: "tpool/clones/child",
      props: {
        type: "filesystem",
        used: "4096",
        referenced: "41897984",
        creation: "1732448400",
        createtxg: "60",
        origin: "tpool/clones/feature_sauth@mig",
        mountpoint: `${mnt}/clones/child`,
        usedbydataset: "4096",
        usedbysnapshots: "0",
        "zvpg:branch": "child",
        "zvpg:parent": "feature/auth",
        "zvpg:state": "stopped",
        "zvpg:port": "6003",
        "zvpg:created": "2026-11-24T11:40:00.000Z",
      },
    },
    {
      name: "tpool/clones/dead",
      props: {
        type: "filesystem",
        used: "8192",
        createtxg: "70",
        origin: "tpool/data@baseline",
        "zvpg:branch": "dead",
        "zvpg:parent": "main",
        "zvpg:state": "running",
        "zvpg:port": "6004",
        "zvpg:created": "2026-11-24T11:50:00.000Z",
      },
    },
    {
      name: "tpool/clones/feature_sauth",
      props: {
        type: "filesystem",
        used: "331776",
        referenced: "41897984",
        creation: "1732448100",
        createtxg: "40",
        origin: "tpool/data@baseline",
        mountpoint: `${mnt}/clones/feature_sauth`,
        usedbydataset: "200000",
        usedbysnapshots: "131776",
        "zvpg:branch": "feature/auth",
        "zvpg:parent": "main",
        "zvpg:state": "running",
        "zvpg:port": "6009",
        "zvpg:created": "2026-11-24T11:35:00.000Z",
      },
    },
    {
      name: "tpool/clones/feature_sauth@mig",
      props: {
        type: "snapshot",
        used: "131776",
        referenced: "41897984",
        creation: "1732448200",
        createtxg: "50",
        "zvpg:message": "after migration 42",
        "zvpg:taken": "2026-11-24T11:36:40.000Z",
        "zvpg:tool": "zvpg/2.0.0",
        ...inherited("feature/auth"),
      },
    },
    {
      name: "tpool/clones/gone",
      props: {
        type: "filesystem",
        used: "1",
        createtxg: "80",
        origin: "tpool/data@v2",
        "zvpg:branch": "gone",
        "zvpg:state": "running",
        "zvpg:port": "6005",
        "zvpg:created": "2026-11-24T11:55:00.000Z",
      },
    },
    {
      name: "tpool/clones/half",
      props: {
        type: "filesystem",
        used: "1",
        createtxg: "90",
        origin: "tpool/data@v2",
        "zvpg:branch": "half",
        "zvpg:state": "creating",
        "zvpg:pid": "4194304",
        "zvpg:created": "2026-11-24T11:56:00.000Z",
      },
    },
    {
      name: "tpool/clones/manual",
      props: { type: "filesystem", used: "77", createtxg: "95" },
    },
    {
      name: "tpool/clones/manual@x",
      props: { type: "snapshot", used: "0", createtxg: "96" },
    },
    {
      name: "tpool/data",
      props: {
        type: "filesystem",
        used: "42151936",
        referenced: "41930752",
        creation: "1732448005",
        createtxg: "10",
        mountpoint: `${mnt}/data`,
        usedbydataset: "41930752",
        usedbysnapshots: "221184",
        "zvpg:branch": "main",
        "zvpg:state": "running",
        "zvpg:port": "6001",
        // no zvpg:created: the creation property (seconds) is used
      },
    },
    {
      name: "tpool/data@v2",
      props: {
        type: "snapshot",
        used: "1024",
        referenced: "42000000",
        creation: "1732448060",
        createtxg: "30",
        // taken "before" baseline by the clock, but later by txg: txg wins
        "zvpg:taken": "2026-11-24T10:00:00.000Z",
        "zvpg:message": "",
        ...inherited("main"),
      },
    },
    {
      name: "tpool/data@baseline",
      props: {
        type: "snapshot",
        used: "221184",
        referenced: "42201088",
        creation: "1732448050",
        createtxg: "20",
        "zvpg:message": encodeMessage('Initial state\twith "tab"\nand newline — é'),
        "zvpg:taken": "2026-11-24T11:33:23.150Z",
        "zvpg:tool": "zvpg/2.0.0",
        ...inherited("main"),
      },
    },
  ];
}

function containers() {
  return [
    dockerPsLine({ branch: "main", port: 6001, name: "zvpg_main_6001" }),
    dockerPsLine({ branch: "feature/auth", port: 6002, name: "zvpg_feature_sauth_6002" }),
    dockerPsLine({
      branch: "feature/auth",
      port: 6009,
      name: "zvpg_feature_sauth_6009",
      state: "exited",
    }),
    dockerPsLine({ branch: "dead", port: 6004, name: "zvpg_dead_6004", state: "exited" }),
    dockerPsLine({ branch: "deleted-long-ago", port: 6050, name: "zvpg_deleted_6050" }),
  ].join("\n") + "\n";
}

Deno.test("inventory: branches, snapshots, dependents and sizes from a zfs get fixture", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir);
    const layout = new Layout(config);
    const mnt = config.mountDir;
    const inv = buildInventory(
      { config, layout },
      parseGetOutput(zfsGetOutput(fixture(mnt))),
      parsePsJson(containers()),
    );
    assert.equal(inv.initialized, true);

    // snapshots: only of zvpg branches, ordered by txg
    assert.deepEqual(inv.snapshots.map((s) => s.zfsName), [
      "tpool/data@baseline",
      "tpool/data@v2",
      "tpool/clones/feature_sauth@mig",
    ]);
    const baseline = findSnapshot(inv, "baseline");
    assert.deepEqual(baseline, {
      name: "baseline",
      zfsName: "tpool/data@baseline",
      branch: "main",
      created: new Date("2026-11-24T11:33:23.150Z"),
      message: 'Initial state\twith "tab"\nand newline — é',
      used: 221184,
      referenced: 42201088,
      dependents: ["dead", "feature/auth"],
      tool: "zvpg/2.0.0",
      auto: false,
    });
    assert.equal(typeof baseline.used, "number");
    const v2 = findSnapshot(inv, "v2");
    assert.deepEqual(v2.dependents, ["gone", "half"]);
    assert.equal(v2.message, "");
    assert.equal(v2.tool, null);
    const mig = findSnapshot(inv, "mig");
    assert.equal(mig.branch, "feature/auth");
    assert.deepEqual(mig.dependents, ["child"]);

    // branches: default first, then by creation time
    assert.deepEqual(inv.branches.map((b) => [b.name, b.status]), [
      ["main", "running"],
      ["feature/auth", "running"],
      ["child", "stopped"],
      ["dead", "failed"],
      ["gone", "missing"],
      ["half", "creating"],
    ]);
    const main = findBranch(inv, "main");
    assert.equal(main.isDefault, true);
    assert.equal(main.dataset, "tpool/data");
    assert.equal(main.mountpoint, `${mnt}/data`);
    assert.equal(main.parent, null);
    assert.equal(main.origin, null);
    assert.equal(main.created.getTime(), 1732448005 * 1000);
    assert.equal(main.used, 42151936);
    assert.equal(main.referenced, 41930752);
    assert.equal(main.usedByDataset, 41930752);
    assert.equal(main.usedBySnapshots, 221184);
    assert.equal(main.port, 6001);
    assert.equal(main.container?.name, "zvpg_main_6001");
    assert.equal(main.operationPid, null);

    const feature = findBranch(inv, "feature/auth");
    assert.equal(feature.isDefault, false);
    assert.equal(feature.parent, "main");
    assert.equal(feature.origin, "baseline");
    // the running container wins over an exited one; its label gives the port
    assert.equal(feature.container?.name, "zvpg_feature_sauth_6002");
    assert.equal(feature.port, 6002);
    assert.equal(feature.state, "running");
    assert.equal(feature.created.toISOString(), "2026-11-24T11:35:00.000Z");

    const child = findBranch(inv, "child");
    assert.equal(child.origin, "mig");
    assert.equal(child.parent, "feature/auth");
    // stopped: no live port, only the last one
    assert.equal(child.port, null);
    assert.equal(child.lastPort, 6003);
    assert.equal(child.container, null);

    const dead = findBranch(inv, "dead");
    assert.equal(dead.container?.state, "exited");
    assert.equal(dead.usedByDataset, 8192, "falls back to used");
    assert.equal(dead.referenced, 0, "unset sizes are 0");

    const half = findBranch(inv, "half");
    assert.equal(half.state, "creating");
    assert.equal(half.operationPid, 4194304);
    assert.equal(half.port, null);

    assert.deepEqual(inv.foreignDatasets, ["tpool/clones/manual"]);
    assert.deepEqual(inv.orphanContainers.map((c) => c.name), ["zvpg_deleted_6050"]);
  });
});

Deno.test("inventory: not initialised when the default branch has no dataset", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir);
    const inv = buildInventory({ config, layout: new Layout(config) }, [], []);
    assert.equal(inv.initialized, false);
    assert.deepEqual(inv.branches, []);
    assert.deepEqual(inv.snapshots, []);
    // a data dataset without zvpg metadata is not an initialised zvpg
    const bare = parseGetOutput(
      zfsGetOutput([{ name: "tpool/data", props: { type: "filesystem" } }]),
    );
    const inv2 = buildInventory({ config, layout: new Layout(config) }, bare, []);
    assert.equal(inv2.initialized, false);
    assert.deepEqual(inv2.foreignDatasets, ["tpool/data"]);
  });
});

Deno.test("inventory: datasets outside zvpg's tree are ignored", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir);
    const entries = parseGetOutput(zfsGetOutput([
      { name: "otherpool/x", props: { type: "filesystem", "zvpg:branch": "x" } },
      { name: "tpool/clonesX/y", props: { type: "filesystem", "zvpg:branch": "y" } },
      { name: "tpool/data", props: { type: "filesystem", "zvpg:branch": "main" } },
      { name: "tpool/other@s", props: { type: "snapshot", "zvpg:branch": "main" } },
    ]));
    const inv = buildInventory({ config, layout: new Layout(config) }, entries, []);
    assert.deepEqual(inv.branches.map((b) => b.name), ["main"]);
    assert.deepEqual(inv.snapshots, []);
    assert.deepEqual(inv.foreignDatasets, []);
  });
});

Deno.test("inventory: only datasets zvpg made are branches; the rest are foreign", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir);
    const branchProps = { "zvpg:state": "running", "zvpg:port": "6002", "zvpg:parent": "main" };
    const entries = parseGetOutput(zfsGetOutput([
      { name: "tpool/data", props: { type: "filesystem", "zvpg:branch": "main" } },
      { name: "tpool/data@s", props: { type: "snapshot" }, inherited: { "zvpg:branch": "main" } },
      // a user's dataset inside main: it inherits main's zvpg properties
      {
        name: "tpool/data/mine",
        props: { type: "filesystem" },
        inherited: { "zvpg:branch": "main" },
      },
      { name: "tpool/clones", props: { type: "filesystem" } },
      {
        name: "tpool/clones/testing",
        props: {
          type: "filesystem",
          origin: "tpool/data@s",
          "zvpg:branch": "testing",
          ...branchProps,
        },
      },
      {
        name: "tpool/clones/testing/mine",
        props: { type: "filesystem" },
        inherited: { "zvpg:branch": "testing", ...branchProps },
      },
      // its snapshot is the user's too
      {
        name: "tpool/clones/testing/mine@keep",
        props: { type: "snapshot", "zvpg:message": "mine" },
        inherited: { "zvpg:branch": "testing" },
      },
      // zvpg metadata set by hand deeper than a branch slot does not make a branch
      {
        name: "tpool/clones/testing/deep",
        props: { type: "filesystem", "zvpg:branch": "deep", "zvpg:state": "stopped" },
      },
      // a stray dataset directly under clones
      { name: "tpool/clones/stray", props: { type: "filesystem" } },
    ]));
    const inv = buildInventory({ config, layout: new Layout(config) }, entries, []);
    assert.deepEqual(inv.branches.map((b) => b.name), ["main", "testing"]);
    assert.deepEqual(inv.snapshots.map((s) => s.zfsName), ["tpool/data@s"]);
    assert.deepEqual(inv.foreignDatasets, [
      "tpool/data/mine",
      "tpool/clones/testing/mine",
      "tpool/clones/testing/deep",
      "tpool/clones/stray",
    ]);
    assert.deepEqual(foreignDatasetsIn(inv, findBranch(inv, "testing")), [
      "tpool/clones/testing/mine",
      "tpool/clones/testing/deep",
    ]);
    assert.deepEqual(foreignDatasetsIn(inv, findBranch(inv, "main")), ["tpool/data/mine"]);
  });
});

Deno.test("inventory: loadInventory makes one zfs call and one ps call", async () => {
  await withTempDir(async (dir) => {
    const config = testConfig(dir);
    const zfsOut = zfsGetOutput(fixture(config.mountDir));
    const fake = new FakeRunner([zfsGetCall(zfsOut), dockerPsCall(containers())]);
    const ctx = createContext(config, fake);
    const inv = await loadInventory(ctx);
    assert.equal(inv.branches.length, 6);
    assert.equal(findBranch(inv, "main").status, "running");
    fake.assertDone();

    const noContainers = new FakeRunner([zfsGetCall(zfsOut)]);
    const inv2 = await loadInventory(createContext(config, noContainers), { containers: false });
    noContainers.assertDone();
    // without containers, recorded state decides; no port is live
    assert.equal(findBranch(inv2, "main").status, "missing");
    assert.equal(findBranch(inv2, "main").port, null);
    assert.equal(findBranch(inv2, "main").lastPort, 6001);
    assert.equal(findBranch(inv2, "feature/auth").lastPort, 6009);
  });
});

Deno.test("inventory: findBranch and findSnapshot errors", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir);
    const entries = parseGetOutput(zfsGetOutput([
      { name: "tpool/clones/a", props: { type: "filesystem", "zvpg:branch": "a" } },
      { name: "tpool/clones/a@same", props: { type: "snapshot", createtxg: "2" } },
      { name: "tpool/data", props: { type: "filesystem", "zvpg:branch": "main" } },
      { name: "tpool/data@same", props: { type: "snapshot", createtxg: "1" } },
    ]));
    const inv = buildInventory({ config, layout: new Layout(config) }, entries, []);
    assert.throws(() => findBranch(inv, "nope"), (e: unknown) => {
      assert.ok(e instanceof BranchNotFoundError);
      assert.equal(e.branch, "nope");
      assert.equal(e.message, "branch 'nope' does not exist");
      return true;
    });
    assert.throws(() => findSnapshot(inv, "nope"), SnapshotNotFoundError);
    assert.throws(() => findSnapshot(inv, "same"), (e: unknown) => {
      assert.ok(e instanceof AlreadyExistsError);
      assert.match(e.message, /ambiguous.*'main'.*'a'/);
      return true;
    });
  });
});

Deno.test("inventory: messages survive the trip through a ZFS property", () => {
  for (
    const message of [
      "",
      "plain",
      "tab\there",
      "new\nline",
      'quote " and backslash \\',
      "unicode é 功能 😀",
      "\u0000 control \u001f",
      "-",
    ]
  ) {
    const encoded = encodeMessage(message);
    assert.ok(!/[\t\n\r]/.test(encoded), JSON.stringify(encoded));
    assert.equal(decodeMessage(encoded), message);
  }
  // a value that is not an encoding is shown as it is
  assert.equal(decodeMessage('bad \\q "'), 'bad \\q "');
  // `zfs get` prints "-" for unset properties: a lone "-" is stored escaped
  assert.notEqual(encodeMessage("-"), "-");
});

Deno.test("inventory: operationAlive", () => {
  assert.equal(operationAlive(null), false);
  assert.equal(operationAlive(0), false);
  assert.equal(operationAlive(-1), false);
  assert.equal(operationAlive(1.5), false);
  assert.equal(operationAlive(Deno.pid), true);
  assert.equal(operationAlive(4194304 + 12345), false);
});

Deno.test("inventory: OpenZFS adds `written`; zfs-fuse, which lacks it, reads null", async () => {
  await withTempDir((dir) => {
    assert.deepEqual(inventoryProps("zfs-fuse"), ZFS_PROPS);
    assert.deepEqual(inventoryProps("openzfs"), [...ZFS_PROPS, "written"]);
    const config = testConfig(dir);
    const main = { type: "filesystem", "zvpg:branch": "main" };
    const read = (props: Record<string, string>) =>
      buildInventory(
        { config, layout: new Layout(config) },
        parseGetOutput(zfsGetOutput([{ name: "tpool/data", props }], [...ZFS_PROPS, "written"])),
        [],
      ).branches[0]!.written;
    assert.equal(read({ ...main, written: "33792" }), 33792);
    assert.equal(read(main), null);
  });
});

Deno.test("hostZfsFlavor: OpenZFS exactly when its kernel module is loaded", async () => {
  await withTempDir((dir) => {
    assert.equal(hostZfsFlavor(`${dir}/none`), "zfs-fuse");
    assert.equal(hostZfsFlavor(dir), "openzfs");
  });
});
