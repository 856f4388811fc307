import assert from "node:assert/strict";
import { createContext } from "../../src/cli/session.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { staleTemporaryBranches } from "../../src/workflows/diff_merge_service.ts";
import { type FixtureEntry, testConfig, withTempDir, zfsGetOutput } from "./helpers.ts";

Deno.test("staleTemporaryBranches: only temporary clones of dead zvpg processes", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner();
    const ctx = createContext(testConfig(dir), fake);
    const props = ["type", "zvpg:temporary", "zvpg:branch"];
    // a pid far above any pid_max is never alive
    const dead = "4194304999";
    const entries: FixtureEntry[] = [
      { name: "tpool/clones", props: { type: "filesystem" } },
      {
        name: "tpool/clones/zvpg-tmp-1-a",
        props: { type: "filesystem", "zvpg:temporary": dead, "zvpg:branch": "zvpg-tmp-1-a" },
      },
      {
        name: "tpool/clones/zvpg-tmp-2-b",
        props: {
          type: "filesystem",
          "zvpg:temporary": String(Deno.pid),
          "zvpg:branch": "zvpg-tmp-2-b",
        },
      },
      {
        name: "tpool/clones/zvpg-tmp-3-c",
        props: { type: "filesystem", "zvpg:branch": "zvpg-tmp-3-c" },
      },
      {
        name: "tpool/clones/zvpg-tmp-1-a@s",
        props: { type: "snapshot", "zvpg:temporary": dead, "zvpg:branch": "x" },
      },
    ];
    fake.expect({
      argv: [
        "zfs",
        "get",
        "-H",
        "-p",
        "-d",
        "1",
        "-o",
        "name,property,value,source",
        props.join(","),
        "tpool/clones",
      ],
      result: { stdout: zfsGetOutput(entries, props) },
    });
    assert.deepEqual(await staleTemporaryBranches(ctx), ["zvpg-tmp-1-a"]);
    fake.assertDone();
  });
});
