/**
 * Goldens of `branch reset|expire|protect|unprotect` and `gc`: text, JSON and errors.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { FixtureEntry } from "../unit/helpers.ts";
import { dockerPsCall, portReleaseCall, zfsGetNamesCall } from "../unit/helpers.ts";
import {
  BASELINE,
  branchScope,
  CLONES,
  FEATURE,
  featureDataset,
  inventory,
  MAIN_PS,
  mainDataset,
  PID,
} from "./fixtures.ts";
import { assertGolden, runCli } from "./harness.ts";

/** The pool with feature/auth's dataset given extra properties. */
function poolWith(props: Record<string, string>, state = "stopped"): FixtureEntry[] {
  const feature = featureDataset(state);
  return [mainDataset(), BASELINE, CLONES, { ...feature, props: { ...feature.props, ...props } }];
}

const EXPIRED = { "zvpg:expires": "2026-01-01T00:00:00.000Z" };
const AT = "2026-12-01T18:00:00.000Z";

for (const format of ["table", "json"] as const) {
  const ext = format === "json" ? "json" : "txt";

  Deno.test(`branch reset: ${format} output of a stopped branch`, async () => {
    const oldDs = `${FEATURE}.reset-old`;
    const newDs = `${FEATURE}.reset-new`;
    const after = poolWith({ "zvpg:resume": "stopped" });
    const run = await runCli(["branch", "reset", "feature/auth", "-f", format], {
      calls: (ctx) => [
        ...inventory(),
        { argv: ["zfs", "set", "zvpg:state=resetting", FEATURE] },
        { argv: ["zfs", "set", `zvpg:pid=${PID}`, FEATURE] },
        { argv: ["zfs", "set", "zvpg:resume=stopped", FEATURE] },
        { argv: cloneArgv() },
        { argv: ["zfs", "snapshot", `${newDs}@.zvpg-origin`] },
        { argv: ["zfs", "set", "mountpoint=none", FEATURE] },
        { argv: ["zfs", "rename", FEATURE, oldDs] },
        { argv: ["zfs", "rename", newDs, FEATURE] },
        { argv: ["zfs", "set", `mountpoint=${ctx.layout.branchMount("feature/auth")}`, FEATURE] },
        { argv: ["zfs", "destroy", "-r", oldDs] },
        { argv: ["zfs", "inherit", "zvpg:reset-of", FEATURE] },
        { argv: ["zfs", "set", "zvpg:state=stopped", FEATURE] },
        portReleaseCall(FEATURE),
        ...branchScope("feature/auth", FEATURE, { entries: after }),
      ],
    });
    assertGolden(`branch_reset.${ext}`, run);
  });

  Deno.test(`branch reset: ${format} output, in place to the origin (birth snapshot)`, async () => {
    // a branch made by this zvpg has its birth snapshot: a stopped one is rolled back only
    const birth: FixtureEntry = {
      name: `${FEATURE}@.zvpg-origin`,
      props: { type: "snapshot", used: "0", referenced: "41897984", creation: "1795000201" },
    };
    const before = [...poolWith({}), birth];
    const after = [...poolWith({ "zvpg:resume": "stopped" }), birth];
    const run = await runCli(["branch", "reset", "feature/auth", "-f", format], {
      calls: () => [
        ...inventory(before),
        { argv: ["zfs", "set", "zvpg:state=resetting", FEATURE] },
        { argv: ["zfs", "set", `zvpg:pid=${PID}`, FEATURE] },
        { argv: ["zfs", "set", "zvpg:resume=stopped", FEATURE] },
        { argv: ["zfs", "rollback", `${FEATURE}@.zvpg-origin`] },
        { argv: ["zfs", "set", "zvpg:state=stopped", FEATURE] },
        portReleaseCall(FEATURE),
        // a stopped branch has no container: the engine is not asked again
        ...branchScope("feature/auth", FEATURE, { entries: after, known: true }),
      ],
    });
    assertGolden(`branch_reset_in_place.${ext}`, run);
  });

  Deno.test(`branch expire: ${format} output`, async () => {
    const run = await runCli(["branch", "expire", "feature/auth", AT, "-f", format], {
      calls: () => [
        ...inventory(),
        { argv: ["zfs", "inherit", "zvpg:ttl", FEATURE] },
        { argv: ["zfs", "set", `zvpg:expires=${AT}`, FEATURE] },
        ...inventory(poolWith({ "zvpg:expires": AT })),
      ],
    });
    assertGolden(`branch_expire.${ext}`, run);
  });

  Deno.test(`branch protect: ${format} output`, async () => {
    const run = await runCli(["branch", "protect", "feature/auth", "-f", format], {
      calls: () => [
        ...inventory(),
        { argv: ["zfs", "set", "zvpg:protected=on", FEATURE] },
        { argv: ["zfs", "hold", "zvpg-protect", "tpool/data@baseline"] },
        ...inventory(poolWith({ "zvpg:protected": "on" })),
      ],
    });
    assertGolden(`branch_protect.${ext}`, run);
  });

  Deno.test(`branch unprotect: ${format} output`, async () => {
    const run = await runCli(["branch", "unprotect", "feature/auth", "-f", format], {
      calls: () => [
        ...inventory(poolWith({ "zvpg:protected": "on" })),
        { argv: ["zfs", "release", "zvpg-protect", "tpool/data@baseline"] },
        { argv: ["zfs", "inherit", "zvpg:protected", FEATURE] },
        ...inventory(),
      ],
    });
    assertGolden(`branch_unprotect.${ext}`, run);
  });

  Deno.test(`gc --dry-run: ${format} output`, async () => {
    const run = await runCli(["gc", "--dry-run", "-f", format], {
      calls: () => inventory(poolWith(EXPIRED)),
    });
    assertGolden(`gc_dry_run.${ext}`, run);
  });

  Deno.test(`gc: ${format} output, a protected expired branch kept`, async () => {
    const run = await runCli(["gc", "-f", format], {
      calls: () => inventory(poolWith({ ...EXPIRED, "zvpg:protected": "on" })),
    });
    assertGolden(`gc_kept.${ext}`, run);
  });
}

Deno.test("gc: an expired branch is deleted", async () => {
  const run = await runCli(["gc", "-f", "json"], {
    calls: () => [
      ...inventory(poolWith(EXPIRED), [MAIN_PS]),
      { argv: ["zfs", "set", "zvpg:state=deleting", FEATURE] },
      { argv: ["zfs", "set", `zvpg:pid=${PID}`, FEATURE] },
      portReleaseCall(FEATURE),
      dockerPsCall("", "feature/auth"),
      { argv: ["zfs", "destroy", "-r", FEATURE] },
    ],
  });
  assertGolden("gc.json", run);
});

Deno.test("branch reset: a protected branch is refused, naming the protection", async () => {
  const run = await runCli(["branch", "reset", "feature/auth"], {
    calls: () => inventory(poolWith({ "zvpg:protected": "on" })),
  });
  assertGolden("error_reset_protected.txt", run);
});

Deno.test("branch reset: the default branch is refused", async () => {
  const run = await runCli(["branch", "reset", "main"], { calls: () => inventory() });
  assertGolden("error_reset_default.txt", run);
});

Deno.test("branch delete: a protected branch is refused", async () => {
  const run = await runCli(["branch", "delete", "feature/auth"], {
    calls: () => inventory(poolWith({ "zvpg:protected": "on" })),
  });
  assertGolden("error_delete_protected.txt", run);
});

Deno.test("branch expire: a bad duration is a usage error", async () => {
  const run = await runCli(["branch", "expire", "feature/auth", "7 days"]);
  assertGolden("usage_bad_expiry.txt", run);
});

Deno.test("branch expire: a date the calendar does not have is a usage error before any call", async () => {
  const run = await runCli(["branch", "expire", "feature/auth", "2027-02-30T00:00:00Z"]);
  assertGolden("usage_expire_no_such_date.txt", run);
});

Deno.test("branch create: an --expires-at the calendar does not have is a usage error", async () => {
  for (const bad of ["2027-02-29T00:00:00Z", "2027-04-31T12:00:00Z", "2027-01-01T24:00:00Z"]) {
    const run = await runCli(["branch", "create", "x", "--expires-at", bad]);
    assert.equal(run.code, 2, bad);
    assert.match(run.stderr, new RegExp(`'${bad}' is invalid`), bad);
  }
  const run = await runCli(["branch", "create", "x", "--expires-at", "2027-02-30T00:00:00Z"]);
  assertGolden("usage_expires_at_no_such_date.txt", run);
});

Deno.test("branch create: a past --expires-at is a usage error before any call", async () => {
  const run = await runCli(["branch", "create", "x", "--expires-at", "2026-01-01T00:00:00Z"]);
  assertGolden("usage_expires_at_past.txt", run);
});

Deno.test("branch expire: a past time is a usage error before any call", async () => {
  const run = await runCli(["branch", "expire", "feature/auth", "2026-01-01T00:00:00Z"]);
  assertGolden("usage_expire_past.txt", run);
});

Deno.test("branch expire --force: a past time is set (gc deletes the branch)", async () => {
  const past = "2026-01-01T00:00:00.000Z";
  const run = await runCli(["branch", "expire", "feature/auth", past, "--force", "-f", "json"], {
    calls: () => [
      ...inventory(),
      { argv: ["zfs", "inherit", "zvpg:ttl", FEATURE] },
      { argv: ["zfs", "set", `zvpg:expires=${past}`, FEATURE] },
      ...inventory(poolWith({ "zvpg:expires": past })),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).expiresAt, past);
});

Deno.test("branch expire never: a protected branch is refused, naming the protection", async () => {
  const run = await runCli(["branch", "expire", "feature/auth", "never"], {
    calls: () => inventory(poolWith({ "zvpg:protected": "on" })),
  });
  assertGolden("error_expire_never_protected.txt", run);
});

Deno.test("branch create: a bad --ttl is a usage error", async () => {
  const run = await runCli(["branch", "create", "x", "--ttl", "1y"]);
  assertGolden("usage_bad_ttl.txt", run);
});

Deno.test("branch reset: its own named snapshot is refused without --force, naming it", async () => {
  const milestone: FixtureEntry = {
    name: `${FEATURE}@milestone`,
    props: { ...BASELINE.props, createtxg: "200", "zvpg:message": "mine" },
  };
  const run = await runCli(["branch", "reset", "feature/auth"], {
    calls: () => inventory([...poolWith({}), milestone]),
  });
  assertGolden("error_reset_named_snapshot.txt", run);
});

/** feature/auth's own snapshots: `milestone`, then `later` (named) taken after it. */
function ownSnapshots(): FixtureEntry[] {
  const own = (name: string, txg: string): FixtureEntry => ({
    name: `${FEATURE}@${name}`,
    props: { ...BASELINE.props, createtxg: txg, "zvpg:message": name },
  });
  return [own("milestone", "200"), own("later", "210")];
}

Deno.test("branch reset --to its own snapshot: a later named one is refused, naming it", async () => {
  const run = await runCli(["branch", "reset", "feature/auth", "--to", "milestone"], {
    calls: () => inventory([...poolWith({}), ...ownSnapshots()]),
  });
  assertGolden("error_reset_own_later_snapshot.txt", run);
});

for (const format of ["table", "json"] as const) {
  Deno.test(`branch reset --to its own snapshot: a rollback in place (${format})`, async () => {
    const run = await runCli(
      ["branch", "reset", "feature/auth", "--to", "milestone", "--force", "-f", format],
      {
        calls: () => [
          ...inventory([...poolWith({}), ...ownSnapshots()]),
          { argv: ["zfs", "set", "zvpg:state=resetting", FEATURE] },
          { argv: ["zfs", "set", `zvpg:pid=${PID}`, FEATURE] },
          { argv: ["zfs", "set", "zvpg:resume=stopped", FEATURE] },
          // the later snapshot goes with the changes; the rollback is in place
          { argv: ["zfs", "destroy", `${FEATURE}@later`] },
          { argv: ["zfs", "rollback", `${FEATURE}@milestone`] },
          { argv: ["zfs", "set", "zvpg:state=stopped", FEATURE] },
          portReleaseCall(FEATURE),
          ...branchScope("feature/auth", FEATURE, {
            entries: [...poolWith({}), ownSnapshots()[0]],
            known: true,
          }),
        ],
      },
    );
    assertGolden(`branch_reset_own.${format === "json" ? "json" : "txt"}`, run);
  });
}

Deno.test("branch reset: --to and --parent together is a usage error", async () => {
  const run = await runCli(["branch", "reset", "feature/auth", "--to", "baseline", "--parent"]);
  assertGolden("usage_reset_to_and_parent.txt", run);
});

Deno.test("branch reset: a failed clone puts the branch back as it was (stopped)", async () => {
  const run = await runCli(["branch", "reset", "feature/auth"], {
    calls: (ctx) => {
      const marked = poolWith({
        "zvpg:state": "resetting",
        "zvpg:resume": "stopped",
        mountpoint: ctx.layout.branchMount("feature/auth"),
      });
      const parts = [FEATURE, `${FEATURE}.reset-old`, `${FEATURE}.reset-new`];
      const read = zfsGetNamesCall(marked, parts, [
        "type",
        "mountpoint",
        "zvpg:reset-of",
        "zvpg:resume",
        "zvpg:port",
      ]);
      return [
        ...inventory(),
        { argv: ["zfs", "set", "zvpg:state=resetting", FEATURE] },
        { argv: ["zfs", "set", `zvpg:pid=${PID}`, FEATURE] },
        { argv: ["zfs", "set", "zvpg:resume=stopped", FEATURE] },
        { argv: cloneArgv(), result: { code: 1, stderr: "cannot create: out of space\n" } },
        read,
        read,
        read,
        dockerPsCall("", "feature/auth"),
        { argv: ["zfs", "set", "zvpg:state=stopped", FEATURE] },
        portReleaseCall(FEATURE),
      ];
    },
  });
  assertGolden("error_reset_clone_failed.txt", run);
});

/** The `zfs clone` of a reset of stopped feature/auth to baseline. */
function cloneArgv(): string[] {
  return [
    "zfs",
    "clone",
    ...["-o", "mountpoint=none"],
    ...["-o", "zvpg:branch=feature/auth"],
    ...["-o", "zvpg:reset-of=feature/auth"],
    ...["-o", "zvpg:parent=main"],
    ...["-o", "zvpg:created=2026-11-24T11:00:00.000Z"],
    ...["-o", "zvpg:port=6002"],
    ...["-o", "zvpg:runtime=docker"],
    ...["-o", "zvpg:state=resetting"],
    ...["-o", `zvpg:pid=${PID}`],
    ...["-o", "zvpg:resume=stopped"],
    "tpool/data@baseline",
    `${FEATURE}.reset-new`,
  ];
}
