import assert from "node:assert/strict";
import {
  expiryAt,
  expiryFromTtl,
  isExpired,
  parseDuration,
  parseRfc3339,
  readRfc3339,
} from "../../src/domain/duration.ts";
import { UsageError } from "../../src/errors.ts";
import { findDrift, resetDirection } from "../../src/domain/drift.ts";
import { planGc } from "../../src/domain/gc_plan.ts";
import { buildInventory } from "../../src/domain/inventory.ts";
import { Layout } from "../../src/domain/layout.ts";
import {
  assertNotProtected,
  assertNoUnfinishedReset,
  isInFlight,
  markResetting,
} from "../../src/domain/lifecycle.ts";
import { planRepairs } from "../../src/domain/repair_plan.ts";
import {
  branchRecord as branch,
  inventoryOf as inventory,
  snapshotRecord as snapshot,
} from "./helpers.ts";

const NOW = new Date("2026-11-25T12:00:00Z");
const PAST = new Date("2026-11-25T11:00:00Z");
const FUTURE = new Date("2026-11-26T12:00:00Z");
const DEAD = () => false;

Deno.test("parseDuration(): s, m, h, d, w; anything else is undefined", () => {
  assert.equal(parseDuration("30m"), 1800);
  assert.equal(parseDuration("8h"), 28800);
  assert.equal(parseDuration("7d"), 604800);
  assert.equal(parseDuration("2w"), 1209600);
  assert.equal(parseDuration("45s"), 45);
  for (const bad of ["", "0h", "7", "h", "1.5h", "-1d", "7 d", "7D", "1y", "99999999w", "1d2h"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

Deno.test("parseRfc3339(): needs a zone; invalid dates are undefined", () => {
  assert.equal(parseRfc3339("2026-12-01T18:00:00Z")?.toISOString(), "2026-12-01T18:00:00.000Z");
  assert.equal(
    parseRfc3339("2026-12-01T19:00:00.5+01:00")?.toISOString(),
    "2026-12-01T18:00:00.500Z",
  );
  for (const bad of ["2026-12-01", "2026-12-01T18:00:00", "tomorrow", "2026-13-45T99:00:00Z"]) {
    assert.equal(parseRfc3339(bad), undefined, bad);
  }
});

Deno.test("parseRfc3339(): a date or time the calendar does not have is refused, never rolled over", () => {
  const bad = [
    "2027-02-30T00:00:00Z", // was March 2
    "2026-04-31T00:00:00Z",
    "2027-02-29T00:00:00Z", // 2027 is not a leap year
    "1900-02-29T00:00:00Z", // nor is 1900
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-12-00T00:00:00Z",
    "2026-12-32T00:00:00Z",
    "2026-12-01T24:00:00Z",
    "2026-12-01T25:00:00Z",
    "2026-12-01T18:60:00Z",
    "2026-12-01T18:00:60Z",
    "2026-12-01T18:00:00+24:00",
    "2026-12-01T18:00:00+01:60",
  ];
  for (const text of bad) assert.equal(parseRfc3339(text), undefined, text);
  const good: [string, string][] = [
    ["2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"],
    ["2000-02-29T23:59:59Z", "2000-02-29T23:59:59.000Z"],
    ["2026-04-30t10:00:00z", "2026-04-30T10:00:00.000Z"],
    ["2026-12-31 23:30:00-01:00", "2027-01-01T00:30:00.000Z"],
    ["2026-12-01T18:00:00.123456+05:45", "2026-12-01T12:15:00.123Z"],
    ["2026-12-01T18:00:00-00:00", "2026-12-01T18:00:00.000Z"],
  ];
  for (const [text, iso] of good) assert.equal(parseRfc3339(text)?.toISOString(), iso, text);
});

Deno.test("readRfc3339(): says which field is wrong; undefined when it is not the form", () => {
  assert.deepEqual(readRfc3339("2027-02-30T00:00:00Z"), { problem: "2027-02 has no day 30" });
  assert.deepEqual(readRfc3339("2026-12-01T24:00:00Z"), {
    problem: "there is no hour 24 (00 to 23)",
  });
  assert.equal(readRfc3339("2026-12-01T18:00:00"), undefined);
  assert.equal(readRfc3339("tomorrow"), undefined);
});

Deno.test("expiryAt(): a time not after now is a usage error unless forced", () => {
  assert.deepEqual(expiryAt(FUTURE, NOW), { expiresAt: FUTURE, ttlSeconds: null });
  for (const at of [PAST, NOW]) {
    assert.throws(() => expiryAt(at, NOW), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, new RegExp(`^expiry time ${at.toISOString()} is not in the future`));
      assert.match(e.hint ?? "", /--force/);
      return true;
    });
    assert.deepEqual(expiryAt(at, NOW, true), { expiresAt: at, ttlSeconds: null });
  }
});

Deno.test("expiryFromTtl() and isExpired(): expired at the instant, not before", () => {
  const e = expiryFromTtl(NOW, 60);
  assert.equal(e.expiresAt.toISOString(), "2026-11-25T12:01:00.000Z");
  assert.equal(e.ttlSeconds, 60);
  assert.equal(isExpired(e.expiresAt, NOW), false);
  assert.equal(isExpired(e.expiresAt, e.expiresAt), true);
  assert.equal(isExpired(null, NOW), false);
});

Deno.test("planGc(): expired branches go; default, protected, depended-on, named and busy ones stay, with why", () => {
  const inv = inventory([
    branch("main", {
      isDefault: true,
      expiresAt: PAST,
      parent: null,
      origin: null,
      dataset: "p/data",
    }),
    branch("old", { expiresAt: PAST }),
    branch("fresh", { expiresAt: FUTURE }),
    branch("guarded", { expiresAt: PAST, protected: true }),
    branch("parent", { expiresAt: PAST }),
    branch("child", { expiresAt: FUTURE }),
    branch("named", { expiresAt: PAST }),
    branch("busy", { expiresAt: PAST, state: "resetting", status: "resetting" }),
  ], {
    snapshots: [
      snapshot("a1", "parent", { auto: true, dependents: ["child"] }),
      snapshot("keep", "named"),
      snapshot("oldauto", "old", { auto: true }),
    ],
  });
  const plan = planGc(inv, NOW);
  assert.deepEqual(plan.branches.map((b) => b.name), ["old"]);
  const why = Object.fromEntries(plan.skipped.map((s) => [s.name, s.reason]));
  assert.match(why.main, /default branch/);
  assert.match(why.guarded, /protected/);
  assert.match(why.parent, /'child' depend on its snapshots/);
  assert.match(why.named, /named snapshot\(s\) 'keep'/);
  assert.match(why.busy, /reset is unfinished/);
  assert.equal(why.fresh, undefined);
});

Deno.test("planGc(): expired clones go before their expired origin; unused automatic snapshots go", () => {
  const inv = inventory([
    branch("main", { isDefault: true, parent: null, origin: null, dataset: "p/data" }),
    branch("a", { expiresAt: PAST }),
    branch("b", { expiresAt: PAST, parent: "a" }),
    branch("guard", { protected: true }),
  ], {
    snapshots: [
      snapshot("auto-a", "a", { auto: true, dependents: ["b"] }),
      snapshot("auto-left", "main", { auto: true }), // a killed create's leftover
      snapshot("auto-used", "main", { auto: true, dependents: ["a"] }),
      snapshot("auto-held", "guard", { auto: true }),
      snapshot("named", "main"),
    ],
  });
  const plan = planGc(inv, NOW);
  assert.deepEqual(plan.branches.map((b) => b.name), ["b", "a"]);
  assert.deepEqual(plan.snapshots.map((s) => s.name), ["auto-left", "auto-used"]);
  assert.match(plan.skipped.find((s) => s.name === "auto-held")!.reason, /protected/);
});

Deno.test("planGc(): no automatic snapshot is touched while a reset is unfinished", () => {
  const inv = inventory([branch("main", { isDefault: true })], {
    snapshots: [snapshot("auto-x", "main", { auto: true })],
    resetParts: [{ branch: "r", dataset: "p/clones/r.reset-new", role: "new" }],
  });
  const plan = planGc(inv, NOW);
  assert.deepEqual(plan.snapshots, []);
  assert.match(plan.skipped[0].reason, /unfinished/);
});

Deno.test("markResetting(): records the state, the pid and the state to return to", () => {
  assert.deepEqual(markResetting("running"), {
    "zvpg:state": "resetting",
    "zvpg:pid": String(Deno.pid),
    "zvpg:resume": "running",
  });
  assert.equal(isInFlight({ state: "resetting" }), true);
});

Deno.test("interrupted reset: undone while the old data exists, finished once it is gone", () => {
  const marked = branch("r", { state: "resetting", status: "resetting", operationPid: 4194304 });
  // killed before the swap: the branch's own dataset is still the old data
  assert.equal(resetDirection(inventory([marked]), "r"), "undo");
  // mid-swap: the old data renamed out, the new one not in yet (no branch record at all)
  const midSwap = inventory([], {
    resetParts: [
      { branch: "r", dataset: "p/clones/r.reset-old", role: "old" },
      { branch: "r", dataset: "p/clones/r.reset-new", role: "new" },
    ],
  });
  assert.equal(resetDirection(midSwap, "r"), "undo");
  // swapped, the old data still there: undo
  const swapped = inventory([{ ...marked, resetNew: true }], {
    resetParts: [{ branch: "r", dataset: "p/clones/r.reset-old", role: "old" }],
  });
  assert.equal(resetDirection(swapped, "r"), "undo");
  // old data destroyed: finish
  assert.equal(resetDirection(inventory([{ ...marked, resetNew: true }]), "r"), "finish");

  for (const [inv, step] of [[midSwap, "undo-reset"], [swapped, "undo-reset"]] as const) {
    const drift = findDrift(inv, { alive: DEAD, strayDirs: [] });
    assert.deepEqual(drift.map((d) => d.kind), ["interrupted-reset"]);
    const steps = planRepairs(inv, drift, { unusable: new Map(), remounted: new Set() });
    assert.deepEqual(steps.map((s) => s.do), [step]);
  }
  const finished = inventory([{ ...marked, resetNew: true }]);
  const drift = findDrift(finished, { alive: DEAD, strayDirs: [] });
  assert.deepEqual(
    planRepairs(finished, drift, { unusable: new Map(), remounted: new Set() }).map((s) => s.do),
    ["finish-reset"],
  );
});

Deno.test("interrupted reset: a live resetting process is in flight, never repaired", () => {
  const inv = inventory([
    branch("r", { state: "resetting", status: "resetting", operationPid: Deno.pid }),
  ]);
  const drift = findDrift(inv, { alive: () => true, strayDirs: [] });
  assert.deepEqual(drift.map((d) => d.kind), ["in-flight"]);
  assert.deepEqual(planRepairs(inv, drift, { unusable: new Map(), remounted: new Set() }), []);
});

Deno.test("buildInventory(): a reset's datasets are parts of it, neither branches nor foreign", () => {
  const config = {
    zfsPool: "p",
    dataSubdir: "data",
    clonesSubdir: "clones",
    socketSubdir: "sock",
    mountDir: "/m",
    branchDefault: "main",
    runtimeFlavor: "docker",
  } as unknown as ConstructorParameters<typeof Layout>[0];
  const layout = new Layout(config);
  assert.equal(layout.resetDataset("feature/x", "new"), "p/clones/feature_sx.reset-new");
  const fs = (name: string, props: Record<string, string>) => ({
    name,
    type: "filesystem",
    props: { type: "filesystem", ...props },
  });
  const inv = buildInventory({ layout, config }, [
    fs("p/data", { "zvpg:branch": "main" }),
    fs("p/clones/feature_sx.reset-old", { "zvpg:branch": "feature/x", "zvpg:state": "resetting" }),
    fs("p/clones/feature_sx.reset-new", {
      "zvpg:branch": "feature/x",
      "zvpg:reset-of": "feature/x",
    }),
    fs("p/clones/y.other", {}),
  ], []);
  assert.deepEqual(inv.branches.map((b) => b.name), ["main"]);
  assert.deepEqual(inv.resetParts?.map((p) => p.role), ["old", "new"]);
  assert.deepEqual(inv.foreignDatasets, ["p/clones/y.other"]);
});

Deno.test("assertNoUnfinishedReset(): a crashed reset's branch is refused until repaired", () => {
  assert.doesNotThrow(() => assertNoUnfinishedReset({ resetParts: [] }, branch("r")));
  assert.throws(
    () => assertNoUnfinishedReset({}, branch("r", { state: "resetting" })),
    /unfinished reset/,
  );
  assert.throws(
    () =>
      assertNoUnfinishedReset(
        { resetParts: [{ branch: "r", dataset: "p/clones/r.reset-old", role: "old" }] },
        branch("r"),
      ),
    /unfinished reset/,
  );
});

Deno.test("assertNotProtected(): names the protection and the way out", () => {
  assert.doesNotThrow(() => assertNotProtected(branch("x"), "deleted"));
  assert.throws(
    () => assertNotProtected(branch("x", { protected: true }), "reset"),
    /branch 'x' is protected and cannot be reset/,
  );
});
