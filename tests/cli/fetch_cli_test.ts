/**
 * `zvpg fetch <remote>` run in process on the strict fake runner: a file remote's index or
 * an ssh remote's `zvpg serve --stdio` answers, each ref matched to this pool by GUID, and
 * the refusals (an unreachable host, a host that is not zvpg).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { refsIndexText, type RemoteRef } from "../../src/domain/remote_refs.ts";
import { assertGolden, runCli } from "./harness.ts";

const FORMATS = [["table", "txt"], ["json", "json"]] as const;

const ref = (name: string, guid: string, base: string | null): RemoteRef => ({
  name,
  guid,
  message: `snapshot ${name}`,
  time: "2026-11-24T10:00:00.000Z",
  branch: "main",
  base,
  stream: `${guid}.zstream`,
});

/** The remote directory of a run. */
const remoteDir = (ctx: Context) => join(ctx.config.configDir, "remote");

/** The remotes `usb` (file, holding baseline and v2) and `origin` (ssh, port 2222). */
function remotes(ctx: Context): void {
  writeFileSync(
    ctx.layout.remotesFile,
    JSON.stringify({
      remotes: [
        { name: "usb", url: `file://${remoteDir(ctx)}` },
        { name: "origin", url: "ssh://backup@db2:2222/tank" },
      ],
    }),
  );
  mkdirSync(remoteDir(ctx), { mode: 0o700 });
  writeFileSync(
    join(remoteDir(ctx), "refs.json"),
    refsIndexText([ref("baseline", "111", null), ref("v2", "222", "111")]),
  );
}

const INITIALISED: ExpectedCall = {
  argv: ["zfs", "list", "-H", "-o", "name", "tpool/data"],
  result: { stdout: "tpool/data\n" },
};

/** This pool's snapshot GUIDs: baseline is here (111), v2 is not. */
const LOCAL_GUIDS: ExpectedCall = {
  argv: [
    ...["zfs", "get", "-H", "-p", "-r", "-o", "name,property,value,source", "type,guid"],
    ...["tpool/data", "tpool/clones", "tpool/remotes"],
  ],
  result: {
    stdout: [
      "tpool/data\ttype\tfilesystem\t-",
      "tpool/data\tguid\t900\t-",
      "tpool/data@baseline\ttype\tsnapshot\t-",
      "tpool/data@baseline\tguid\t111\t-",
      "",
    ].join("\n"),
  },
};

/** ssh to origin answering `answer` to `op`. */
function sshCall(op: string, result: { code?: number; stdout?: string; stderr?: string }) {
  return {
    argv: [
      ...["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-e", "none", "-T"],
      ...["-p", "2222", "-l", "backup", "--", "db2", "zvpg", "serve", "--stdio"],
    ],
    check: (o: { stdin?: string | Uint8Array }) =>
      assert.equal(o.stdin, `{"zvpg":1,"op":"${op}"}\n`),
    result,
  };
}

const HELLO = JSON.stringify({
  ok: true,
  zvpg: 1,
  version: "2.0.0",
  zfs: {
    flavor: "openzfs",
    resume: true,
    sizeEstimate: true,
    bookmarks: true,
    compressed: true,
  },
}) + "\n";

const LIST = JSON.stringify({
  ok: true,
  zvpg: 1,
  refs: [
    {
      name: "base",
      guid: "111",
      branch: "main",
      created: "2026-11-24T10:00:00.000Z",
      message: "renamed there",
      referenced: 1,
      origin: null,
    },
    {
      name: "v3",
      guid: "333",
      branch: "feature/auth",
      created: "2026-11-25T09:30:00+01:00",
      message: "new",
      referenced: 2,
      origin: null,
    },
  ],
}) + "\n";

for (const [format, ext] of FORMATS) {
  Deno.test(`fetch: ${format} output of a file remote, matched by GUID`, async () => {
    const run = await runCli(["fetch", "usb", "-f", format], {
      setUp: remotes,
      calls: () => [INITIALISED, LOCAL_GUIDS],
    });
    assertGolden(`fetch_file.${ext}`, run);
  });

  Deno.test(`fetch: ${format} output of an ssh remote (hello, then list)`, async () => {
    const run = await runCli(["fetch", "origin", "-f", format], {
      setUp: remotes,
      calls: () => [
        INITIALISED,
        sshCall("hello", { stdout: HELLO }),
        sshCall("list", { stdout: LIST }),
        LOCAL_GUIDS,
      ],
    });
    assertGolden(`fetch_ssh.${ext}`, run);
  });
}

Deno.test("fetch: a host ssh cannot reach or log in to is one error naming what to check", async () => {
  const run = await runCli(["fetch", "origin"], {
    setUp: remotes,
    calls: () => [
      INITIALISED,
      sshCall("hello", {
        code: 255,
        stderr: "Host key verification failed.\r\n",
      }),
    ],
  });
  assertGolden("error_fetch_unreachable.txt", run);
});

Deno.test("fetch: a host whose key runs something else is named, not misread", async () => {
  const run = await runCli(["fetch", "origin"], {
    setUp: remotes,
    calls: () => [INITIALISED, sshCall("hello", { code: 0, stdout: "Welcome to db2\n" })],
  });
  assertGolden("error_fetch_not_zvpg.txt", run);
});

Deno.test("fetch: a refusal of the remote is passed on with its hint", async () => {
  const refusal = JSON.stringify({
    ok: false,
    zvpg: 1,
    error: "fetch: zvpg is not initialised on this pool",
    hint: "run 'zvpg init env' first",
  });
  const run = await runCli(["fetch", "origin"], {
    setUp: remotes,
    calls: () => [
      INITIALISED,
      sshCall("hello", { stdout: HELLO }),
      sshCall("list", { code: 1, stdout: refusal + "\n" }),
    ],
  });
  assertGolden("error_fetch_refused.txt", run);
});

Deno.test("fetch: an answer zvpg does not understand is refused, naming the field", async () => {
  const list = JSON.parse(LIST);
  list.refs[1].created = "not a time";
  list.refs[0].message = "\u001b]0;pwned\u0007";
  const run = await runCli(["fetch", "origin"], {
    setUp: remotes,
    calls: () => [
      INITIALISED,
      sshCall("hello", { stdout: HELLO }),
      sshCall("list", { stdout: JSON.stringify(list) + "\n" }),
    ],
  });
  assertGolden("error_fetch_malformed.txt", run);
});
