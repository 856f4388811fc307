/**
 * `zvpg remote add|list|remove` run in process: text and JSON output, the remotes file
 * they leave, and the usage errors (exit 2, one line naming the URL and the fix) raised
 * before anything runs. Only `remote remove` runs programs: it reads the pool and destroys
 * what was pulled from the remote (the strict fake runner expects each call).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import type { Context } from "../../src/context.ts";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import { type FixtureEntry, zfsTreeCall } from "../unit/helpers.ts";
import {
  BASELINE,
  CLONES,
  featureFromPulled,
  mainDataset,
  pool,
  pulled,
  TRACKING,
  zfsOnly,
  ZPOOL_LIST,
} from "./fixtures.ts";
import { assertGolden, runCli } from "./harness.ts";

const FORMATS = [["table", "txt"], ["json", "json"]] as const;

const TWO_REMOTES = JSON.stringify({
  remotes: [
    { name: "origin", url: "ssh://backup@db2.example.com:2222/tank/zvpg" },
    { name: "usb", url: "file:///media/usb/zvpg" },
  ],
});

/**
 * The reads of a `remote remove usb` whose pool is `entries`: its remote-tracking tree,
 * then under the lock the inventory with the remote-tracking snapshots, the tree again,
 * and the holds of its snapshots (`usb/v2` held as the remote's base).
 */
function pruneCalls(entries: FixtureEntry[]): ExpectedCall[] {
  const snapshots = [`${TRACKING}@baseline`, `${TRACKING}@v2`];
  return [
    zfsTreeCall(entries, ["tpool/remotes/usb"], ["type"]),
    ...zfsOnly(entries, { tracking: true }),
    zfsTreeCall(entries, ["tpool/remotes/usb"], ["type"]),
    {
      argv: [
        ...["zfs", "get", "-H", "-p", "-o", "name,property,value,source"],
        ...["type,userrefs", ...snapshots],
      ],
      result: {
        stdout: snapshots.map((s, i) => `${s}\ttype\tsnapshot\t-\n${s}\tuserrefs\t${i}\t-\n`)
          .join(""),
      },
    },
    { argv: ["zfs", "release", "zvpg-remote-usb", `${TRACKING}@v2`] },
  ];
}

/** The destroy of remote `usb`'s remote-tracking datasets. */
const DESTROY_USB: ExpectedCall = { argv: ["zfs", "destroy", "-r", "tpool/remotes/usb"] };

/** Writes the remotes file with `origin` (ssh) and `usb` (file). */
const twoRemotes = (ctx: Context) => writeFileSync(ctx.layout.remotesFile, TWO_REMOTES);

/** The remotes file a run left, parsed. */
function remotesAfter(seen: { remotes?: unknown }) {
  return (ctx: Context) => {
    const file = ctx.layout.remotesFile;
    assert.equal((statSync(file).mode & 0o777).toString(8), "600");
    seen.remotes = JSON.parse(readFileSync(file, "utf8")).remotes;
  };
}

for (const [format, ext] of FORMATS) {
  Deno.test(`remote add: ${format} output, the remote stored 0600`, async () => {
    const seen: { remotes?: unknown } = {};
    const url = "ssh://backup@db2.example.com:2222/tank/zvpg";
    const run = await runCli(["remote", "add", "origin", url, "-f", format], {
      after: remotesAfter(seen),
    });
    assertGolden(`remote_add.${ext}`, run);
    assert.deepEqual(seen.remotes, [{ name: "origin", url }]);
  });

  Deno.test(`remote list: ${format} output, in the order added`, async () => {
    const run = await runCli(["remote", "list", "-f", format], { setUp: twoRemotes });
    assertGolden(`remote_list.${ext}`, run);
  });

  Deno.test(`remote remove: ${format} output, its pulled snapshots gone, the others kept`, async () => {
    const seen: { remotes?: unknown } = {};
    const run = await runCli(["remote", "remove", "usb", "-f", format], {
      setUp: twoRemotes,
      after: remotesAfter(seen),
      calls: () => [...pruneCalls([...pool(), ...pulled()]), DESTROY_USB],
    });
    assertGolden(`remote_remove.${ext}`, run);
    assert.deepEqual(seen.remotes, [
      { name: "origin", url: "ssh://backup@db2.example.com:2222/tank/zvpg" },
    ]);
  });
}

Deno.test("remote list: no remotes is an empty table and a note on stderr", async () => {
  const run = await runCli(["remote", "ls"]);
  assert.equal(run.code, 0);
  assert.equal(run.stdout, "");
  assert.equal(run.stderr, "no remotes\n");
  const json = await runCli(["remote", "list", "-f", "json"]);
  assert.equal(json.stdout, "[]\n");
});

Deno.test("remote add: a file:// remote", async () => {
  const run = await runCli(["remote", "add", "usb", "file:///media/my%20usb/zvpg", "-f", "json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), {
    name: "usb",
    url: "file:///media/my%20usb/zvpg",
    kind: "file",
    user: null,
    host: null,
    port: null,
    path: "/media/my usb/zvpg",
    maskedOnly: false,
  });
});

Deno.test("remote add --masked-only: recorded in the remotes file and shown", async () => {
  let file = "";
  const run = await runCli(["remote", "add", "safe", "file:///srv/safe", "--masked-only"], {
    after: (ctx) => file = readFileSync(ctx.layout.remotesFile, "utf8"),
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "Added remote 'safe': file:///srv/safe (masked snapshots only)\n");
  assert.deepEqual(JSON.parse(file).remotes, [
    { name: "safe", url: "file:///srv/safe", maskedOnly: true },
  ]);
});

Deno.test("remote add: a taken name is exit 1 and the file is unchanged", async () => {
  let after = "";
  const run = await runCli(["remote", "add", "origin", "ssh://other"], {
    setUp: twoRemotes,
    after: (ctx) => after = readFileSync(ctx.layout.remotesFile, "utf8"),
  });
  assertGolden("error_remote_add_exists.txt", run);
  assert.equal(after, TWO_REMOTES);
});

Deno.test("remote remove: with nothing pulled from it, only the name goes", async () => {
  const seen: { remotes?: unknown } = {};
  const run = await runCli(["remote", "remove", "origin", "-f", "json"], {
    setUp: twoRemotes,
    after: remotesAfter(seen),
    calls: () => [zfsTreeCall(pool(), ["tpool/remotes/origin"], ["type"]), ZPOOL_LIST],
  });
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(run.stdout);
  assert.deepEqual([json.name, json.removedSnapshots, json.removedDatasets], ["origin", [], []]);
  assert.deepEqual(seen.remotes, [{ name: "usb", url: "file:///media/usb/zvpg" }]);
});

Deno.test("remote remove: refused, naming them, while branches are made from its snapshots", async () => {
  const entries = [mainDataset(), BASELINE, CLONES, featureFromPulled(), ...pulled()];
  let kept = "";
  const run = await runCli(["remote", "remove", "usb", "-f", "json"], {
    setUp: twoRemotes,
    calls: () => pruneCalls(entries).slice(0, 2),
    after: (ctx) => kept = readFileSync(ctx.layout.remotesFile, "utf8"),
  });
  assertGolden("error_remote_remove_dependents.txt", run);
  assert.equal(kept, TWO_REMOTES);
});

Deno.test("remote remove: a pool only exported is refused, the name kept", async () => {
  let kept = "";
  const run = await runCli(["remote", "remove", "usb"], {
    setUp: (ctx) => {
      twoRemotes(ctx);
      mkdirSync(ctx.config.mountDir, { recursive: true });
      writeFileSync(ctx.layout.poolImage, "");
    },
    after: (ctx) => kept = readFileSync(ctx.layout.remotesFile, "utf8"),
    calls: () => [
      zfsTreeCall([], ["tpool/remotes/usb"], ["type"]),
      {
        argv: [...ZPOOL_LIST.argv],
        result: { code: 1, stderr: "cannot open 'tpool': no such pool" },
      },
    ],
  });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^error: remote remove: pool 'tpool' is not imported — run 'zvpg init env'/,
  );
  assert.equal(kept, TWO_REMOTES);
});

Deno.test("remote remove: an unknown remote is exit 1", async () => {
  const run = await runCli(["remote", "rm", "nope"], { setUp: twoRemotes });
  assertGolden("error_remote_not_found.txt", run);
});

Deno.test("remote list: a broken remotes file is exit 1 naming the file", async () => {
  const run = await runCli(["remote", "list"], {
    setUp: (ctx) => writeFileSync(ctx.layout.remotesFile, "{"),
  });
  assertGolden("error_remote_file_broken.txt", run);
});

for (
  const [name, args] of [
    ["remote_scp_form", ["remote", "add", "origin", "backup@db2:/tank/zvpg"]],
    ["remote_bare_path", ["remote", "add", "usb", "/media/usb/zvpg"]],
    ["remote_file_host", ["remote", "add", "usb", "file://media/usb"]],
    ["remote_password", ["remote", "add", "origin", "ssh://backup:s3cret@db2/tank"]],
    ["remote_scheme", ["remote", "add", "origin", "https://db2.example.com/zvpg"]],
    ["remote_option_host", ["remote", "add", "x", "ssh://-oProxyCommand=sh"]],
    ["remote_bad_port", ["remote", "add", "origin", "ssh://db2:99999"]],
    ["remote_bad_name", ["remote", "add", "team/a", "ssh://db2"]],
    ["remote_remove_bad_name", ["remote", "remove", "a..b"]],
  ] as const
) {
  Deno.test(`usage error (${name}): exit 2, one line, nothing written`, async () => {
    let written = true;
    const run = await runCli([...args], {
      after: (ctx) => written = existsSync(ctx.layout.remotesFile),
    });
    assert.equal(run.stdout, "");
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /s3cret/);
    assert.equal(written, false);
    assertGolden(`usage_${name}.txt`, run);
  });
}
