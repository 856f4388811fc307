/**
 * `zvpg push <remote> <snapshot>` run in process on the strict fake runner: the stream
 * sent whole or as an increment from the newest snapshot the file remote holds (by GUID),
 * nothing when it holds it already, and the refusals.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { refsIndexText, type RemoteRef } from "../../src/domain/remote_refs.ts";
import { Zfs } from "../../src/adapters/zfs.ts";
import type { FixtureEntry } from "../unit/helpers.ts";
import { assertGolden, runCli } from "./harness.ts";
import { baseHoldCalls, BASELINE, pool, SSH_ORIGIN, zfsOnly } from "./fixtures.ts";

const FORMATS = [["table", "txt"], ["json", "json"]] as const;

/** `tpool/data@v2`: main's snapshot after baseline. */
const V2: FixtureEntry = {
  name: "tpool/data@v2",
  props: {
    ...BASELINE.props,
    creation: "1795000200",
    createtxg: "40",
    "zvpg:message": "Second",
    "zvpg:taken": "2026-11-24T11:00:00.000Z",
  },
};

const BASELINE_REF: RemoteRef = {
  name: "baseline",
  guid: "111",
  message: "Initial state",
  time: "2026-11-24T10:00:00.000Z",
  branch: "main",
  base: null,
  stream: "111.zstream",
};

/** The remote directory of a run. */
const remoteDir = (ctx: Context) => join(ctx.config.configDir, "remote");

/** Adds the remotes `usb` (file, holding `refs`) and `origin` (ssh). */
function remotes(refs: RemoteRef[] = []) {
  return (ctx: Context) => {
    writeFileSync(
      ctx.layout.remotesFile,
      JSON.stringify({
        remotes: [
          { name: "usb", url: `file://${remoteDir(ctx)}` },
          { name: "origin", url: "ssh://db2/tank" },
        ],
      }),
    );
    if (refs.length === 0) return;
    mkdirSync(remoteDir(ctx));
    writeFileSync(join(remoteDir(ctx), "refs.json"), refsIndexText(refs));
    for (const r of refs) writeFileSync(join(remoteDir(ctx), r.stream), "old stream");
  };
}

/** `zfs get guid,origin` of main's dataset and `names`, answering `guids`. */
function guidCall(names: string[], guids: string[]): ExpectedCall {
  return {
    argv: [
      ...["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "type,guid,origin"],
      ...["tpool/data", ...names],
    ],
    result: {
      stdout: "tpool/data\ttype\tfilesystem\t-\ntpool/data\torigin\t-\t-\n" +
        names.map((n, i) => `${n}\ttype\tsnapshot\t-\n${n}\tguid\t${guids[i]}\t-\n`).join(""),
    },
  };
}

/** The refs and files a run left in the remote directory. */
function remoteAfter(seen: { refs?: RemoteRef[]; files?: string[]; streams?: string[] }) {
  return (ctx: Context) => {
    const dir = remoteDir(ctx);
    seen.refs = JSON.parse(readFileSync(join(dir, "refs.json"), "utf8")).refs;
    seen.files = readdirSync(dir).sort();
    seen.streams = seen.refs!.map((r) => readFileSync(join(dir, r.stream), "utf8"));
  };
}

for (const [format, ext] of FORMATS) {
  Deno.test(`push: ${format} output of a whole stream`, async () => {
    const seen: { refs?: RemoteRef[]; files?: string[]; streams?: string[] } = {};
    const run = await runCli(["push", "usb", "baseline", "-f", format], {
      setUp: remotes(),
      calls: () => [
        ...zfsOnly(),
        guidCall(["tpool/data@baseline"], ["111"]),
        { argv: ["zfs", "send", "tpool/data@baseline"], result: { stdout: "whole stream" } },
        ...baseHoldCalls("tpool/data@baseline", { "tpool/data@baseline": undefined }),
      ],
      after: remoteAfter(seen),
    });
    assertGolden(`push.${ext}`, run);
    assert.deepEqual(seen.refs, [BASELINE_REF]);
    assert.deepEqual(seen.files, [".lock", "111.zstream", "refs.json"]);
    assert.deepEqual(seen.streams, ["whole stream"]);
  });

  Deno.test(`push: ${format} output of an increment from the snapshot the remote holds`, async () => {
    const seen: { refs?: RemoteRef[]; files?: string[]; streams?: string[] } = {};
    const run = await runCli(["push", "usb", "v2", "-f", format], {
      setUp: remotes([BASELINE_REF]),
      calls: () => [
        ...zfsOnly([...pool(), V2]),
        guidCall(["tpool/data@baseline", "tpool/data@v2"], ["111", "222"]),
        {
          argv: ["zfs", "send", "-i", "tpool/data@baseline", "tpool/data@v2"],
          result: { stdout: "increment" },
        },
        // the base moves: held on v2, released from baseline
        ...baseHoldCalls("tpool/data@v2", {
          "tpool/data@baseline": "usb",
          "tpool/data@v2": undefined,
        }),
      ],
      after: remoteAfter(seen),
    });
    assertGolden(`push_increment.${ext}`, run);
    assert.deepEqual(seen.refs?.map((r) => [r.name, r.guid, r.base, r.message]), [
      ["baseline", "111", null, "Initial state"],
      ["v2", "222", "111", "Second"],
    ]);
    assert.deepEqual(seen.streams, ["old stream", "increment"]);
  });
}

Deno.test("push: a snapshot the remote holds (same GUID) sends nothing", async () => {
  const run = await runCli(["push", "usb", "baseline", "-f", "json"], {
    setUp: remotes([{ ...BASELINE_REF, name: "renamed" }]),
    calls: () => [
      ...zfsOnly(),
      guidCall(["tpool/data@baseline"], ["111"]),
      // the remote holds it already: it becomes the base (none later is)
      ...baseHoldCalls("tpool/data@baseline", { "tpool/data@baseline": "usb" }),
    ],
  });
  assertGolden("push_present.json", run);
});

Deno.test("push: a failed send leaves no stream and no ref", async () => {
  const seen: { files?: string[] } = {};
  const run = await runCli(["push", "usb", "baseline"], {
    setUp: remotes(),
    calls: () => [
      ...zfsOnly(),
      guidCall(["tpool/data@baseline"], ["111"]),
      {
        argv: ["zfs", "send", "tpool/data@baseline"],
        result: { code: 1, stdout: "partial", stderr: "cannot send: I/O error" },
      },
    ],
    after: (ctx) => seen.files = readdirSync(remoteDir(ctx)),
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: 'zfs send tpool\/data@baseline' failed \(exit 1\)/);
  assert.deepEqual(seen.files, [".lock"]);
});

Deno.test("push: another snapshot of the same name on the remote is refused", async () => {
  const run = await runCli(["push", "usb", "baseline"], {
    setUp: remotes([{ ...BASELINE_REF, guid: "999", stream: "999.zstream" }]),
    calls: () => [...zfsOnly(), guidCall(["tpool/data@baseline"], ["111"])],
  });
  assertGolden("error_push_conflict.txt", run);
});

Deno.test("push --force: the remote's snapshot of that name is kept aside, then pushed", async () => {
  const seen: { refs?: RemoteRef[]; files?: string[]; streams?: string[] } = {};
  const run = await runCli(["push", "usb", "baseline", "--force", "-f", "json"], {
    setUp: remotes([{ ...BASELINE_REF, guid: "999", stream: "999.zstream" }]),
    calls: () => [
      ...zfsOnly(),
      guidCall(["tpool/data@baseline"], ["111"]),
      { argv: ["zfs", "send", "tpool/data@baseline"], result: { stdout: "whole-stream" } },
      ...baseHoldCalls("tpool/data@baseline", { "tpool/data@baseline": undefined }),
    ],
    after: (ctx) => {
      const dir = remoteDir(ctx);
      seen.refs = JSON.parse(readFileSync(join(dir, "refs.json"), "utf8")).refs;
    },
  });
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.equal(out.keptAs, "baseline.pre-20261124T113323Z");
  assert.deepEqual(seen.refs?.map((r) => [r.name, r.guid]), [
    ["baseline.pre-20261124T113323Z", "999"],
    ["baseline", "111"],
  ]);
});

/** The `tracked` call to origin: it holds `snapshots` of the branch (name, GUID). */
function trackedAnswer(snapshots: [string, string][]): ExpectedCall {
  return {
    argv: SSH_ORIGIN,
    check: (o) => assert.match(String(o.stdin), /"op":"tracked".*"branch":"main"/),
    result: {
      stdout: JSON.stringify({
        ok: true,
        zvpg: 1,
        source: "laptop",
        snapshots: snapshots.map(([name, guid]) => ({ name, guid })),
        resumeToken: null,
        held: [],
      }) + "\n",
    },
  };
}

for (const [format, ext] of FORMATS) {
  Deno.test(`push: ${format} output of an increment over ssh`, async () => {
    const run = await runCli(["push", "origin", "v2", "-f", format], {
      setUp: remotes(),
      calls: () => [
        ...zfsOnly([...pool(), V2]),
        guidCall(["tpool/data@baseline", "tpool/data@v2"], ["111", "222"]),
        trackedAnswer([["baseline", "111"]]),
        {
          argv: ["zfs", "send", "-i", "tpool/data@baseline", "tpool/data@v2"],
          result: { stdout: "stream-bytes" },
        },
        {
          argv: SSH_ORIGIN,
          check: (o) => assert.ok(o.stdinStream, "the stream goes to ssh's stdin"),
          result: {
            stdout: JSON.stringify({
              ok: true,
              zvpg: 1,
              source: "laptop",
              snapshot: "laptop/v2",
              keptAs: null,
            }),
          },
        },
        ...baseHoldCalls(
          "tpool/data@v2",
          { "tpool/data@baseline": undefined, "tpool/data@v2": undefined },
          "origin",
        ),
      ],
    });
    assertGolden(`push_ssh.${ext}`, run);
  });
}

Deno.test("push: a refusal of the ssh remote is exit 1 with its words and hint", async () => {
  const run = await runCli(["push", "origin", "baseline"], {
    setUp: remotes(),
    calls: () => [
      ...zfsOnly(),
      guidCall(["tpool/data@baseline"], ["111"]),
      trackedAnswer([]),
      { argv: ["zfs", "send", "tpool/data@baseline"], result: { stdout: "stream-bytes" } },
      {
        argv: SSH_ORIGIN,
        result: {
          code: 1,
          stdout: JSON.stringify({
            ok: false,
            zvpg: 1,
            error: "cannot receive snapshot 'baseline' of 'laptop': out of space",
            hint: "free some space",
          }),
        },
      },
    ],
  });
  assertGolden("error_push_ssh.txt", run);
});

Deno.test("push: an unknown remote is exit 1, an unknown snapshot too", async () => {
  const unknownRemote = await runCli(["push", "nope", "baseline"], { setUp: remotes() });
  assertGolden("error_push_remote_not_found.txt", unknownRemote);
  let made = true;
  const unknownSnapshot = await runCli(["push", "usb", "nope"], {
    setUp: remotes(),
    calls: () => zfsOnly(),
    after: (ctx) => made = existsSync(remoteDir(ctx)),
  });
  assertGolden("error_push_snapshot_not_found.txt", unknownSnapshot);
  assert.equal(made, false, "no remote directory made");
});

Deno.test("push: a remote index it cannot trust is exit 1 naming it, nothing sent", async () => {
  const run = await runCli(["push", "usb", "baseline"], {
    setUp: (ctx) => {
      remotes([BASELINE_REF])(ctx);
      const bad = { ...BASELINE_REF, stream: "../../etc/passwd" };
      writeFileSync(join(remoteDir(ctx), "refs.json"), JSON.stringify({ version: 1, refs: [bad] }));
    },
    calls: () => [...zfsOnly(), guidCall(["tpool/data@baseline"], ["111"])],
  });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^error: remote index \$TMP\/remote\/refs\.json: ref #1: 'baseline' names stream '\.\.\/\.\.\/etc\/passwd'/,
  );
});

/** `calls` as this host's OpenZFS gets them: the inventory reads `written` too. */
function onOpenZfs(calls: ExpectedCall[]): ExpectedCall[] {
  const more = (a: string) => a.startsWith("type,used,") ? `${a},written` : a;
  return calls.map((c) => ({ ...c, argv: c.argv.map(more) }));
}

/** The `tracked` answer of an OpenZFS origin holding baseline and a partial receive. */
function trackedWithToken(token: string): ExpectedCall {
  const answer = trackedAnswer([["baseline", "111"]]);
  const stdout = answer.result!.stdout!.replace('"resumeToken":null', `"resumeToken":"${token}"`);
  return { ...answer, result: { stdout } };
}

/** `zfs send -nvP -t token` on this host, naming `toname` with GUID 222 (0xde). */
function dryRun(token: string, toname: string): ExpectedCall {
  return {
    argv: ["zfs", "send", "-nvP", "-t", token],
    result: {
      stdout: "resume token contents:\nnvlist version: 0\n\tfromguid = 0x6f\n" +
        `\ttoguid = 0xde\n\ttoname = ${toname}\nincremental\ttpool/data@baseline\t${toname}\t9\n`,
    },
  };
}

/** The receive request with its stream, the server's answer, then the base hold moved. */
function receiveCall(): ExpectedCall[] {
  return [
    {
      argv: SSH_ORIGIN,
      check: (o) => assert.ok(o.stdinStream, "the stream goes to ssh's stdin"),
      result: {
        stdout: JSON.stringify({
          ok: true,
          zvpg: 1,
          source: "laptop",
          snapshot: "laptop/v2",
          keptAs: null,
        }),
      },
    },
    ...baseHoldCalls(
      "tpool/data@v2",
      { "tpool/data@baseline": undefined, "tpool/data@v2": undefined },
      "origin",
    ),
  ];
}

Deno.test("push: OpenZFS resumes a partial receive whose token this host reads as the snapshot", async () => {
  const run = await runCli(["push", "origin", "v2", "-f", "json"], {
    setUp: (ctx) => {
      remotes()(ctx);
      ctx.zfs = new Zfs(ctx.runner, "openzfs");
    },
    calls: () => [
      ...onOpenZfs(zfsOnly([...pool(), V2])),
      guidCall(["tpool/data@baseline", "tpool/data@v2"], ["111", "222"]),
      trackedWithToken("1-ok"),
      dryRun("1-ok", "tpool/data@v2"),
      { argv: ["zfs", "send", "-t", "1-ok"], result: { stdout: "rest" } },
      ...receiveCall(),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(run.stdout);
  assert.deepEqual([json.resumed, json.base, json.bytes], [true, "baseline", 4]);
});

Deno.test("push: a token naming another snapshot is never sent: the push goes as an increment", async () => {
  const run = await runCli(["push", "origin", "v2", "-f", "json"], {
    setUp: (ctx) => {
      remotes()(ctx);
      ctx.zfs = new Zfs(ctx.runner, "openzfs");
    },
    calls: () => [
      ...onOpenZfs(zfsOnly([...pool(), V2])),
      guidCall(["tpool/data@baseline", "tpool/data@v2"], ["111", "222"]),
      trackedWithToken("1-other"),
      dryRun("1-other", "tpool/data@v1"),
      {
        argv: ["zfs", "send", "-i", "tpool/data@baseline", "tpool/data@v2"],
        result: { stdout: "increment" },
      },
      ...receiveCall(),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(run.stdout);
  assert.deepEqual([json.resumed, json.base], [false, "baseline"]);
});

/** The remote `safe` (a file remote marked `--masked-only`). */
function maskedOnlyRemote(ctx: Context) {
  writeFileSync(
    ctx.layout.remotesFile,
    JSON.stringify({
      remotes: [{ name: "safe", url: `file://${remoteDir(ctx)}`, maskedOnly: true }],
    }),
  );
}

const MASKED = `sha256:${"ab".repeat(32)}`;

Deno.test("push: a snapshot that is not masked is refused by a --masked-only remote", async () => {
  const run = await runCli(["push", "safe", "baseline"], {
    setUp: maskedOnlyRemote,
    calls: () => zfsOnly(),
    after: (ctx) => assert.equal(existsSync(remoteDir(ctx)), false, "nothing was written"),
  });
  assertGolden("error_push_not_masked.txt", run);
});

Deno.test("push: a masked snapshot goes to a --masked-only remote", async () => {
  const masked = { ...BASELINE, props: { ...BASELINE.props, "zvpg:masked": MASKED } };
  const [main, , clones, feature] = pool();
  const seen: { refs?: RemoteRef[]; files?: string[]; streams?: string[] } = {};
  const run = await runCli(["push", "safe", "baseline", "-f", "json"], {
    setUp: maskedOnlyRemote,
    calls: () => [
      ...zfsOnly([main, masked, clones, feature]),
      guidCall(["tpool/data@baseline"], ["111"]),
      { argv: ["zfs", "send", "tpool/data@baseline"], result: { stdout: "whole stream" } },
      ...baseHoldCalls("tpool/data@baseline", { "tpool/data@baseline": undefined }, "safe"),
    ],
    after: remoteAfter(seen),
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(seen.streams, ["whole stream"]);
});
