/**
 * The bases of pushes to remotes (`zvpg:remote-bases`, held `zvpg-remote-<remote>`): the
 * commands that destroy snapshots refuse one, naming it and its remote; `--force`
 * releases the hold first; `gc` keeps it and says why.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dockerPsCall, type FixtureEntry, portReleaseCall } from "../unit/helpers.ts";
import { snapshotReleaseCall } from "../unit/helpers.ts";
import { assertGolden, runCli } from "./harness.ts";
import {
  BASELINE,
  CLONES,
  FEATURE,
  featureDataset,
  inventory,
  mainDataset,
  PID,
} from "./fixtures.ts";

/** `feature/auth@v2`, the base of the next push to remote `backup`. */
const V2: FixtureEntry = {
  name: `${FEATURE}@v2`,
  props: {
    type: "snapshot",
    used: "4096",
    referenced: "41897984",
    createtxg: "120",
    "zvpg:message": "Second",
    "zvpg:taken": "2026-11-24T12:00:00.000Z",
    "zvpg:tool": "zvpg/test",
    "zvpg:remote-bases": "backup",
  },
};

/** The pool with v2 on feature/auth, feature/auth given extra properties. */
function poolWithBase(props: Record<string, string> = {}): FixtureEntry[] {
  const feature = featureDataset();
  return [
    mainDataset(),
    BASELINE,
    CLONES,
    { ...feature, props: { ...feature.props, ...props } },
    V2,
  ];
}

Deno.test("snapshot delete: the base of a push is refused, naming the remote", async () => {
  const run = await runCli(["snapshot", "delete", "v2"], {
    calls: () => inventory(poolWithBase()),
  });
  assertGolden("error_snapshot_remote_base.txt", run);
});

Deno.test("snapshot delete --force: releases the remote's hold, then destroys", async () => {
  const run = await runCli(["snapshot", "delete", "v2", "--force", "-f", "json"], {
    calls: () => [
      ...inventory(poolWithBase()),
      { argv: ["zfs", "release", "zvpg-remote-backup", V2.name] },
      { argv: ["zfs", "inherit", "zvpg:remote-bases", V2.name] },
      { argv: ["zfs", "destroy", V2.name] },
      snapshotReleaseCall("v2"),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout).snapshot, "v2");
});

Deno.test("branch delete: a branch holding the base of a push is refused", async () => {
  const run = await runCli(["branch", "delete", "feature/auth"], {
    calls: () => inventory(poolWithBase()),
  });
  assertGolden("error_branch_delete_remote_base.txt", run);
});

Deno.test("branch delete --force: releases the hold before anything goes", async () => {
  const run = await runCli(["branch", "delete", "feature/auth", "--force", "-f", "json"], {
    calls: () => [
      ...inventory(poolWithBase()),
      { argv: ["zfs", "release", "zvpg-remote-backup", V2.name] },
      { argv: ["zfs", "inherit", "zvpg:remote-bases", V2.name] },
      { argv: ["zfs", "set", "zvpg:state=deleting", FEATURE] },
      { argv: ["zfs", "set", `zvpg:pid=${PID}`, FEATURE] },
      portReleaseCall(FEATURE),
      dockerPsCall("", "feature/auth"),
      { argv: ["zfs", "destroy", "-r", FEATURE] },
      snapshotReleaseCall("v2"),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout).removedSnapshots, ["v2"]);
});

Deno.test("branch reset: a branch holding the base of a push is refused", async () => {
  const run = await runCli(["branch", "reset", "feature/auth"], {
    calls: () => inventory(poolWithBase()),
  });
  assert.equal(run.code, 1);
  assert.equal(
    run.stderr.trim(),
    "error: snapshot 'v2' is the base of the next push to remote 'backup' — push again first, or pass --force to delete it anyway (the next push sends it whole)",
  );
  assert.equal(run.stdout, "");
});

for (const [format, ext] of [["table", "txt"], ["json", "json"]] as const) {
  Deno.test(`gc: ${format} output, an expired branch holding a push's base is kept`, async () => {
    const run = await runCli(["gc", "-f", format], {
      calls: () => inventory(poolWithBase({ "zvpg:expires": "2026-01-01T00:00:00.000Z" })),
    });
    assertGolden(`gc_remote_base.${ext}`, run);
  });
}
