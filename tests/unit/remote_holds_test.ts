/**
 * The bases of pushes to remotes: the pure rules (src/domain/remote_bases.ts, their use in
 * planLosses and planGc) and the hold moves on the strict fake runner
 * (src/ops/remote_holds.ts).
 */
import assert from "node:assert/strict";
import { createContext } from "../../src/cli/session.ts";
import { parseHolds, Zfs } from "../../src/adapters/zfs.ts";
import { StateError } from "../../src/errors.ts";
import { planGc } from "../../src/domain/gc_plan.ts";
import { planLosses } from "../../src/domain/losses.ts";
import {
  parseRemoteBases,
  remoteBaseError,
  remoteBasesValue,
  remoteHoldTag,
  remoteOfHoldTag,
} from "../../src/domain/remote_bases.ts";
import { moveBaseHold, releaseBaseHolds, remotesHolding } from "../../src/ops/remote_holds.ts";
import { destroyUnusedAutoSnapshot } from "../../src/ops/branch_removal.ts";
import { type ExpectedCall, FakeRunner } from "../../src/runtime/fake_runner.ts";
import {
  assertOneLine,
  branchRecord as branch,
  inventoryOf as inventory,
  NOW,
  snapshotRecord as snapshot,
  testConfig,
  withTempDir,
} from "./helpers.ts";

const PROP = "zvpg:remote-bases";
const PAST = new Date(NOW.getTime() - 1000);

Deno.test("remote bases: tag, record value and the refusal's one line", () => {
  assert.equal(remoteHoldTag("backup"), "zvpg-remote-backup");
  assert.equal(remoteOfHoldTag("zvpg-remote-backup"), "backup");
  assert.equal(remoteOfHoldTag("zvpg-protect"), undefined);
  assert.equal(remoteOfHoldTag("zvpg-remote-"), undefined);
  assert.deepEqual(parseRemoteBases("usb,backup,usb"), ["backup", "usb"]);
  assert.deepEqual(parseRemoteBases(undefined), []);
  assert.equal(remoteBasesValue(["usb", "backup"]), "backup,usb");
  assert.equal(remoteBasesValue([]), undefined);
  const error = remoteBaseError([{ name: "s1", zfsName: "p/data@s1", remotes: ["backup"] }]);
  assert.ok(error instanceof StateError);
  assert.equal(error.message, "snapshot 's1' is the base of the next push to remote 'backup'");
  assert.equal(
    error.hint,
    "push again first, or pass --force to delete it anyway (the next push sends it whole)",
  );
  assertOneLine(error.message);
});

Deno.test("planLosses(): a base of a push among what goes is refused unless released", () => {
  const inv = inventory([branch("main", { isDefault: true }), branch("feat")], {
    snapshots: [
      snapshot("s1", "main", { remotes: ["backup"], dependents: [] }),
      snapshot("base", "main", { dependents: ["feat"] }),
      snapshot("f1", "feat", { remotes: ["usb", "backup"] }),
    ],
  });
  const [s1, base] = inv.snapshots;
  assert.throws(
    () => planLosses(inv, { snapshots: [s1], dependentsGo: "x" }),
    /snapshot 's1' is the base of the next push to remote 'backup'/,
  );
  // a dependent branch's snapshot that goes with it counts too
  assert.throws(
    () => planLosses(inv, { snapshots: [base], dependentsGo: "x" }),
    /snapshot 'f1' is the base of the next push to remotes 'usb', 'backup'/,
  );
  const plan = planLosses(inv, { snapshots: [base], dependentsGo: "x", releaseRemoteBases: true });
  assert.deepEqual(plan.remoteBases.map((b) => b.name), ["f1"]);
});

Deno.test("planGc(): an expired branch or automatic snapshot that is a push's base stays, naming the remote", () => {
  const inv = inventory([
    branch("main", { isDefault: true, parent: null, origin: null, dataset: "p/data" }),
    branch("old", { expiresAt: PAST }),
  ], {
    snapshots: [
      snapshot("auto-old", "old", { auto: true, remotes: ["backup"] }),
      snapshot("auto-main", "main", { auto: true, remotes: ["usb"] }),
      snapshot("auto-free", "main", { auto: true }),
    ],
  });
  const plan = planGc(inv, NOW);
  assert.deepEqual(plan.branches, []);
  assert.deepEqual(plan.snapshots.map((s) => s.name), ["auto-free"]);
  assert.deepEqual(plan.skipped, [
    {
      kind: "branch",
      name: "old",
      reason: "its snapshot 'auto-old' is the base of the next push to remote 'backup'",
      remotes: ["backup"],
    },
    {
      kind: "snapshot",
      name: "auto-old",
      reason: "it is the base of the next push to remote 'backup'",
      remotes: ["backup"],
    },
    {
      kind: "snapshot",
      name: "auto-main",
      reason: "it is the base of the next push to remote 'usb'",
      remotes: ["usb"],
    },
  ]);
});

/**
 * `zfs get -d 1 type,zvpg:remote-bases,createtxg tpool/data` answering `snapshots` (name →
 * record), created in that order.
 */
function lineageCall(snapshots: Record<string, string | undefined>): ExpectedCall {
  const lines = ["tpool/data\ttype\tfilesystem\t-", `tpool/data\t${PROP}\t-\t-`];
  for (const [i, [name, value]] of Object.entries(snapshots).entries()) {
    lines.push(
      `${name}\ttype\tsnapshot\t-`,
      `${name}\t${PROP}\t${value ?? "-"}\t${value ? "local" : "-"}`,
      `${name}\tcreatetxg\t${10 + i}\t-`,
    );
  }
  return {
    argv: ["zfs", "get", "-H", "-p", "-d", "1", "-o", "name,property,value,source"]
      .concat([`type,${PROP},createtxg`, "tpool/data"]),
    result: { stdout: lines.join("\n") + "\n" },
  };
}

async function withFake<T>(
  calls: ExpectedCall[],
  fn: (ctx: ReturnType<typeof createContext>) => Promise<T>,
): Promise<T> {
  return await withTempDir(async (dir) => {
    const fake = new FakeRunner(calls);
    const result = await fn(createContext(testConfig(dir), fake));
    fake.assertDone();
    return result;
  });
}

Deno.test("moveBaseHold(): recorded and held on the new base, then released from the old one, other remotes kept", async () => {
  const moved = await withFake([
    lineageCall({ "tpool/data@s1": "backup,usb", "tpool/data@s2": undefined }),
    { argv: ["zfs", "set", `${PROP}=backup`, "tpool/data@s2"] },
    { argv: ["zfs", "hold", "zvpg-remote-backup", "tpool/data@s2"] },
    // the hold goes first, the record after: never a hold without its record
    { argv: ["zfs", "release", "zvpg-remote-backup", "tpool/data@s1"] },
    { argv: ["zfs", "set", `${PROP}=usb`, "tpool/data@s1"] },
  ], (ctx) => moveBaseHold(ctx, "backup", "tpool/data@s2"));
  assert.deepEqual(moved, { held: "tpool/data@s2", released: ["tpool/data@s1"] });
});

Deno.test("moveBaseHold(): run again on the same base, it only puts the hold back", async () => {
  const moved = await withFake([
    lineageCall({ "tpool/data@s1": "usb", "tpool/data@s2": "backup" }),
    { argv: ["zfs", "hold", "zvpg-remote-backup", "tpool/data@s2"] },
  ], (ctx) => moveBaseHold(ctx, "backup", "tpool/data@s2"));
  assert.deepEqual(moved.released, []);
});

Deno.test("moveBaseHold(): a killed move (two bases) is finished by the next; ifNewest never goes back", async () => {
  const finished = await withFake([
    lineageCall({ "tpool/data@s1": "backup", "tpool/data@s2": "backup" }),
    { argv: ["zfs", "hold", "zvpg-remote-backup", "tpool/data@s2"] },
    { argv: ["zfs", "release", "zvpg-remote-backup", "tpool/data@s1"] },
    { argv: ["zfs", "inherit", PROP, "tpool/data@s1"] },
  ], (ctx) => moveBaseHold(ctx, "backup", "tpool/data@s2", { ifNewest: true }));
  assert.deepEqual(finished, { held: "tpool/data@s2", released: ["tpool/data@s1"] });
  const kept = await withFake([
    lineageCall({ "tpool/data@s1": undefined, "tpool/data@s2": "backup" }),
  ], (ctx) => moveBaseHold(ctx, "backup", "tpool/data@s1", { ifNewest: true }));
  assert.deepEqual(kept, { held: "tpool/data@s2", released: [] });
});

Deno.test("remotesHolding() reads the records; releaseBaseHolds() drops holds, then records", async () => {
  await withFake([
    {
      argv: ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", `type,${PROP}`]
        .concat(["tpool/data@s1", "tpool/data@s2"]),
      result: {
        stdout: `tpool/data@s1\ttype\tsnapshot\t-\ntpool/data@s1\t${PROP}\tbackup,usb\tlocal\n` +
          `tpool/data@s2\ttype\tsnapshot\t-\ntpool/data@s2\t${PROP}\t-\t-\n`,
      },
    },
    { argv: ["zfs", "release", "zvpg-remote-backup", "tpool/data@s1"] },
    { argv: ["zfs", "release", "zvpg-remote-usb", "tpool/data@s1"] },
    { argv: ["zfs", "inherit", PROP, "tpool/data@s1"] },
  ], async (ctx) => {
    const holding = await remotesHolding(ctx, ["tpool/data@s1", "tpool/data@s2"]);
    assert.deepEqual([...holding], [["tpool/data@s1", ["backup", "usb"]]]);
    await releaseBaseHolds(ctx, [{
      name: "s1",
      zfsName: "tpool/data@s1",
      remotes: ["backup", "usb"],
    }]);
  });
});

Deno.test("remotesHolding() on OpenZFS: a hold without its record counts too (zfs holds -H)", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([
      {
        argv: ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", `type,${PROP}`]
          .concat(["tpool/data@s1", "tpool/data@s2"]),
        result: {
          stdout: `tpool/data@s1\ttype\tsnapshot\t-\ntpool/data@s1\t${PROP}\tusb\tlocal\n` +
            `tpool/data@s2\ttype\tsnapshot\t-\ntpool/data@s2\t${PROP}\t-\t-\n`,
        },
      },
      {
        argv: ["zfs", "holds", "-H", "tpool/data@s1", "tpool/data@s2"],
        result: {
          stdout: "tpool/data@s1\tzvpg-remote-usb\tMon Dec  7 11:00 2026\n" +
            "tpool/data@s2\tzvpg-protect\tMon Dec  7 11:00 2026\n" +
            "tpool/data@s2\tzvpg-remote-backup\tMon Dec  7 11:01 2026\n",
        },
      },
    ]);
    const ctx = createContext(testConfig(dir), fake);
    const openzfs = { ...ctx, zfs: new Zfs(fake, "openzfs") };
    const holding = await remotesHolding(openzfs, ["tpool/data@s1", "tpool/data@s2"]);
    assert.deepEqual([...holding], [["tpool/data@s1", ["usb"]], ["tpool/data@s2", ["backup"]]]);
    fake.assertDone();
  });
});

Deno.test("Zfs.holdTags(): none asked of zfs-fuse, whose zfs holds cannot run", async () => {
  const fake = new FakeRunner([]);
  assert.equal(await new Zfs(fake, "zfs-fuse").holdTags(["p/d@s"]), undefined);
  assert.deepEqual(parseHolds("p/d@s\tt1\tMon Dec  7 11:00 2026\n\n"), [
    { snapshot: "p/d@s", tag: "t1" },
  ]);
  fake.assertDone();
});

Deno.test("destroyUnusedAutoSnapshot(): an automatic origin that is a push's base is kept", async () => {
  const feat = branch("feat", { origin: "auto-1" });
  const inv = inventory([branch("main", { isDefault: true }), feat], {
    snapshots: [
      snapshot("auto-1", "main", { auto: true, dependents: ["feat"], remotes: ["backup"] }),
    ],
  });
  const gone = await withFake([], (ctx) => destroyUnusedAutoSnapshot(ctx, inv, feat, []));
  assert.equal(gone, undefined);
});
