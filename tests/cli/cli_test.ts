/**
 * Every command run in process (`main(args)` on the strict fake runner): its text and
 * JSON output and its exit code, compared with golden files in tests/cli/golden/.
 */
import assert from "node:assert/strict";
import { assertGolden, runCli } from "./harness.ts";
import {
  DOCKER_VERSION,
  FEATURE_PS,
  IMAGE_INSPECT,
  inventory,
  MAIN_PS,
  pool,
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
      calls: () => inventory(),
    });
    assertGolden(`branch_info.${ext}`, run);
  });

  Deno.test(`branch info: ${format} output of a running branch`, async () => {
    const run = await runCli(["branch", "show", "feature/auth", "-f", format], {
      calls: () => inventory(pool("running"), [MAIN_PS, FEATURE_PS]),
    });
    assertGolden(`branch_info_running.${ext}`, run);
  });

  Deno.test(`snapshot list: ${format} output`, async () => {
    const run = await runCli(["snapshot", "list", "-f", format], { calls: () => zfsOnly() });
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
