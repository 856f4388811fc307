/**
 * The refs of a file remote: the index read as untrusted input, and the push and pull
 * plans, decided by GUID.
 */
import assert from "node:assert/strict";
import {
  chainOf,
  cloneTarget,
  parsePulledName,
  planPull,
  planPush,
  readRefsIndex,
  refsIndexText,
  type RemoteRef,
  streamFileName,
} from "../../src/domain/remote_refs.ts";
import { assertOneLine } from "./helpers.ts";

function ref(name: string, guid: string, base: string | null, branch = "main"): RemoteRef {
  return {
    name,
    guid,
    message: `${name} message`,
    time: "2026-11-24T11:33:23.150Z",
    branch,
    base,
    stream: streamFileName(guid),
  };
}

// s1 whole, s2 and s3 increments on main; f1 whole on feature/auth
const REFS = [ref("s1", "11", null), ref("s2", "22", "11"), ref("s3", "33", "22")];
const ALL = [...REFS, ref("f1", "44", null, "feature/auth")];

Deno.test("refsIndexText and readRefsIndex: a round trip", () => {
  const text = refsIndexText(ALL);
  assert.deepEqual(JSON.parse(text).version, 1);
  assert.deepEqual(readRefsIndex(text), ALL);
  assert.deepEqual(readRefsIndex('{"version": 1, "refs": []}'), []);
  assert.equal(streamFileName("123"), "123.zstream");
});

Deno.test("readRefsIndex: an index it cannot trust is a problem naming the ref", () => {
  const doc = (refs: unknown[], version: unknown = 1) => JSON.stringify({ version, refs });
  const cases: [string, RegExp][] = [
    ["{", /not valid JSON/],
    ["[]", /an object with a "refs" list/],
    [doc([], 2), /version 2 is not 1/],
    [doc([{ ...ref("s1", "11", null), guid: 11 }]), /ref #1: it has no "guid" string/],
    [doc([ref("a/b", "11", null)]), /name 'a\/b'/],
    [doc([ref("s1", "0x1", null)]), /GUID '0x1'/],
    [doc([{ ...ref("s1", "11", null), base: "x" }]), /base 'x'/],
    [doc([{ ...ref("s1", "11", null), stream: "../../etc/passwd" }]), /names stream '\.\.\//],
    [doc([{ ...ref("s1", "11", null), stream: "/tmp/11.zstream" }]), /not 11\.zstream/],
    [doc([{ ...ref("s1", "11", null), time: "yesterday" }]), /time 'yesterday'/],
    [doc([ref("s1", "11", null), ref("s1", "22", "11")]), /ref 's1' is there twice/],
    [doc([ref("s1", "11", null), ref("s2", "11", null)]), /GUID 11 is there twice/],
    [doc([ref("s2", "22", "99")]), /'s2' is an increment from GUID 99, not a ref/],
    [doc([ref("a", "1", "2"), ref("b", "2", "1")]), /chain of bases loops/],
  ];
  for (const [text, problem] of cases) {
    const read = readRefsIndex(text);
    assert.ok("problem" in read, text);
    assertOneLine(read.problem);
    assert.match(read.problem, problem, text);
  }
});

Deno.test("chainOf: the refs from the whole stream to the ref, oldest first", () => {
  assert.deepEqual(chainOf(ALL, ALL[2])?.map((r) => r.name), ["s1", "s2", "s3"]);
  assert.deepEqual(chainOf(ALL, ALL[3])?.map((r) => r.name), ["f1"]);
  assert.equal(chainOf([ref("a", "1", "2"), ref("b", "2", "1")], ref("a", "1", "2")), undefined);
});

Deno.test("planPush: an increment from the newest snapshot both sides hold, by GUID", () => {
  const lineage = [
    { name: "s1", guid: "11", zfsName: "p/data@s1" },
    { name: "s2", guid: "22", zfsName: "p/data@s2" },
    { name: "wip", guid: "55", zfsName: "p/data@wip" },
    { name: "s4", guid: "66", zfsName: "p/data@s4" },
  ];
  assert.deepEqual(planPush(lineage, REFS.slice(0, 2)), {
    kind: "send",
    base: { name: "s2", guid: "22", zfsName: "p/data@s2" },
  });
  // the remote holds s2 under another name: its GUID still makes it the base
  assert.deepEqual(planPush(lineage, [ref("s1", "11", null), ref("renamed", "22", "11")]), {
    kind: "send",
    base: { name: "s2", guid: "22", zfsName: "p/data@s2" },
  });
  assert.deepEqual(planPush(lineage, []), { kind: "send", base: null });
  assert.deepEqual(planPush(lineage, [ref("other", "77", null)]), { kind: "send", base: null });
});

Deno.test("planPush: present by GUID, a conflict by name", () => {
  const lineage = [
    { name: "s1", guid: "11", zfsName: "p/data@s1" },
    { name: "s2", guid: "22", zfsName: "p/data@s2" },
  ];
  assert.deepEqual(planPush(lineage, REFS), { kind: "present", ref: REFS[1] });
  const taken = ref("s2", "99", null);
  assert.deepEqual(planPush(lineage, [REFS[0], taken]), { kind: "conflict", ref: taken });
});

Deno.test("planPull: the streams from the local copy's newest snapshot, oldest first", () => {
  const names = (plan: ReturnType<typeof planPull>) =>
    plan.kind === "receive" ? plan.streams.map((r) => r.name) : plan.kind;
  assert.deepEqual(names(planPull(ALL, "s3", [])), ["s1", "s2", "s3"]);
  assert.deepEqual(names(planPull(ALL, "s3", ["11"])), ["s2", "s3"]);
  assert.deepEqual(names(planPull(ALL, "s3", ["11", "22"])), ["s3"]);
  assert.deepEqual(names(planPull(ALL, "s2", [])), ["s1", "s2"]);
  assert.deepEqual(names(planPull(ALL, "f1", [])), ["f1"]);
  assert.deepEqual(planPull(ALL, "nope", []), { kind: "missing" });
  assert.deepEqual(planPull(ALL, "s2", ["11", "22", "33"]), { kind: "present", ref: ALL[1] });
});

Deno.test("planPull: a local copy whose newest snapshot is off the chain is refused", () => {
  // the local copy went on from s1 with a snapshot (88) the remote does not have
  assert.deepEqual(planPull(ALL, "s3", ["11", "88"]), {
    kind: "diverged",
    ref: ALL[2],
    newest: "88",
  });
  assert.equal(planPull(ALL, "f1", ["11"]).kind, "diverged");
});

Deno.test("parsePulledName: <remote>/<snapshot> only, any other name is a local one", () => {
  assert.deepEqual(parsePulledName("origin/s2"), { remote: "origin", snapshot: "s2" });
  for (const name of ["s2", "a/b/c", "/s2", "origin/", "-x/s2", "origin/-s2", "o@x/s2", "o/s@2"]) {
    assert.equal(parsePulledName(name), undefined, name);
  }
});

Deno.test("planPull: a branch whose origin is held elsewhere here starts at its clone stream", () => {
  // c1 of feature/x is an increment from s2 of main (a clone stream), c2 one from c1
  const refs = [...REFS, ref("c1", "55", "22", "feature/x"), ref("c2", "66", "55", "feature/x")];
  const names = (plan: ReturnType<typeof planPull>) =>
    plan.kind === "receive" ? plan.streams.map((r) => r.name) : plan.kind;
  assert.deepEqual(names(planPull(refs, "c2", [], new Set(["11", "22"]))), ["c1", "c2"]);
  // without the origin here, the whole chain comes (main's streams first)
  assert.deepEqual(names(planPull(refs, "c2", [], new Set(["11"]))), ["s1", "s2", "c1", "c2"]);
  // main's own snapshots held elsewhere never start a chain: a plain increment needs its base
  assert.deepEqual(names(planPull(refs, "s3", [], new Set(["22"]))), ["s1", "s2", "s3"]);
});

Deno.test("planPush: a branch's origin leads its lineage and can be the base", () => {
  const lineage = [
    { name: "s2", guid: "22", zfsName: "p/data@s2" },
    { name: "c1", guid: "55", zfsName: "p/clones/x@c1" },
  ];
  assert.deepEqual(planPush(lineage, REFS), { kind: "send", base: lineage[0] });
});

Deno.test("cloneTarget: the named snapshot of any branch, else the newest of main by time", () => {
  const refs = [
    { name: "a", branch: "main", time: "2026-11-24T10:00:00.000Z" },
    { name: "late", branch: "main", time: "2026-11-24T12:00:00.000Z" },
    { name: "f", branch: "feature/x", time: "2026-11-25T10:00:00.000Z" },
    // listed after a newer one: the time decides, not the order
    { name: "early", branch: "main", time: "2026-11-24T09:00:00.000Z" },
  ];
  assert.equal((cloneTarget(refs, "main") as { name: string }).name, "late");
  assert.equal((cloneTarget(refs, "main", "f") as { name: string }).name, "f");
  assert.match((cloneTarget(refs, "main", "zz") as { problem: string }).problem, /'zz'/);
  assert.match(
    (cloneTarget(refs.slice(2, 3), "main") as { problem: string }).problem,
    /no snapshot of branch 'main'/,
  );
});
