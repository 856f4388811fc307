/**
 * `zvpg clone <url>` run in process on the strict fake runner: the refusals that leave
 * this host as it was (nothing made: no pool, no password file, no remotes file). The
 * whole clone, on real ZFS and PostgreSQL, is tests/integration/clone_test.ts.
 */
import { fakeSendStream } from "../support/send_stream.ts";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { refsIndexText, type RemoteRef } from "../../src/domain/remote_refs.ts";
import { DOCKER_VERSION, IMAGE_INSPECT } from "./fixtures.ts";
import { dockerPsCall, takeOversCall } from "../unit/helpers.ts";
import { assertGolden, runCli } from "./harness.ts";

const S1: RemoteRef = {
  name: "baseline",
  guid: "111",
  message: "Initial state",
  time: "2026-11-24T10:00:00.000Z",
  branch: "feature/auth",
  base: null,
  stream: "111.zstream",
};

/** `zpool list`: ZFS answers. */
const AVAILABLE: ExpectedCall = {
  argv: ["zpool", "list", "-H", "-o", "name"],
  result: { stdout: "other\n" },
};

/** `zfs list` of the data dataset, answering whether it exists. */
function dataExists(exists: boolean): ExpectedCall {
  return {
    argv: ["zfs", "list", "-H", "-o", "name", "tpool/data"],
    result: exists
      ? { stdout: "tpool/data\n" }
      : { code: 1, stderr: "cannot open 'tpool/data': dataset does not exist" },
  };
}

/** No pool yet: no take-over recorded in it. */
const NO_POOL_TAKE_OVERS: ExpectedCall = {
  ...takeOversCall([]),
  result: { code: 1, stderr: "cannot open 'tpool': dataset does not exist\n" },
};

/** The calls of a clone before it reads the remote: ZFS, no environment, the image. */
const BEFORE_REMOTE = [
  AVAILABLE,
  dataExists(false),
  NO_POOL_TAKE_OVERS,
  DOCKER_VERSION,
  IMAGE_INSPECT,
];

/** Runs `fn` with a file remote directory holding `refs` (removed after). */
async function withRemoteDir<T>(refs: RemoteRef[], fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "zvpg-clone-remote-" });
  try {
    writeFileSync(join(dir, "refs.json"), refsIndexText(refs));
    for (const r of refs) writeFileSync(join(dir, r.stream), fakeSendStream(r.guid, r.base));
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Nothing of a clone is left in the run's config directory. */
function nothingMade(ctx: Context): void {
  assert.equal(existsSync(ctx.layout.passFile), false, "no password file");
  assert.equal(existsSync(ctx.layout.remotesFile), false, "no remotes file");
}

Deno.test("clone: refused on a pool that holds an environment, naming it", async () => {
  const run = await runCli(["clone", "file:///media/usb/zvpg"], {
    calls: () => [AVAILABLE, dataExists(true)],
    after: nothingMade,
  });
  assertGolden("error_clone_initialised.txt", run);
});

Deno.test("clone: refused when the remote's name is taken, before anything is made", async () => {
  const run = await runCli(["clone", "file:///media/usb/zvpg"], {
    setUp: (ctx) =>
      writeFileSync(
        ctx.layout.remotesFile,
        JSON.stringify({ remotes: [{ name: "origin", url: "ssh://db2/tank" }] }),
      ),
    calls: () => [AVAILABLE, dataExists(false)],
  });
  assertGolden("error_clone_origin_taken.txt", run);
});

for (
  const [name, args] of [
    ["snapshot_missing", ["--snapshot", "v9"]],
    ["no_main_snapshot", []],
  ] as const
) {
  Deno.test(`clone: a file remote without the snapshot (${name}) is exit 1, nothing made`, async () => {
    const run = await withRemoteDir([S1], (dir) =>
      runCli(["clone", `file://${dir}`, ...args], {
        calls: () => BEFORE_REMOTE,
        after: nothingMade,
        replace: [[dir, "$REMOTE"]],
      }));
    assertGolden(`error_clone_${name}.txt`, run);
  });
}

/** ssh to db2's `zvpg serve --stdio`, asked `list`, answering `result`. */
function sshList(result: { code?: number; stdout?: string; stderr?: string }): ExpectedCall {
  return {
    argv: [
      ...["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-e", "none", "-T"],
      ...["-l", "backup", "--", "db2", "zvpg", "serve", "--stdio"],
    ],
    check: (o) => assert.equal(o.stdin, `{"zvpg":1,"op":"list"}\n`),
    result,
  };
}

Deno.test("clone: an ssh remote holding no snapshot of main is exit 1, nothing made", async () => {
  const list = {
    ok: true,
    zvpg: 1,
    refs: [{
      name: "f1",
      guid: "333",
      branch: "feature/auth",
      created: "2026-11-24T10:00:00.000Z",
      message: "work",
      referenced: 1,
      origin: null,
    }],
  };
  const run = await runCli(["clone", "ssh://backup@db2", "--origin", "db2"], {
    calls: () => [...BEFORE_REMOTE, sshList({ stdout: JSON.stringify(list) + "\n" })],
    after: nothingMade,
  });
  assertGolden("error_clone_ssh_no_main.txt", run);
});

Deno.test("clone: an ssh host that cannot be reached is one line, nothing made", async () => {
  const run = await runCli(["clone", "ssh://backup@db2"], {
    calls: () => [
      ...BEFORE_REMOTE,
      sshList({ code: 255, stderr: "ssh: connect to host db2 port 22: Connection refused\n" }),
    ],
    after: nothingMade,
  });
  assertGolden("error_clone_ssh_unreachable.txt", run);
});

/** `zpool list -p` of the test pool: none yet, or ONLINE. */
function poolStatus(online: boolean): ExpectedCall {
  return {
    argv: ["zpool", "list", "-H", "-p", "-o", "name,health,size,allocated,free", "tpool"],
    result: online
      ? { stdout: "tpool\tONLINE\t3221225472\t100000\t3221125472\n" }
      : { code: 1, stderr: "cannot open 'tpool': no such pool\n" },
  };
}

Deno.test("clone: a receive ZFS refuses undoes it all: pool, its file, config, remote", async () => {
  let image = "";
  const run = await withRemoteDir(
    [{ ...S1, branch: "main" }],
    (dir) =>
      runCli(["clone", `file://${dir}`], {
        calls: (ctx) => {
          image = ctx.layout.poolImage;
          return [
            ...BEFORE_REMOTE,
            poolStatus(false),
            poolStatus(false),
            { argv: ["zpool", "create", "-m", "none", "tpool", image] },
            poolStatus(true),
            {
              argv: ["zfs", "receive", "-u", `tpool/data@${S1.name}`],
              check: (o) => assert.ok(o.stdinStream),
              result: {
                code: 1,
                stderr: "cannot receive new filesystem stream: invalid backup stream\n",
              },
            },
            dockerPsCall("", "main"),
            { argv: ["zpool", "destroy", "-f", "tpool"] },
          ];
        },
        after: (ctx) => {
          nothingMade(ctx);
          assert.equal(existsSync(image), false, "no pool file");
          // the fixture's own config files were there before: kept
          assert.equal(readFileSync(ctx.config.pgConfPath, "utf8"), "# test\n");
          assert.equal(existsSync(dirname(ctx.layout.remotesLockFile)), false, "no lock directory");
        },
        replace: [[dir, "$REMOTE"]],
      }),
  );
  assertGolden("error_clone_receive_undone.txt", run);
});
