/**
 * What killed transfers leave (src/domain/transfer_leftovers.ts), found from a fixture of
 * what was read, reported as drift and planned as repairs.
 */
import assert from "node:assert/strict";
import type { ZfsEntry } from "../../src/adapters/zfs.ts";
import { describeDrift, findDrift, isWarning } from "../../src/domain/drift.ts";
import { planRepairs } from "../../src/domain/repair_plan.ts";
import {
  findTransferLeftovers,
  streamFilePid,
  type TransferFacts,
} from "../../src/domain/transfer_leftovers.ts";
import { inventoryOf } from "./helpers.ts";

const fs = (name: string, props: Record<string, string> = {}): ZfsEntry => ({
  name,
  type: "filesystem",
  props,
});
const snap = (name: string, props: Record<string, string> = {}): ZfsEntry => ({
  name,
  type: "snapshot",
  props,
});

function facts(extra: Partial<TransferFacts>): TransferFacts {
  return {
    remotesDataset: "p/remotes",
    tracking: [],
    bases: [],
    remotes: ["usb"],
    streamFiles: [],
    alive: () => false,
    ...extra,
  };
}

Deno.test("findTransferLeftovers(): a tracking dataset without snapshot, not its parents", () => {
  const found = findTransferLeftovers(facts({
    tracking: [
      fs("p/remotes"),
      fs("p/remotes/usb"),
      fs("p/remotes/usb/main"),
      snap("p/remotes/usb/main@s1"),
      fs("p/remotes/usb/feat"),
      fs("p/remotes/empty-remote"),
    ],
  }));
  assert.deepEqual(found, [{ kind: "unfinished-receive", dataset: "p/remotes/usb/feat" }]);
});

Deno.test("findTransferLeftovers(): a resumable receive and a visible %recv, not an empty one", () => {
  const found = findTransferLeftovers(facts({
    tracking: [
      fs("p/remotes/usb/main", { receive_resume_token: "1-abc" }),
      fs("p/remotes/usb/feat"),
      snap("p/remotes/usb/feat@s1"),
      fs("p/remotes/usb/feat/%recv"),
    ],
  }));
  assert.deepEqual(found.map((l) => [l.kind, "dataset" in l ? l.dataset : ""]), [
    ["resumable-receive", "p/remotes/usb/main"],
    ["partial-receive", "p/remotes/usb/feat/%recv"],
  ]);
});

Deno.test("findTransferLeftovers(): holds of removed remotes, on branches' and tracking snapshots", () => {
  const found = findTransferLeftovers(facts({
    tracking: [
      fs("p/remotes/usb/main"),
      snap("p/remotes/usb/main@s1", { "zvpg:remote-bases": "gone" }),
    ],
    bases: [
      { zfsName: "p/data@s1", remotes: ["usb", "old"] },
      { zfsName: "p/data@s2" },
    ],
  }));
  assert.deepEqual(found, [
    { kind: "orphan-remote-hold", snapshot: "p/data@s1", remote: "old", recorded: ["usb", "old"] },
    {
      kind: "orphan-remote-hold",
      snapshot: "p/remotes/usb/main@s1",
      remote: "gone",
      recorded: ["gone"],
    },
  ]);
});

Deno.test("findTransferLeftovers(): a temporary stream of a dead push, not of a live one", () => {
  assert.equal(streamFilePid("/d/.111.zstream.42.tmp"), 42);
  assert.equal(streamFilePid("/d/111.zstream"), undefined);
  assert.equal(streamFilePid("/d/.111.zstream.x.tmp"), undefined);
  const found = findTransferLeftovers(facts({
    streamFiles: ["/d/.111.zstream.42.tmp", "/d/.222.zstream.43.tmp"],
    alive: (pid) => pid === 43,
  }));
  assert.deepEqual(found, [{ kind: "stale-stream", file: "/d/.111.zstream.42.tmp", pid: 42 }]);
});

Deno.test("transfer leftovers: drift with one line each, and the repair of each", () => {
  const transfers = findTransferLeftovers(facts({
    tracking: [fs("p/remotes/usb/feat"), fs("p/remotes/usb/main", { receive_resume_token: "t" })],
    bases: [{ zfsName: "p/data@s1", remotes: ["old"] }],
    streamFiles: ["/d/.111.zstream.42.tmp"],
  }));
  const drift = findDrift(inventoryOf([]), { alive: () => false, strayDirs: [], transfers });
  assert.deepEqual(drift.map((d) => isWarning(d)), [false, true, false, false]);
  const lines = drift.map((d) => describeDrift(d, "docker"));
  assert.match(lines[0], /p\/remotes\/usb\/feat holds no snapshot/);
  assert.match(lines[1], /zfs receive -A p\/remotes\/usb\/main/);
  assert.match(lines[2], /held for remote 'old', which is no longer in the remotes file/);
  assert.match(lines[3], /pid 42\) is gone/);
  const steps = planRepairs(inventoryOf([]), drift, { unusable: new Map(), remounted: new Set() });
  assert.deepEqual(steps.map((s) => [s.do, s.target, s.action]), [
    ["destroy-dataset", "dataset p/remotes/usb/feat", "destroy"],
    ["abort-receive", "dataset p/remotes/usb/main", "abort its partial receive"],
    ["release-remote-hold", "snapshot p/data@s1", "release the hold of remote 'old'"],
    ["remove-file", "file /d/.111.zstream.42.tmp", "remove"],
  ]);
});

Deno.test("findTransferLeftovers(): a received snapshot held for the host it came from is no leftover", () => {
  // serve received laptop's push: laptop is no remote here, and is the base's own host
  const found = findTransferLeftovers(facts({
    tracking: [
      fs("p/remotes"),
      fs("p/remotes/laptop"),
      fs("p/remotes/laptop/main"),
      snap("p/remotes/laptop/main@l1", { "zvpg:remote-bases": "laptop" }),
      snap("p/remotes/laptop/main@l2", { "zvpg:remote-bases": "laptop,gone" }),
    ],
  }));
  assert.deepEqual(found.map((l) => [l.kind, "remote" in l ? l.remote : ""]), [
    ["orphan-remote-hold", "gone"],
  ]);
});
