/** The claims index: key encoding, parsing, and how it differs from the pool (pure). */
import assert from "node:assert/strict";
import {
  describeIndexDrift,
  indexDrift,
  indexMisses,
  parseClaims,
  portClaimKey,
  portClaimValue,
  snapshotClaimKey,
  snapshotOfKey,
} from "../../src/domain/claims.ts";
import { branchRecord, inventoryOf, snapshotRecord as snap } from "./helpers.ts";

Deno.test("snapshotClaimKey: injective, lower case, and read back by snapshotOfKey", () => {
  const names = ["a", "A", "_a", "__", "_", "Ab_C", "v1.2:x-y", "x".repeat(64), "X".repeat(64)];
  const keys = names.map(snapshotClaimKey);
  assert.equal(new Set(keys).size, names.length);
  for (const [i, key] of keys.entries()) {
    assert.match(key, /^zvpg:snapshot:[a-z0-9_.:-]+$/);
    assert.ok(key.length <= 256, key);
    assert.equal(snapshotOfKey(key), names[i]);
  }
  assert.equal(snapshotOfKey("zvpg:port:abc"), undefined);
});

Deno.test("portClaimKey: one key per dataset, a legal property name", () => {
  const a = portClaimKey("tpool/clones/a");
  assert.notEqual(a, portClaimKey("tpool/clones/b"));
  assert.match(a, /^zvpg:port:[0-9a-f]{24}$/);
});

Deno.test("parseClaims: the marker, names and ports; a value that does not match its key is no claim", () => {
  const index = parseClaims({
    "zvpg:index": "1",
    [snapshotClaimKey("Base_1")]: "main",
    [portClaimKey("tpool/data")]: portClaimValue(6001, "tpool/data"),
    [portClaimKey("tpool/clones/a")]: portClaimValue(6002, "tpool/clones/b"),
    "zvpg:snapshot:_q_": "junk",
    "other:prop": "x",
  });
  assert.equal(index.complete, true);
  assert.deepEqual([...index.snapshots], [["Base_1", "main"]]);
  assert.deepEqual([...index.ports], [["tpool/data", 6001]]);
  assert.equal(parseClaims({}).complete, false);
});

Deno.test("indexDrift: unclaimed snapshots and ports are missing; gone ones are stale", () => {
  const inventory = inventoryOf([
    branchRecord("main", { dataset: "tpool/data", state: "running", lastPort: 6001 }),
    branchRecord("a", { dataset: "tpool/clones/a", state: "stopped", lastPort: 6002 }),
    branchRecord("b", { dataset: "tpool/clones/b", state: "creating", lastPort: 6003 }),
  ], { snapshots: [snap("base", "main"), snap("hand", "a")] });
  const index = parseClaims({
    "zvpg:index": "1",
    [snapshotClaimKey("base")]: "main",
    [snapshotClaimKey("deleted")]: "main",
    [portClaimKey("tpool/data")]: portClaimValue(6001, "tpool/data"),
    [portClaimKey("tpool/clones/a")]: portClaimValue(6002, "tpool/clones/a"),
  });
  const drift = indexDrift(inventory, index);
  assert.equal(drift.incomplete, false);
  assert.deepEqual(drift.snapshots, [{ name: "hand", branch: "a" }]);
  assert.deepEqual(drift.ports, [{ branch: "b", dataset: "tpool/clones/b", port: 6003 }]);
  // a stopped branch claims no port; a destroyed snapshot's name is free
  assert.deepEqual(
    drift.stale.sort(),
    [portClaimKey("tpool/clones/a"), snapshotClaimKey("deleted")].sort(),
  );
  assert.equal(indexMisses(drift), true);
  assert.match(describeIndexDrift(drift), /snapshot 'hand' of branch 'a', port 6003 of branch 'b'/);
});

Deno.test("indexDrift: a complete index of the pool misses nothing; stale claims alone do not count", () => {
  const inventory = inventoryOf([
    branchRecord("main", { dataset: "tpool/data", state: "running", lastPort: 6001 }),
  ], { snapshots: [snap("base", "main")] });
  const claims = {
    [snapshotClaimKey("base")]: "main",
    [portClaimKey("tpool/data")]: portClaimValue(6001, "tpool/data"),
  };
  assert.equal(
    indexMisses(indexDrift(inventory, parseClaims({ "zvpg:index": "1", ...claims }))),
    false,
  );
  const stale = parseClaims({ "zvpg:index": "1", ...claims, [snapshotClaimKey("x")]: "main" });
  assert.equal(indexMisses(indexDrift(inventory, stale)), false);
  // never completed: missing even when every claim is there
  const incomplete = indexDrift(inventory, parseClaims(claims));
  assert.equal(indexMisses(incomplete), true);
  assert.match(describeIndexDrift(incomplete), /not built/);
});
