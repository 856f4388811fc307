/**
 * Goldens of `branch archive` and the usage errors of `branch create --at`.
 *
 * @module
 */
import { inventory } from "./fixtures.ts";
import { assertGolden, runCli } from "./harness.ts";

for (const format of ["table", "json"] as const) {
  const ext = format === "json" ? "json" : "txt";

  Deno.test(`branch archive: ${format} output of a branch that never archived`, async () => {
    const run = await runCli(["branch", "archive", "feature/auth", "-f", format], {
      calls: () => [
        ...inventory(),
        {
          argv: ["zfs", "list", "-H", "-o", "name", "tpool/wal/feature_sauth"],
          result: {
            code: 1,
            stderr: "cannot open 'tpool/wal/feature_sauth': dataset does not exist\n",
          },
        },
      ],
    });
    assertGolden(`branch_archive_none.${ext}`, run);
  });
}

Deno.test("branch create --at: a target that is no time, LSN or duration is a usage error", async () => {
  const run = await runCli(["branch", "create", "x", "--at", "yesterday"]);
  assertGolden("branch_create_at_bad.txt", run);
});

Deno.test("branch create --at: a time in the future is a usage error", async () => {
  const run = await runCli(["branch", "create", "x", "--at", "2999-01-01T00:00:00Z"]);
  assertGolden("branch_create_at_future.txt", run);
});

Deno.test("branch create --at: --from with --at is a usage error", async () => {
  const run = await runCli(["branch", "create", "x", "--at", "-10m", "--from", "baseline"]);
  assertGolden("branch_create_at_from.txt", run);
});

Deno.test("branch archive: a state other than on or off is a usage error", async () => {
  const run = await runCli(["branch", "archive", "main", "maybe"]);
  assertGolden("branch_archive_bad.txt", run);
});

Deno.test("branch reset --at: --to with --at is a usage error", async () => {
  const run = await runCli(["branch", "reset", "x", "--at", "-10m", "--to", "baseline"]);
  assertGolden("branch_reset_at_to.txt", run);
});
