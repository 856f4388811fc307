/**
 * findPulledSnapshot: a snapshot pulled from a remote found in its remote-tracking
 * datasets with one `zfs get`, named `<remote>/<snapshot>` on branch `<remote>/<branch>`.
 */
import assert from "node:assert/strict";
import { createContext } from "../../src/cli/session.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { findPulledSnapshot } from "../../src/ops/store/load_pulled.ts";
import { testConfig, withTempDir } from "./helpers.ts";

const ARGV = [
  ...["zfs", "get", "-H", "-p", "-d", "2", "-o", "name,property,value,source"],
  "type,zvpg:branch,zvpg:message,zvpg:taken,creation,used,referenced",
  "tpool/remotes/origin",
];

function lines(name: string, type: string, props: Record<string, string>): string {
  return [
    `${name}\ttype\t${type}\t-`,
    ...Object.entries(props).map(([k, v]) => `${name}\t${k}\t${v}\tlocal`),
  ]
    .join("\n") + "\n";
}

Deno.test("findPulledSnapshot: the remote-tracking snapshot as a snapshot record", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([{
      argv: ARGV,
      result: {
        stdout: lines("tpool/remotes/origin", "filesystem", {}) +
          lines("tpool/remotes/origin/main", "filesystem", { "zvpg:branch": "main" }) +
          lines("tpool/remotes/origin/main@s1", "snapshot", { "zvpg:branch": "main" }) +
          lines("tpool/remotes/origin/main@s2", "snapshot", {
            "zvpg:branch": "main",
            "zvpg:message": "6000 rows",
            "zvpg:taken": "2026-11-24T11:00:00.000Z",
            creation: "1795000200",
            used: "0",
            referenced: "4096",
          }),
      },
    }]);
    const ctx = createContext(testConfig(dir), fake);
    const found = await findPulledSnapshot(ctx, "origin", "s2");
    assert.deepEqual(
      [found.name, found.zfsName, found.branch, found.message, found.created.toISOString()],
      [
        "origin/s2",
        "tpool/remotes/origin/main@s2",
        "origin/main",
        "6000 rows",
        "2026-11-24T11:00:00.000Z",
      ],
    );
    fake.assertDone();
  });
});

Deno.test("findPulledSnapshot: one not pulled says how to pull it", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([{
      argv: ARGV,
      result: { code: 1, stderr: "cannot open 'tpool/remotes/origin': dataset does not exist" },
    }]);
    const ctx = createContext(testConfig(dir), fake);
    await assert.rejects(
      () => findPulledSnapshot(ctx, "origin", "s9"),
      /snapshot 's9' of remote 'origin' is not here/,
    );
  });
});
