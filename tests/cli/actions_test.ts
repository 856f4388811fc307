/**
 * The commands that act on containers and the environment, run in process on the strict
 * fake runner: `branch create`, `branch start`, `init check`, `status health`. Their text
 * and JSON output and exit codes are compared with golden files in tests/cli/golden/.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { USABLE_QUERY } from "../../src/workflows/status_service.ts";
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import type { MountTable } from "../../src/adapters/mount_table.ts";
import {
  branchGetCall,
  claimAndClone,
  dockerPsCall,
  dockerPsLine,
  execSqlCall,
  type FixtureEntry,
  freePortRange,
  indexCall,
  portClaimCall,
  runArgv,
  slotsCall,
  snapshotNamedCall,
} from "../unit/helpers.ts";
import { assertGolden, runCli } from "./harness.ts";
import {
  BASELINE,
  CLONES,
  DOCKER_VERSION,
  FEATURE,
  IMAGE_INSPECT,
  inventory,
  mainDataset,
  NO_TAKE_OVERS,
  pool,
  poolIndex,
  zfsOnly,
  ZPOOL_LIST,
} from "./fixtures.ts";
import { writePrivateFile } from "../../src/runtime/private_fs.ts";

const FORMATS = [["table", "txt"], ["json", "json"]] as const;

/** `feature/new` made from baseline, on `port`, in `state`. */
function newBranch(ctx: Context, port: number, state: string): FixtureEntry {
  return {
    name: "tpool/clones/feature_snew",
    props: {
      type: "filesystem",
      used: "0",
      referenced: "41897984",
      creation: "1795000300",
      createtxg: "130",
      origin: "tpool/data@baseline",
      mountpoint: ctx.layout.branchMount("feature/new"),
      "zvpg:branch": "feature/new",
      "zvpg:parent": "main",
      "zvpg:state": state,
      "zvpg:port": String(port),
      "zvpg:runtime": "docker",
      "zvpg:created": "2026-11-24T12:00:00.000Z",
    },
  };
}

/**
 * The container start every start path makes: run, record (port and engine only when the
 * dataset does not record them yet: a create's clone does), read back.
 */
function startCalls(
  ctx: Context,
  branch: string,
  dataset: string,
  port: number,
  after: FixtureEntry[],
  recorded = false,
): ExpectedCall[] {
  // a data directory of PostgreSQL 14 or later syncs only its file system at recovery
  const extra = ["-c", "recovery_init_sync_method=syncfs"];
  const container = ctx.layout.containerName(branch, port);
  return [
    { argv: [...runArgv(ctx, branch, port), ...extra], result: { stdout: "f00d\n" } },
    ...(recorded ? [] : [
      portClaimCall(dataset, port),
      { argv: ["zfs", "set", `zvpg:port=${port}`, dataset] },
      { argv: ["zfs", "set", "zvpg:runtime=docker", dataset] },
    ]),
    { argv: ["zfs", "set", "zvpg:state=running", dataset] },
    branchGetCall(after, [dataset]),
    dockerPsCall(dockerPsLine({ branch, port, name: container }) + "\n", branch),
  ];
}

for (const [format, ext] of FORMATS) {
  Deno.test(`branch create: ${format} output`, async () => {
    const port = freePortRange(1);
    const dataset = "tpool/clones/feature_snew";
    const run = await runCli([
      "branch",
      "create",
      "feature/new",
      "--from",
      "baseline",
      "-f",
      format,
    ], {
      config: { branchPortStart: port, branchPortEnd: port },
      replace: [[String(port), "$PORT"]],
      calls: (ctx) => {
        // the data directory is there already: no mount is needed
        mkdirSync(ctx.layout.pgdata("feature/new"), { recursive: true });
        Deno.writeTextFileSync(`${ctx.layout.pgdata("feature/new")}/PG_VERSION`, "17\n");
        const before = pool();
        return [
          branchGetCall(before, [dataset]),
          indexCall(),
          dockerPsCall(""),
          slotsCall(before),
          snapshotNamedCall(before, "baseline"),
          ...claimAndClone(ctx, "feature/new", port, "tpool/data@baseline"),
          ...startCalls(ctx, "feature/new", dataset, port, [
            ...before,
            newBranch(ctx, port, "running"),
          ], true),
        ];
      },
    });
    assertGolden(`branch_create.${ext}`, run);
  });

  Deno.test(`branch start: ${format} output`, async () => {
    const port = freePortRange(1);
    const stopped = [mainDataset(), BASELINE, CLONES];
    const run = await runCli(["branch", "start", "feature/new", "-f", format], {
      config: { branchPortStart: port, branchPortEnd: port },
      replace: [[String(port), "$PORT"]],
      calls: (ctx) => {
        mkdirSync(ctx.layout.pgdata("feature/new"), { recursive: true });
        Deno.writeTextFileSync(`${ctx.layout.pgdata("feature/new")}/PG_VERSION`, "17\n");
        const before = [...stopped, newBranch(ctx, port, "stopped")];
        const dataset = "tpool/clones/feature_snew";
        return [
          branchGetCall(before, [dataset]),
          indexCall(),
          dockerPsCall(""),
          slotsCall(before),
          ...startCalls(ctx, "feature/new", dataset, port, [
            ...stopped,
            newBranch(ctx, port, "running"),
          ]),
        ];
      },
    });
    assertGolden(`branch_start.${ext}`, run);
  });
}

Deno.test("branch start: a running branch is exit 1, one line", async () => {
  const run = await runCli(["branch", "start", "feature/auth"], {
    calls: () => [
      branchGetCall(pool("running"), [FEATURE]),
      indexCall(),
      dockerPsCall(
        dockerPsLine({ branch: "feature/auth", port: 6002, name: "zvpg_feature_sauth_6002" }) +
          "\n",
      ),
      slotsCall(pool("running")),
    ],
  });
  assertGolden("error_branch_start_running.txt", run);
});

/** The environment checks' calls on a healthy machine: zfs, pool, datasets, engine, image. */
const ENVIRONMENT: ExpectedCall[] = [
  { argv: ["zpool", "list", "-H", "-o", "name"], result: { stdout: "tpool\n" } },
  ZPOOL_LIST,
  ...["tpool/data", "tpool/clones", "tpool/sockets"].map((d) => ({
    argv: ["zfs", "list", "-H", "-o", "name", d],
    result: { stdout: `${d}\n` },
  })),
  DOCKER_VERSION,
  IMAGE_INSPECT,
];

/** The read of what killed transfers left: no `tpool/remotes` (nothing was ever pulled). */
const NO_TRANSFERS: ExpectedCall = {
  argv: ["zfs", "get", "-H", "-p", "-r", "-o", "name,property,value,source"]
    .concat(["type,zvpg:remote-bases", "tpool/remotes"]),
  result: { code: 1, stderr: "cannot open 'tpool/remotes': dataset does not exist\n" },
};

/** The query health and repair run in a running branch (answered: it is usable). */
function usableQuery(pgdata: string): ExpectedCall {
  const { uid, gid } = statSync(pgdata);
  return execSqlCall(`${uid}:${gid}`, "zvpg_main_6001", USABLE_QUERY, { stdout: "412\n" });
}

/** The password file `init env` writes (the config check wants it, private). */
function passFile(ctx: Context): void {
  writePrivateFile(ctx.layout.passFile, "*:*:*:postgres:secret\n");
}

for (const [format, ext] of FORMATS) {
  Deno.test(`init check: ${format} output of a healthy environment`, async () => {
    const run = await runCli(["init", "check", "-f", format], {
      calls: (ctx) => {
        passFile(ctx);
        return [...ENVIRONMENT, ...inventory()];
      },
    });
    assertGolden(`init_check.${ext}`, run);
  });

  Deno.test(`status health: ${format} output of a healthy pool`, async () => {
    const run = await runCli(["status", "health", "-f", format], {
      calls: (ctx) => {
        passFile(ctx);
        const pgdata = ctx.layout.pgdata("main");
        mkdirSync(pgdata, { recursive: true });
        return [...ENVIRONMENT, ...inventory(), poolIndex(), usableQuery(pgdata), NO_TRANSFERS];
      },
    });
    assertGolden(`status_health.${ext}`, run);
  });
}

Deno.test("init check: zfs that does not answer is exit 1, each check says why", async () => {
  const run = await runCli(["init", "check"], {
    calls: (ctx) => {
      passFile(ctx);
      return [
        {
          argv: ["zpool", "list", "-H", "-o", "name"],
          result: { code: 1, stderr: "connect: No such file or directory\n" },
        },
        DOCKER_VERSION,
        IMAGE_INSPECT,
      ];
    },
  });
  assertGolden("init_check_no_zfs.txt", run);
});

/** A host on which every dataset of the fixture pool is mounted and answers. */
const MOUNTED: MountTable = {
  entries: () =>
    ["tpool/data", "tpool/clones", "tpool/sockets", FEATURE].map((source) => ({
      source,
      target: `/mnt/${source}`,
      fstype: "fuse.zfs",
    })),
  stat: () => ({ state: "ok" }),
};

for (const [format, ext] of FORMATS) {
  Deno.test(`status health --repair: ${format} output when nothing needs a repair`, async () => {
    const run = await runCli(["status", "health", "--repair", "-f", format], {
      mounts: MOUNTED,
      calls: (ctx) => {
        passFile(ctx);
        const pgdata = ctx.layout.pgdata("main");
        mkdirSync(pgdata, { recursive: true });
        const health = [
          ...ENVIRONMENT,
          ...inventory(),
          poolIndex(),
          usableQuery(pgdata),
          NO_TRANSFERS,
        ];
        return [...inventory(), poolIndex(), NO_TRANSFERS, usableQuery(pgdata), ...health];
      },
    });
    assertGolden(`status_repair_nothing.${ext}`, run);
  });
}

for (const [format, ext] of FORMATS) {
  Deno.test(`init env: ${format} output when everything exists and main runs`, async () => {
    const run = await runCli(["init", "env", "-f", format], {
      mounts: MOUNTED,
      calls: (ctx) => {
        passFile(ctx);
        const pgdata = ctx.layout.pgdata("main");
        mkdirSync(pgdata, { recursive: true });
        Deno.writeTextFileSync(`${pgdata}/PG_VERSION`, "17\n");
        const [available, zpoolList, ...datasets] = ENVIRONMENT.slice(0, 5);
        return [
          available!,
          NO_TAKE_OVERS,
          DOCKER_VERSION,
          IMAGE_INSPECT,
          zpoolList!,
          ...datasets,
          ...zfsOnly(),
          ...inventory(),
        ];
      },
    });
    assertGolden(`init_env_exists.${ext}`, run);
  });
}

/** `zfs get -r` of `tpool/remotes` answering `entries` (name → remote-bases record or type). */
function transfersCall(entries: [string, string, string?][]): ExpectedCall {
  const lines = entries.flatMap(([name, type, bases]) => [
    `${name}\ttype\t${type}\t-`,
    `${name}\tzvpg:remote-bases\t${bases ?? "-"}\t${bases ? "local" : "-"}`,
  ]);
  return { ...NO_TRANSFERS, result: { stdout: lines.join("\n") + "\n" } };
}

/** What a killed pull and a killed push left, and a hold of a removed remote on baseline. */
const LEFTOVERS = transfersCall([
  ["tpool/remotes", "filesystem"],
  ["tpool/remotes/usb", "filesystem"],
  ["tpool/remotes/usb/main", "filesystem"],
  ["tpool/remotes/usb/feature_sauth", "filesystem"],
  ["tpool/remotes/usb/feature_sauth@v1", "snapshot"],
]);
const HELD_FOR_GONE: FixtureEntry[] = [
  mainDataset(),
  { ...BASELINE, props: { ...BASELINE.props, "zvpg:remote-bases": "old" } },
  CLONES,
  ...pool().slice(3),
];
/** A pid no process has (above the kernel's largest). */
const DEAD_PID = 4_194_999;

/** The remote `usb` (a directory holding a dead push's temporary stream). */
function usbRemote(ctx: Context): string {
  const dir = `${ctx.config.configDir}/usb`;
  mkdirSync(dir, { mode: 0o700 });
  const stream = `${dir}/.111.zstream.${DEAD_PID}.tmp`;
  Deno.writeTextFileSync(stream, "cut short");
  writePrivateFile(
    ctx.layout.remotesFile,
    JSON.stringify({ remotes: [{ name: "usb", url: `file://${dir}` }] }),
  );
  return stream;
}

for (const [format, ext] of FORMATS) {
  Deno.test(`status health: ${format} output of what killed transfers left`, async () => {
    const run = await runCli(["status", "health", "-f", format], {
      calls: (ctx) => {
        passFile(ctx);
        usbRemote(ctx);
        const pgdata = ctx.layout.pgdata("main");
        mkdirSync(pgdata, { recursive: true });
        return [...ENVIRONMENT, ...inventory(HELD_FOR_GONE), poolIndex(), usableQuery(pgdata)]
          .concat(LEFTOVERS);
      },
    });
    assertGolden(`status_health_transfers.${ext}`, run);
  });
}

Deno.test("status health --repair: removes what killed transfers left", async () => {
  let stream = "";
  const run = await runCli(["status", "health", "--repair", "-f", "json"], {
    mounts: MOUNTED,
    calls: (ctx) => {
      passFile(ctx);
      stream = usbRemote(ctx);
      const pgdata = ctx.layout.pgdata("main");
      mkdirSync(pgdata, { recursive: true });
      return [
        ...inventory(HELD_FOR_GONE),
        poolIndex(),
        LEFTOVERS,
        usableQuery(pgdata),
        { argv: ["zfs", "destroy", "tpool/remotes/usb/main"] },
        { argv: ["zfs", "release", "zvpg-remote-old", "tpool/data@baseline"] },
        { argv: ["zfs", "inherit", "zvpg:remote-bases", "tpool/data@baseline"] },
        // then the health after it
        ...ENVIRONMENT,
        ...inventory(),
        poolIndex(),
        usableQuery(pgdata),
        transfersCall([
          ["tpool/remotes", "filesystem"],
          ["tpool/remotes/usb", "filesystem"],
          ["tpool/remotes/usb/feature_sauth", "filesystem"],
          ["tpool/remotes/usb/feature_sauth@v1", "snapshot"],
        ]),
      ];
    },
    after: () => assert.equal(existsSync(stream), false, "the dead push's stream is gone"),
  });
  assertGolden("status_repair_transfers.json", run);
});
