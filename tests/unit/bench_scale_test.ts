/**
 * The scale benchmark's pure parts: the call profile read from the runner's DEBUG lines,
 * the figures (medians, ratios, calls that grew), and the metadata schema it builds the
 * crowd with, which must be the services' own.
 */
import assert from "node:assert/strict";
import { callKey } from "../../bench/call_profile.ts";
import { figures } from "../../bench/scale.ts";
import { parseEngineBytes } from "../../bench/methods/container_memory.ts";
import { callSummary } from "../../src/runtime/runner.ts";
import { branchProps, snapshotProps } from "../../src/domain/metadata_props.ts";
import { Layout } from "../../src/domain/layout.ts";
import { decodeMessage } from "../../src/domain/inventory.ts";
import { PROPS } from "../../src/domain/layout.ts";
import { testConfig } from "./helpers.ts";

Deno.test("callSummary() names the program and first arguments, then counts the rest", () => {
  assert.equal(
    callSummary("zfs", ["set", "zvpg:state=stopped", "p/d"]),
    "zfs set zvpg:state=stopped p/d",
  );
  assert.equal(
    callSummary("zfs", ["get", "-H", "-p", "-o", "name", "type", "p/a", "p/b", "p/c"]),
    "zfs get -H -p -o name type (+3 args)",
  );
});

Deno.test("callKey() gives the same call on two pools one key, and counts its arguments", () => {
  const get = (pool: string) =>
    callSummary("zfs", ["get", "-H", "-p", "-d", "1", "-o", "name", "type", `${pool}/clones`]);
  const small = callKey(get("zvpgbench_x_small"), "zvpgbench_x_small");
  assert.deepEqual(small, { key: "zfs get -H -p -d N -o …", args: 9 });
  assert.deepEqual(callKey(get("zvpgbench_x_large"), "zvpgbench_x_large"), small);
  assert.equal(
    callKey("zfs set zvpg:port=19001 zvpgbench_x_small/clones/a", "zvpgbench_x_small").key,
    callKey("zfs set zvpg:port=19501 zvpgbench_x_large/clones/a", "zvpgbench_x_large").key,
  );
  assert.equal(
    callKey("docker rm -f -v zvpg_a_19001", "zvpgbench_x").key,
    "docker rm -f -v <container>",
  );
});

Deno.test("figures() gives per operation the medians, the ratio and the most grown call first", () => {
  const sample = (ms: number, get: number) => ({
    ms,
    calls: {
      "zfs get": { count: 1, ms: get, args: 3 },
      "docker ps": { count: 1, ms: 50, args: 9 },
    },
  });
  const round = (ms: number, get: number) => [0, 1, 2, 3].map(() => sample(ms, get));
  const [snapshot] = figures(
    [round(100, 10), round(300, 30), round(200, 20)],
    [round(220, 40), round(260, 60), round(240, 50)],
  );
  assert.equal(snapshot.operation, "snapshot create");
  assert.equal(snapshot.smallMedian, 200);
  assert.equal(snapshot.largeMedian, 240);
  assert.equal(snapshot.ratio, 1.2);
  assert.deepEqual(snapshot.calls[0], {
    call: "zfs get",
    small: 20,
    large: 50,
    count: "1 / 1",
    args: "3 / 3",
  });
});

Deno.test("snapshotProps() and branchProps() are the metadata the services write", () => {
  const at = new Date("2026-11-25T10:00:00.000Z");
  const snap = snapshotProps("a\tmessage", at, "feature");
  assert.equal(decodeMessage(snap[PROPS.message]), "a\tmessage");
  assert.equal(snap[PROPS.taken], "2026-11-25T10:00:00.000Z");
  assert.equal(snap[PROPS.auto], "feature");
  assert.equal(snapshotProps("m", at)[PROPS.auto], undefined);
  const layout = new Layout(testConfig("/tmp/zvpg-bench-unit"));
  assert.deepEqual(branchProps(layout, "feature", "main", at), {
    mountpoint: layout.branchMount("feature"),
    [PROPS.branch]: "feature",
    [PROPS.parent]: "main",
    [PROPS.created]: "2026-11-25T10:00:00.000Z",
  });
});

Deno.test("parseEngineBytes() reads the first half of docker's MemUsage", () => {
  assert.equal(parseEngineBytes("24.5MiB / 23.4GiB"), 24.5 * 1024 ** 2);
  assert.equal(parseEngineBytes("12kB / 1GB"), 12_000);
  assert.ok(Number.isNaN(parseEngineBytes("--")));
});
