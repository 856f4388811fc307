/**
 * The CI helpers in process: `branch url|env|psql`, `branch create --if-not-exists`,
 * `log`, `completions` and `__complete`, compared with golden files.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import type { Context } from "../../src/context.ts";
import { writePrivateFile } from "../../src/runtime/private_fs.ts";
import type { FixtureEntry } from "../unit/helpers.ts";
import { assertGolden, runCli } from "./harness.ts";
import {
  BASELINE,
  branchScope,
  CLONES,
  FEATURE,
  FEATURE_PS,
  featureFromPulled,
  mainDataset,
  pool,
  pulled,
  zfsOnly,
} from "./fixtures.ts";

const FORMATS = [["table", "txt"], ["json", "json"]] as const;

/** The password `init env` would have written. */
const PASSWORD = "s3cret-Pa55word";

/** The narrow read of a running feature/auth, with the pgpass file `init env` writes. */
function runningFeature(ctx: Context) {
  writePrivateFile(ctx.layout.passFile, `*:*:*:postgres:${PASSWORD}\n`);
  return branchScope("feature/auth", FEATURE, { entries: pool("running"), ps: [FEATURE_PS] });
}

for (const [format, ext] of FORMATS) {
  Deno.test(`branch url: ${format} output names the passfile, never the password`, async () => {
    const run = await runCli(["branch", "url", "feature/auth", "-f", format], {
      calls: runningFeature,
    });
    assert.ok(!run.stdout.includes(PASSWORD));
    assertGolden(`branch_url.${ext}`, run);
  });

  Deno.test(`branch url --show-password: ${format} output holds the password`, async () => {
    const run = await runCli(["branch", "url", "feature/auth", "--show-password", "-f", format], {
      calls: runningFeature,
    });
    assert.ok(run.stdout.includes(PASSWORD));
    assertGolden(`branch_url_password.${ext}`, run);
  });

  Deno.test(`branch env: ${format} output`, async () => {
    const run = await runCli(["branch", "env", "feature/auth", "-f", format], {
      calls: runningFeature,
    });
    assert.ok(!run.stdout.includes(PASSWORD));
    assertGolden(`branch_env.${ext}`, run);
  });

  Deno.test(`branch create --if-not-exists: ${format} output of a running branch`, async () => {
    const run = await runCli(
      ["branch", "create", "feature/auth", "--if-not-exists", "-f", format],
      {
        calls: () =>
          branchScope("feature/auth", FEATURE, { entries: pool("running"), ps: [FEATURE_PS] }),
      },
    );
    if (format === "json") {
      // `created` stays the creation time the Branch schema promises
      const json = JSON.parse(run.stdout);
      assert.deepEqual([json.created, json.createdNow], ["2026-11-24T11:00:00.000Z", false]);
    }
    assertGolden(`branch_create_exists.${ext}`, run);
  });

  Deno.test(`log: ${format} output`, async () => {
    const run = await runCli(["log", "-f", format], {
      calls: () => zfsOnly(HISTORY, { tracking: true }),
    });
    assertGolden(`log.${ext}`, run);
  });

  Deno.test(`log <branch>: ${format} output`, async () => {
    const run = await runCli(["log", "feature/auth", "-f", format], {
      calls: () => zfsOnly(HISTORY, { tracking: true }),
    });
    assertGolden(`log_branch.${ext}`, run);
  });
}

for (const [format, ext] of [["table", "txt"], ["json", "json"]] as const) {
  Deno.test(`log: ${format} output with snapshots pulled from a remote`, async () => {
    const entries = [mainDataset(), BASELINE, CLONES, featureFromPulled(), ...pulled()];
    const run = await runCli(["log", "-f", format], {
      calls: () => zfsOnly(entries, { tracking: true }),
    });
    assertGolden(`log_pulled.${ext}`, run);
  });
}

Deno.test("log <remote>/<branch>: that remote-tracking branch's snapshots", async () => {
  const entries = [mainDataset(), BASELINE, CLONES, featureFromPulled(), ...pulled()];
  const run = await runCli(["log", "usb/main", "-f", "json"], {
    calls: () => zfsOnly(entries, { tracking: true }),
  });
  assert.equal(run.code, 0, run.stderr);
  const nodes = JSON.parse(run.stdout).nodes;
  assert.deepEqual(
    nodes.map((n: { name: string; remote: string | null }) => [n.name, n.remote]),
    [["usb/v2", "usb"], ["usb/baseline", "usb"]],
  );
});

Deno.test("branch env --github: plain NAME=value lines", async () => {
  const run = await runCli(["branch", "env", "feature/auth", "--github"], {
    calls: runningFeature,
  });
  assertGolden("branch_env_github.txt", run);
});

Deno.test("branch url: a stopped branch is exit 1 and names 'zvpg branch start'", async () => {
  const run = await runCli(["branch", "url", "feature/auth"], { calls: () => branchScope() });
  assertGolden("error_branch_url_stopped.txt", run);
});

Deno.test("branch psql: a stopped branch is exit 1 and names 'zvpg branch start'", async () => {
  const run = await runCli(["branch", "psql", "feature/auth", "--", "-c", "select 1"], {
    calls: () => branchScope(),
  });
  assertGolden("error_branch_psql_stopped.txt", run);
});

Deno.test("log: an unknown branch is exit 1", async () => {
  const run = await runCli(["log", "nope"], {
    calls: () => zfsOnly(HISTORY, { tracking: true }),
  });
  assertGolden("error_log_not_found.txt", run);
});

/** main with baseline and a later v1; feature/auth from baseline with its own snapshot. */
const HISTORY: FixtureEntry[] = [
  mainDataset(),
  BASELINE,
  {
    name: "tpool/data@v1",
    props: {
      type: "snapshot",
      used: "4096",
      referenced: "41930752",
      creation: "1795000300",
      createtxg: "30",
      "zvpg:message": "After the migration",
      "zvpg:taken": "2026-11-24T12:00:00.000Z",
    },
  },
  ...pool().slice(2),
  {
    name: "tpool/clones/feature_sauth@wip",
    props: {
      type: "snapshot",
      used: "4096",
      referenced: "41897984",
      creation: "1795000400",
      createtxg: "120",
      "zvpg:message": "Work in progress",
      "zvpg:taken": "2026-11-24T11:30:00.000Z",
    },
  },
];

Deno.test("branch psql: runs the host psql with the arguments after --; exits with its code", async () => {
  const bin = await Deno.makeTempDir({ prefix: "zvpg-cli-psql-" });
  const path = Deno.env.get("PATH") ?? "";
  try {
    Deno.writeTextFileSync(`${bin}/psql`, "", { mode: 0o755 });
    Deno.env.set("PATH", bin);
    const run = await runCli(["branch", "psql", "feature/auth", "--", "-c", "select 1"], {
      calls: (ctx) => [...runningFeature(ctx), {
        argv: ["psql", "-c", "select 1"],
        result: { code: 3 },
      }],
    });
    assertGolden("branch_psql.txt", run);
  } finally {
    Deno.env.set("PATH", path);
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("branch env: an invalid name is exit 2 before any call", async () => {
  const run = await runCli(["branch", "env", "bad name"]);
  assertGolden("error_branch_env_bad_name.txt", run);
});

Deno.test("branch create --if-not-exists: an invalid name is exit 2 before any call", async () => {
  const run = await runCli(["branch", "create", "-x", "--if-not-exists"]);
  assert.equal(run.code, 2);
});

Deno.test("completions bash: the script, with no call and no configuration read", async () => {
  const run = await runCli(["completions", "bash"]);
  assertGolden("completions_bash.txt", run);
});

Deno.test("completions: an unknown shell is a usage error", async () => {
  const run = await runCli(["completions", "tcsh"]);
  assertGolden("usage_completions_shell.txt", run);
});

Deno.test("__complete: branch names from one zfs call, filtered by the word typed", async () => {
  const run = await runCli(["__complete", "--", "branch", "info", "fe"], {
    calls: () => zfsOnly(HISTORY),
  });
  assertGolden("complete_branch_names.txt", run);
});

Deno.test("__complete: snapshot names after --from", async () => {
  const run = await runCli(["__complete", "--", "branch", "create", "x", "--from", ""], {
    calls: () => zfsOnly([...HISTORY, ...pulled()], { tracking: true }),
  });
  assert.equal(run.stdout, "baseline\nv1\nwip\nusb/baseline\nusb/v2\n");
});

Deno.test("__complete: remote names from the remotes file, no pool read", async () => {
  const run = await runCli(["__complete", "--", "fetch", "o"], {
    setUp: (ctx) =>
      writeFileSync(
        ctx.layout.remotesFile,
        JSON.stringify({
          remotes: [{ name: "origin", url: "ssh://db2" }, { name: "usb", url: "file:///m" }],
        }),
      ),
  });
  assert.equal(run.stdout, "origin\n");
});

Deno.test("__complete: a failing zfs prints nothing and exits 0", async () => {
  const run = await runCli(["__complete", "--", "log", ""], {
    calls: () => [{ ...zfsOnly(HISTORY)[0], result: { code: 1, stderr: "boom" } }],
  });
  assert.deepEqual([run.code, run.stdout], [0, ""]);
});
