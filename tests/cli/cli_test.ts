/**
 * Every command run in process (`main(args)` on the strict fake runner): its text and
 * JSON output and its exit code, compared with golden files in tests/cli/golden/.
 */
import assert from "node:assert/strict";
import { branchGetCall } from "../unit/helpers.ts";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import { VERSION } from "../../src/version.ts";
import {
  dockerPsCall,
  type FixtureEntry,
  NOW,
  portReleaseCall,
  snapshotNamedCall,
  snapshotReleaseCall,
  zfsGetMissingCall,
  zfsGetNamesCall,
} from "../unit/helpers.ts";
import { assertGolden, runCli } from "./harness.ts";
import {
  BASELINE,
  branchScope,
  CLONES,
  DOCKER_VERSION,
  FEATURE,
  FEATURE_PS,
  featureFromPulled,
  IMAGE_INSPECT,
  inventory,
  inventoryWithTracking,
  mainDataset,
  PID,
  pool,
  pulled,
  TRACKING,
  zfsOnly,
  ZPOOL_LIST,
} from "./fixtures.ts";

const FORMATS = [["table", "txt"], ["json", "json"]] as const;

for (const [format, ext] of FORMATS) {
  Deno.test(`branch list: ${format} output`, async () => {
    const run = await runCli(["branch", "list", "-f", format], { calls: () => inventory() });
    assertGolden(`branch_list.${ext}`, run);
  });

  Deno.test(`branch info: ${format} output of a stopped branch`, async () => {
    const run = await runCli(["branch", "info", "feature/auth", "-f", format], {
      calls: () => branchScope(),
    });
    assertGolden(`branch_info.${ext}`, run);
  });

  Deno.test(`branch info: ${format} output of a running branch`, async () => {
    const run = await runCli(["branch", "show", "feature/auth", "-f", format], {
      calls: () =>
        branchScope("feature/auth", FEATURE, {
          entries: pool("running"),
          ps: [FEATURE_PS],
        }),
    });
    assertGolden(`branch_info_running.${ext}`, run);
  });

  Deno.test(`snapshot list: ${format} output`, async () => {
    const run = await runCli(["snapshot", "list", "-f", format], {
      calls: () => zfsOnly(undefined, { tracking: true }),
    });
    assertGolden(`snapshot_list.${ext}`, run);
  });

  Deno.test(`snapshot info: ${format} output`, async () => {
    const run = await runCli(["snapshot", "info", "baseline", "-f", format], {
      calls: () => zfsOnly(),
    });
    assertGolden(`snapshot_info.${ext}`, run);
  });

  Deno.test(`status system: ${format} output`, async () => {
    const run = await runCli(["status", "-f", format], {
      calls: () => [ZPOOL_LIST, DOCKER_VERSION, ...inventory(), IMAGE_INSPECT],
    });
    assertGolden(`status_system.${ext}`, run);
  });

  Deno.test(`status branches: ${format} output`, async () => {
    const run = await runCli(["status", "branches", "-f", format], { calls: () => inventory() });
    assertGolden(`status_branches.${ext}`, run);
  });

  Deno.test(`status snapshots: ${format} output`, async () => {
    const run = await runCli(["status", "snapshots", "-f", format], {
      calls: () => zfsOnly(),
    });
    assertGolden(`status_snapshots.${ext}`, run);
  });
}

Deno.test("commit show: the same output as snapshot info", async () => {
  const snapshot = await runCli(["snapshot", "info", "baseline"], { calls: () => zfsOnly() });
  const commit = await runCli(["commit", "show", "baseline"], { calls: () => zfsOnly() });
  assert.equal(commit.stdout, snapshot.stdout);
  assert.equal(commit.code, 0);
});

const V2: FixtureEntry = {
  name: "tpool/clones/feature_sauth@v2",
  props: {
    type: "snapshot",
    used: "4096",
    referenced: "41897984",
    createtxg: "120",
    "zvpg:message": "Second",
    "zvpg:taken": NOW.toISOString(),
    "zvpg:tool": `zvpg/${VERSION}`,
  },
};

const V2_CALL: ExpectedCall = {
  argv: [
    "zfs",
    "snapshot",
    "-o",
    "zvpg:message=Second",
    "-o",
    `zvpg:taken=${NOW.toISOString()}`,
    "-o",
    `zvpg:tool=zvpg/${VERSION}`,
    "tpool/clones/feature_sauth@v2",
  ],
};

/** `snapshot create v2 -b feature/auth`: the branch, the name check, the snapshot, its read. */
const SNAPSHOT_V2: ExpectedCall[] = [
  ...branchScope("feature/auth", FEATURE, { slots: true }),
  snapshotNamedCall(pool(), "v2"),
  V2_CALL,
  zfsGetNamesCall([...pool(), V2], [`${FEATURE}@v2`]),
];

for (const [format, ext] of FORMATS) {
  for (const noun of ["snapshot", "commit"]) {
    Deno.test(`${noun} create: ${format} output`, async () => {
      const args = [noun, "create", "v2", "-b", "feature/auth", "-m", "Second", "-f", format];
      const run = await runCli(args, {
        calls: () => SNAPSHOT_V2,
      });
      assertGolden(`${noun}_create.${ext}`, run);
    });
  }

  Deno.test(`branch snapshot: ${format} output`, async () => {
    const args = ["branch", "snapshot", "feature/auth", "v2", "-m", "Second", "-f", format];
    const run = await runCli(args, {
      calls: () => SNAPSHOT_V2,
    });
    assertGolden(`branch_snapshot.${ext}`, run);
  });

  for (const [noun, verb] of [["snapshot", "delete"], ["commit", "remove"]]) {
    Deno.test(`${noun} ${verb}: ${format} output`, async () => {
      const run = await runCli([noun, verb, "v2", "-f", format], {
        calls: () => [
          ...inventory([...pool(), V2]),
          { argv: ["zfs", "destroy", "tpool/clones/feature_sauth@v2"] },
          snapshotReleaseCall("v2"),
        ],
      });
      assertGolden(`${noun}_${verb}.${ext}`, run);
    });
  }

  Deno.test(`branch stop: ${format} output of a running branch`, async () => {
    const container = "zvpg_feature_sauth_6002";
    const run = await runCli(["branch", "stop", "feature/auth", "-f", format], {
      calls: () => [
        ...branchScope("feature/auth", FEATURE, { entries: pool("running"), ps: [FEATURE_PS] }),
        { argv: ["zfs", "set", "zvpg:state=stopped", "tpool/clones/feature_sauth"] },
        portReleaseCall("tpool/clones/feature_sauth"),
        { argv: ["docker", "stop", "-t", "30", container] },
        { argv: ["docker", "rm", "-f", "-v", container] },
      ],
    });
    assertGolden(`branch_stop.${ext}`, run);
  });

  Deno.test(`branch stop: ${format} output of a stopped branch`, async () => {
    const run = await runCli(["branch", "stop", "feature/auth", "-f", format], {
      calls: () => branchScope(),
    });
    assertGolden(`branch_stop_stopped.${ext}`, run);
  });

  Deno.test(`branch delete: ${format} output`, async () => {
    const dataset = "tpool/clones/feature_sauth";
    const run = await runCli(["branch", "delete", "feature/auth", "-f", format], {
      calls: () => [
        ...inventory(),
        { argv: ["zfs", "set", "zvpg:state=deleting", dataset] },
        { argv: ["zfs", "set", `zvpg:pid=${PID}`, dataset] },
        portReleaseCall(dataset),
        dockerPsCall("", "feature/auth"),
        { argv: ["zfs", "destroy", "-r", dataset] },
      ],
    });
    assertGolden(`branch_delete.${ext}`, run);
  });
}

Deno.test("branch info: an unknown branch is exit 1 with one line on stderr", async () => {
  const run = await runCli(["branch", "info", "nope"], {
    calls: () => branchScope("nope", "tpool/clones/nope"),
  });
  assertGolden("error_branch_not_found.txt", run);
});

Deno.test("snapshot info: an unknown snapshot is exit 1", async () => {
  const run = await runCli(["snapshot", "info", "nope", "-f", "json"], {
    calls: () => zfsOnly(),
  });
  assertGolden("error_snapshot_not_found.txt", run);
});

Deno.test("branch list: before init is exit 1 and says how to initialise", async () => {
  const run = await runCli(["branch", "list"], {
    calls: () => [zfsGetMissingCall(), dockerPsCall(""), ZPOOL_LIST],
  });
  assertGolden("error_not_initialized.txt", run);
});

Deno.test("before init, every command names itself, not the workflow it goes through", async () => {
  for (const args of [["branch", "diff", "feat"], ["branch", "url", "feat"]]) {
    const run = await runCli(args, {
      calls: () => [
        branchGetCall([], ["tpool/clones/feat"]),
        dockerPsCall("", "feat"),
        ZPOOL_LIST,
      ],
    });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr.trim(),
      `error: ${args[0]} ${
        args[1]
      }: zvpg is not initialised on this pool — run 'zvpg init env' first`,
    );
  }
});

for (const [format, ext] of [["table", "txt"], ["json", "json"]] as const) {
  Deno.test(`snapshot list: ${format} output with snapshots pulled from a remote`, async () => {
    const entries = [...pool(), ...pulled()];
    const run = await runCli(["snapshot", "list", "-f", format], {
      calls: () => zfsOnly(entries, { tracking: true }),
    });
    assertGolden(`snapshot_list_pulled.${ext}`, run);
  });

  Deno.test(`snapshot delete <remote>/<name>: ${format} output, the last takes its dataset`, async () => {
    const entries = [...pool(), ...pulled().filter((e) => e.name !== `${TRACKING}@baseline`)];
    const v2 = `${TRACKING}@v2`;
    const run = await runCli(["snapshot", "delete", "usb/v2", "-f", format], {
      calls: () => [
        ...inventoryWithTracking(entries),
        zfsGetNamesCall([{ name: v2, props: { type: "snapshot", userrefs: "0" } }], [v2], [
          "type",
          "userrefs",
        ]),
        { argv: ["zfs", "destroy", v2] },
        { argv: ["zfs", "destroy", TRACKING] },
      ],
    });
    assertGolden(`snapshot_delete_pulled.${ext}`, run);
  });
}

Deno.test("snapshot list --branch <remote>/<branch>: that remote-tracking branch only", async () => {
  const run = await runCli(["snapshot", "list", "--branch", "usb/main", "-f", "json"], {
    calls: () => zfsOnly([...pool(), ...pulled()], { tracking: true }),
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout).map((s: { name: string }) => s.name), [
    "usb/baseline",
    "usb/v2",
  ]);
});

Deno.test("snapshot delete <remote>/<name>: refused while a branch is cloned from it", async () => {
  const entries = [mainDataset(), BASELINE, CLONES, featureFromPulled(), ...pulled()];
  const run = await runCli(["snapshot", "delete", "usb/v2"], {
    calls: () => inventoryWithTracking(entries),
  });
  assertGolden("error_snapshot_pulled_dependents.txt", run);
});

Deno.test("snapshot delete: refused while a branch depends on it", async () => {
  const run = await runCli(["snapshot", "delete", "baseline"], { calls: () => inventory() });
  assertGolden("error_snapshot_dependents.txt", run);
});

for (
  const [name, args] of [
    ["missing_argument", ["branch", "create"]],
    ["bad_port", ["branch", "create", "x", "--port", "0"]],
    ["bad_format", ["branch", "list", "-f", "xml"]],
    ["unknown_command", ["bogus"]],
    ["status_unknown_command", ["status", "bogus"]],
    ["bad_pool_size", ["init", "env", "--pool-size", "3X"]],
    ["import_mode_without_from", ["init", "env", "--mode", "physical"]],
    ["import_bad_mode", ["init", "env", "--from", "/x", "--mode", "copy"]],
    ["import_bad_jobs", ["refresh", "--jobs", "0"]],
    ["mask_without_from", ["init", "env", "--mask", "tests/cli/masking_bad.json"]],
    ["mask_bad_rules", ["init", "env", "--from", "/x", "--mask", "tests/cli/masking_bad.json"]],
    ["refresh_mask_bad_rules", ["refresh", "--mask", "tests/cli/masking_bad.json"]],
    ["serve_without_stdio", ["serve"]],
    ["clone_bad_url", ["clone", "https://db2.example.com/zvpg"]],
    ["clone_bad_snapshot", ["clone", "ssh://db2", "--snapshot", "../x"]],
    ["clone_bad_origin", ["clone", "ssh://db2", "--origin", "a/b"]],
  ] as const
) {
  Deno.test(`usage error (${name}): exit 2, nothing on stdout, no runner call`, async () => {
    const run = await runCli([...args]);
    assert.equal(run.stdout, "");
    assertGolden(`usage_${name}.txt`, run);
  });
}

Deno.test("--version: prints the version on stdout, exit 0", async () => {
  const run = await runCli(["--version"]);
  assert.equal(run.code, 0);
  assert.equal(run.stdout, `${VERSION}\n`);
});
