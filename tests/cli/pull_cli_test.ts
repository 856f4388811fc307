/**
 * `zvpg pull <remote> <snapshot>` run in process on the strict fake runner: the streams
 * this host lacks (by GUID) received oldest first into `<pool>/remotes/<remote>/<branch>`,
 * described and read-only; nothing when it is here; what a killed pull left completed;
 * and the refusals.
 */
import { fakeSendStream } from "../support/send_stream.ts";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Zfs } from "../../src/adapters/zfs.ts";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { refsIndexText, type RemoteRef } from "../../src/domain/remote_refs.ts";
import { assertGolden, runCli } from "./harness.ts";
import { baseHoldCalls, SSH_ORIGIN } from "./fixtures.ts";

const FORMATS = [["table", "txt"], ["json", "json"]] as const;

const S1: RemoteRef = {
  name: "baseline",
  guid: "111",
  message: "Initial state",
  time: "2026-11-24T10:00:00.000Z",
  branch: "main",
  base: null,
  stream: "111.zstream",
};
const S2: RemoteRef = {
  name: "v2",
  guid: "222",
  message: "Second",
  time: "2026-11-24T11:00:00.000Z",
  branch: "main",
  base: "111",
  stream: "222.zstream",
};

const TRACKING = "tpool/remotes/usb/main";

/** The remote directory of a run. */
const remoteDir = (ctx: Context) => join(ctx.config.configDir, "remote");

/** Adds the remotes `usb` (file, holding `refs`) and `origin` (ssh). */
function remotes(refs: RemoteRef[] = [S1, S2]) {
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
    mkdirSync(remoteDir(ctx));
    writeFileSync(join(remoteDir(ctx), "refs.json"), refsIndexText(refs));
    for (const r of refs) {
      writeFileSync(join(remoteDir(ctx), r.stream), fakeSendStream(r.guid, r.base));
    }
  };
}

/** `zfs list` of `name`, answering whether it exists. */
function existsCall(name: string, exists = true): ExpectedCall {
  return {
    argv: ["zfs", "list", "-H", "-o", "name", name],
    result: exists ? { stdout: `${name}\n` } : { code: 1, stderr: `cannot open '${name}'` },
  };
}

/** A snapshot of the remote-tracking dataset: its name, GUID, txg, and whether described. */
type Tracked = [name: string, guid: string, txg: number, described: boolean];

/** `zfs get -d 1` of the remote-tracking dataset, answering `snapshots` (none: missing). */
function trackedCall(snapshots: Tracked[] | undefined, readonly = "on"): ExpectedCall {
  const props = "type,guid,createtxg,readonly,zvpg:taken";
  const argv = ["zfs", "get", "-H", "-p", "-d", "1", "-o", "name,property,value,source", props];
  if (snapshots === undefined) {
    return {
      argv: [...argv, TRACKING],
      result: { code: 1, stderr: `cannot open '${TRACKING}': dataset does not exist` },
    };
  }
  const lines = [
    `${TRACKING}\ttype\tfilesystem\t-`,
    `${TRACKING}\tguid\t900\t-`,
    `${TRACKING}\tcreatetxg\t10\t-`,
    `${TRACKING}\treadonly\t${readonly}\t${readonly === "on" ? "local" : "default"}`,
    `${TRACKING}\tzvpg:taken\t-\t-`,
  ];
  for (const [name, guid, txg, described] of snapshots) {
    const full = `${TRACKING}@${name}`;
    lines.push(
      `${full}\ttype\tsnapshot\t-`,
      `${full}\tguid\t${guid}\t-`,
      `${full}\tcreatetxg\t${txg}\t-`,
      `${full}\treadonly\t-\t-`,
      `${full}\tzvpg:taken\t${described ? "2026-11-24T10:00:00.000Z" : "-"}\t${
        described ? "local" : "-"
      }`,
    );
  }
  return { argv: [...argv, TRACKING], result: { stdout: lines.join("\n") + "\n" } };
}

/** `zfs receive -u` of `ref`'s stream, as snapshot `ref.name`, from the stream zvpg reads. */
function receiveCall(ref: RemoteRef, result = {}): ExpectedCall {
  return {
    argv: ["zfs", "receive", "-u", `${TRACKING}@${ref.name}`],
    check: (options) => assert.ok(options.stdinStream),
    result,
  };
}

/** The `zfs set` calls that describe a received snapshot (zfs-fuse: one each). */
function describeCalls(ref: RemoteRef): ExpectedCall[] {
  const snap = `${TRACKING}@${ref.name}`;
  return [
    ["zvpg:message", ref.message],
    ["zvpg:taken", ref.time],
    ["zvpg:branch", ref.branch],
  ].map(([k, v]) => ({ argv: ["zfs", "set", `${k}=${v}`, snap] }));
}

const READONLY: ExpectedCall = { argv: ["zfs", "set", "readonly=on", TRACKING] };

for (const [format, ext] of FORMATS) {
  Deno.test(`pull: ${format} output of a first pull, whole then the increment`, async () => {
    const run = await runCli(["pull", "usb", "v2", "-f", format], {
      setUp: remotes(),
      calls: () => [
        existsCall("tpool/data"),
        trackedCall(undefined),
        existsCall("tpool/remotes/usb", false),
        existsCall("tpool/remotes", false),
        { argv: ["zfs", "create", "-o", "mountpoint=none", "tpool/remotes"] },
        { argv: ["zfs", "create", "tpool/remotes/usb"] },
        receiveCall(S1),
        READONLY,
        ...describeCalls(S1),
        receiveCall(S2),
        ...describeCalls(S2),
        ...baseHoldCalls("tpool/remotes/usb/main@v2", {
          "tpool/remotes/usb/main@baseline": undefined,
          "tpool/remotes/usb/main@v2": undefined,
        }),
      ],
    });
    assertGolden(`pull.${ext}`, run);
  });
}

Deno.test("pull: only the increment when the base is here (by GUID)", async () => {
  const run = await runCli(["pull", "usb", "v2", "-f", "json"], {
    setUp: remotes(),
    calls: () => [
      existsCall("tpool/data"),
      trackedCall([["baseline", "111", 20, true]]),
      receiveCall(S2),
      ...describeCalls(S2),
      ...baseHoldCalls("tpool/remotes/usb/main@v2", {
        "tpool/remotes/usb/main@baseline": undefined,
        "tpool/remotes/usb/main@v2": undefined,
      }),
    ],
  });
  assertGolden("pull_increment.json", run);
});

Deno.test("pull: a snapshot here already (same GUID) receives nothing", async () => {
  const run = await runCli(["pull", "usb", "v2", "-f", "json"], {
    setUp: remotes(),
    calls: () => [
      existsCall("tpool/data"),
      trackedCall([["baseline", "111", 20, true], ["v2", "222", 30, true]]),
    ],
  });
  assertGolden("pull_present.json", run);
});

Deno.test("pull: what a killed pull left undone is completed first", async () => {
  const run = await runCli(["pull", "usb", "v2"], {
    setUp: remotes(),
    calls: () => [
      existsCall("tpool/data"),
      trackedCall([["baseline", "111", 20, false]], "off"),
      READONLY,
      ...describeCalls(S1),
      receiveCall(S2),
      ...describeCalls(S2),
      ...baseHoldCalls("tpool/remotes/usb/main@v2", {
        "tpool/remotes/usb/main@baseline": undefined,
        "tpool/remotes/usb/main@v2": undefined,
      }),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
});

Deno.test("pull: a dataset left without snapshots is destroyed before a whole receive", async () => {
  const run = await runCli(["pull", "usb", "baseline"], {
    setUp: remotes(),
    calls: () => [
      existsCall("tpool/data"),
      trackedCall([], "off"),
      { argv: ["zfs", "destroy", "-r", TRACKING] },
      receiveCall(S1),
      READONLY,
      ...describeCalls(S1),
      ...baseHoldCalls(`${TRACKING}@baseline`, { [`${TRACKING}@baseline`]: undefined }),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
});

Deno.test("pull: a stream ZFS refuses is exit 1 naming it, with what to do", async () => {
  const run = await runCli(["pull", "usb", "baseline"], {
    setUp: remotes(),
    calls: () => [
      existsCall("tpool/data"),
      trackedCall(undefined),
      existsCall("tpool/remotes/usb"),
      receiveCall(S1, {
        code: 1,
        stderr: "cannot receive new filesystem stream: invalid backup stream",
      }),
    ],
  });
  assertGolden("error_pull_stream.txt", run);
});

Deno.test("pull: another local snapshot of that name is refused, naming it", async () => {
  const run = await runCli(["pull", "usb", "v2"], {
    setUp: remotes(),
    calls: () => [
      existsCall("tpool/data"),
      trackedCall([["baseline", "111", 20, true], ["v2", "999", 30, true]]),
    ],
  });
  assertGolden("error_pull_conflict.txt", run);
});

Deno.test("pull: a local copy that went on off the chain is refused", async () => {
  const run = await runCli(["pull", "usb", "v2"], {
    setUp: remotes(),
    calls: () => [existsCall("tpool/data"), trackedCall([["other", "555", 20, true]])],
  });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^error: tpool\/remotes\/usb\/main went on from a snapshot \(GUID 555\)/,
  );
});

const SERVED = [S1, S2].map((r) => ({
  name: r.name,
  guid: r.guid,
  branch: r.branch,
  created: r.time,
  message: r.message,
  referenced: 100,
  origin: null,
}));

const LIST_CALL: ExpectedCall = {
  argv: SSH_ORIGIN,
  result: { stdout: JSON.stringify({ ok: true, zvpg: 1, refs: SERVED }) + "\n" },
};

const ORIGIN_TRACKING = "tpool/remotes/origin/main";

/** `call` on origin's tracking dataset instead of usb's. */
function onOrigin(call: ExpectedCall): ExpectedCall {
  const swap = (t: string) => t.replaceAll(TRACKING, ORIGIN_TRACKING);
  return {
    ...call,
    argv: call.argv.map(swap),
    ...(call.result ? { result: { ...call.result, stdout: swap(call.result.stdout ?? "") } } : {}),
  };
}

Deno.test("pull: an increment over ssh from the newest snapshot here", async () => {
  const run = await runCli(["pull", "origin", "v2", "-f", "json"], {
    setUp: remotes(),
    calls: () => [
      LIST_CALL,
      existsCall("tpool/data"),
      onOrigin(trackedCall([["baseline", "111", 20, true]])),
      {
        argv: SSH_ORIGIN,
        check: (o) =>
          assert.match(String(o.stdin), /"op":"send","name":"v2","guid":"222","base":"111"/),
        result: {
          stdout: JSON.stringify({
            ok: true,
            zvpg: 1,
            ref: SERVED[1],
            base: "111",
            resumed: false,
            size: null,
          }) +
            "\n",
        },
        stdoutBytes: fakeSendStream("222", "111"),
      },
      {
        argv: ["zfs", "receive", "-u", `${ORIGIN_TRACKING}@v2`],
        check: (o) => assert.ok(o.stdinStream),
      },
      ...describeCalls(S2).map(onOrigin),
      ...baseHoldCalls(
        `${ORIGIN_TRACKING}@v2`,
        { [`${ORIGIN_TRACKING}@baseline`]: undefined, [`${ORIGIN_TRACKING}@v2`]: undefined },
        "origin",
      ),
    ],
  });
  assertGolden("pull_ssh.json", run);
});

Deno.test("pull: a server's stream of more than the snapshot asked for is refused unread", async () => {
  // `zfs send -R`: child datasets and the sender's properties (a mountpoint) with it
  const run = await runCli(["pull", "origin", "v2"], {
    setUp: remotes(),
    calls: () => [
      LIST_CALL,
      existsCall("tpool/data"),
      onOrigin(trackedCall([["baseline", "111", 20, true]])),
      {
        argv: SSH_ORIGIN,
        result: {
          stdout: JSON.stringify({
            ok: true,
            zvpg: 1,
            ref: SERVED[1],
            base: "111",
            resumed: false,
            size: null,
          }) + "\n",
        },
        stdoutBytes: fakeSendStream("222", "111", { compound: true }),
      },
      {
        argv: ["zfs", "receive", "-u", `${ORIGIN_TRACKING}@v2`],
        result: { code: 1, stderr: "cannot receive: failed to read from stream\n" },
      },
    ],
  });
  assertGolden("error_pull_ssh_compound.txt", run);
});

Deno.test("pull: a refusal of the ssh remote is exit 1 with its words and hint", async () => {
  const run = await runCli(["pull", "origin", "v2"], {
    setUp: remotes(),
    calls: () => [
      LIST_CALL,
      existsCall("tpool/data"),
      onOrigin(trackedCall([["other", "555", 20, true]])),
      {
        argv: SSH_ORIGIN,
        result: {
          code: 1,
          stdout: JSON.stringify({
            ok: false,
            zvpg: 1,
            error: "snapshot 'v2' does not go on from the snapshot GUID 555",
            hint:
              "the copy that asked went another way: delete it (zvpg snapshot delete) and pull again",
          }) + "\n",
        },
      },
    ],
  });
  assertGolden("error_pull_ssh.txt", run);
});

Deno.test("pull: a snapshot the remote does not hold is exit 1", async () => {
  const run = await runCli(["pull", "usb", "nope"], {
    setUp: remotes(),
    calls: () => [existsCall("tpool/data")],
  });
  assertGolden("error_pull_snapshot_not_found.txt", run);
});

Deno.test("pull: before init env it is refused", async () => {
  const run = await runCli(["pull", "usb", "baseline"], {
    setUp: remotes(),
    calls: () => [
      existsCall("tpool/data", false),
      {
        argv: ["zpool", "list", "-H", "-p", "-o", "name,health,size,allocated,free", "tpool"],
        result: { stdout: "tpool\tONLINE\t1\t1\t1\n" },
      },
    ],
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /init env/);
});

Deno.test("pull: a token the server refuses is discarded here, and the pull starts over whole", async () => {
  const props = "type,receive_resume_token";
  const tokenGet = ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", props];
  const origin = "tpool/remotes/origin";
  const sends: string[] = [];
  const run = await runCli(["pull", "origin", "v2", "-f", "json"], {
    setUp: (ctx) => {
      remotes()(ctx);
      ctx.zfs = new Zfs(ctx.runner, "openzfs");
    },
    calls: () => [
      LIST_CALL,
      existsCall("tpool/data"),
      // a whole receive of another snapshot was cut: its dataset, no snapshot, a token
      onOrigin(trackedCall([], "off")),
      {
        argv: [...tokenGet, ORIGIN_TRACKING],
        result: { stdout: `${ORIGIN_TRACKING}\treceive_resume_token\t1-other\t-\n` },
      },
      {
        argv: SSH_ORIGIN,
        check: (o) => sends.push(String(o.stdin)),
        result: {
          code: 1,
          stdout: JSON.stringify({
            ok: false,
            zvpg: 1,
            error: "the resume token does not name snapshot tank/data@v2 (it names tank/data@v1)",
            hint: "the receiver discards its partial receive and asks again whole",
          }) + "\n",
        },
      },
      // `receive -A` destroys the dataset the whole receive was making
      { argv: ["zfs", "receive", "-A", ORIGIN_TRACKING] },
      onOrigin(trackedCall(undefined)),
      existsCall(origin),
      {
        argv: SSH_ORIGIN,
        check: (o) => sends.push(String(o.stdin)),
        result: {
          stdout: JSON.stringify({
            ok: true,
            zvpg: 1,
            ref: SERVED[1],
            base: null,
            resumed: false,
            size: null,
          }) + "\n",
        },
        stdoutBytes: fakeSendStream("222", null),
      },
      { argv: ["zfs", "receive", "-u", "-s", `${ORIGIN_TRACKING}@v2`] },
      { argv: ["zfs", "set", "readonly=on", ORIGIN_TRACKING] },
      {
        argv: [
          "zfs",
          "set",
          `zvpg:message=${S2.message}`,
          `zvpg:taken=${S2.time}`,
          `zvpg:branch=${S2.branch}`,
          `${ORIGIN_TRACKING}@v2`,
        ],
      },
      ...baseHoldCalls(`${ORIGIN_TRACKING}@v2`, { [`${ORIGIN_TRACKING}@v2`]: undefined }, "origin"),
    ],
  });
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(run.stdout);
  assert.deepEqual([json.pulled, json.resumed, json.base], [true, false, null]);
  assert.match(sends[0], /"base":null,"resumeToken":"1-other"/);
  assert.match(sends[1], /"base":null,"resumeToken":null/);
});
