import assert from "node:assert/strict";
import {
  type AdoptedDataset,
  decodeTakeOver,
  encodeTakeOver,
  findAdoption,
  TAKE_OVER_RECORD_MAX,
  takeOversIn,
} from "../../src/domain/datadir_adoption.ts";
import type { MountEntry } from "../../src/adapters/mount_table.ts";
import type { ZfsEntry } from "../../src/adapters/zfs.ts";
import { StateError } from "../../src/errors.ts";
import { createContext } from "../../src/cli/session.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { InitService } from "../../src/workflows/init_service.ts";
import { type FixtureEntry, takeOversCall, testConfig, withTempDir } from "./helpers.ts";

const mounts: MountEntry[] = [
  { source: "tank", target: "/tank", fstype: "zfs" },
  { source: "tank/pg15", target: "/srv/pg15", fstype: "fuse.zfs" },
  { source: "tank/data", target: "/var/lib/zvpg/data", fstype: "zfs" },
  { source: "other/pg", target: "/srv/other", fstype: "zfs" },
  { source: "/dev/vda", target: "/srv/ext4", fstype: "ext4" },
];
const owned = (d: string) => d === "tank/data";

Deno.test("findAdoption: a data directory that is a dataset's mountpoint is taken over whole", () => {
  assert.deepEqual(findAdoption("/srv/pg15", "tank", mounts, owned), {
    dataset: "tank/pg15",
    mountpoint: "/srv/pg15",
    subdir: null,
  });
});

Deno.test("findAdoption: a data directory at a dataset's root is taken over with its name", () => {
  assert.deepEqual(findAdoption("/srv/pg15/main", "tank", mounts, owned), {
    dataset: "tank/pg15",
    mountpoint: "/srv/pg15",
    subdir: "main",
  });
});

Deno.test("findAdoption: deeper directories, other pools, the pool's root, zvpg's own datasets and other file systems are copied", () => {
  assert.equal(findAdoption("/srv/pg15/a/main", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/srv/other/main", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/tank/main", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/var/lib/zvpg/data/pgdata", "tank", mounts, owned), undefined);
  assert.equal(findAdoption("/srv/ext4/main", "tank", mounts, owned), undefined);
  // a pool whose name is a prefix of another's is not that pool
  assert.equal(findAdoption("/srv/pg15", "tan", mounts, owned), undefined);
});

const ADOPTED: AdoptedDataset = {
  dataset: "tank/pg15",
  mountpoint: "/srv/pg 15",
  subdir: "main",
  original: {
    mountpoint: "/srv/pg 15",
    atime: "on",
    "com.example:owner": "zoë\tand a tab",
    "zvpg:source": "postgresql://app@db.example:5432/app",
  },
  made: { datasets: ["tank/clones", "tank/sockets"], files: ["/etc/zvpg/pgpass"] },
};

Deno.test("encodeTakeOver/decodeTakeOver: the record of a take-over reads back exactly, in one property value", () => {
  const value = encodeTakeOver(ADOPTED);
  assert.match(value, /^[A-Za-z0-9+/]+=*$/, "safe in a zfs property value");
  assert.ok(value.length <= TAKE_OVER_RECORD_MAX);
  assert.deepEqual(decodeTakeOver(value), ADOPTED);
  // nothing but the dataset's name, mountpoint, own properties and what the import makes:
  // no password (a source's is never among a dataset's properties: zvpg:source has none)
  const json = JSON.parse(
    new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0))),
  );
  assert.deepEqual(Object.keys(json).sort(), [
    "dataset",
    "made",
    "mountpoint",
    "original",
    "subdir",
    "v",
  ]);
  assert.deepEqual(decodeTakeOver(encodeTakeOver({ ...ADOPTED, subdir: null }))?.subdir, null);
});

Deno.test("decodeTakeOver: anything but a whole record is no record", () => {
  const encode = (x: unknown) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(x))));
  const { v: _v, ...fields } = { v: 1, ...ADOPTED };
  for (
    const bad of [
      "",
      "not base64!",
      btoa("{"),
      btoa('{"v":1,"dataset":"tank/\xe9"}'),
      encode(null),
      encode({ ...fields }),
      encode({ v: 2, ...fields }),
      encode({ v: 1, ...fields, mountpoint: "legacy" }),
      encode({ v: 1, ...fields, original: { atime: 1 } }),
      encode({ v: 1, ...fields, made: { datasets: [] } }),
    ]
  ) {
    assert.equal(decodeTakeOver(bad), undefined, bad);
  }
  assert.deepEqual(decodeTakeOver(encode({ v: 1, ...fields })), ADOPTED);
});

Deno.test("encodeTakeOver: a dataset with too many properties has a record longer than a property holds", () => {
  const original = Object.fromEntries(
    Array.from({ length: 200 }, (_, i) => [`com.example:p${i}`, "x".repeat(30)]),
  );
  assert.ok(encodeTakeOver({ ...ADOPTED, original }).length > TAKE_OVER_RECORD_MAX);
});

Deno.test("takeOversIn: the @zvpg-adopt snapshots that carry a record, with their zvpg's pid", () => {
  const record = encodeTakeOver(ADOPTED);
  const entries: ZfsEntry[] = [
    { name: "tank", type: "filesystem", props: {} },
    { name: "tank/data", type: "filesystem", props: { "zvpg:adopt": "not on a snapshot" } },
    {
      name: "tank/data@zvpg-adopt",
      type: "snapshot",
      props: { "zvpg:adopt": record, "zvpg:pid": "42" },
    },
    { name: "tank/other@zvpg-adopt", type: "snapshot", props: {} },
    { name: "tank/other@mine", type: "snapshot", props: { "zvpg:adopt": record } },
    {
      name: "tank/old@zvpg-adopt",
      type: "snapshot",
      props: { "zvpg:adopt": "garbage", "zvpg:pid": "x" },
    },
  ];
  assert.deepEqual(takeOversIn(entries), [
    { snapshot: "tank/data@zvpg-adopt", pid: 42, adopted: ADOPTED },
    { snapshot: "tank/old@zvpg-adopt", pid: null, adopted: undefined },
  ]);
});

Deno.test("init env: refuses while a take-over whose zvpg died was not given back, naming the dataset", async () => {
  await withTempDir(async (dir) => {
    const record = encodeTakeOver({ ...ADOPTED, dataset: "tpool/legacy" });
    const taken = (pid: string): FixtureEntry[] => [
      { name: "tpool", props: { type: "filesystem" } },
      { name: "tpool/data", props: { type: "filesystem" } },
      {
        name: "tpool/data@zvpg-adopt",
        props: { type: "snapshot", "zvpg:adopt": record, "zvpg:pid": pid },
      },
    ];
    const zpoolList = {
      argv: ["zpool", "list", "-H", "-o", "name"],
      result: { stdout: "tpool\n" },
    };
    for (
      const [pid, message] of [
        [
          "4194304999",
          "an interrupted take-over of tpool/legacy was never given back — run 'zvpg status health --repair' to give it back as it was, then run this again",
        ],
        [
          String(Deno.pid),
          `zvpg (pid ${Deno.pid}) is taking tpool/legacy over now — wait for it to end`,
        ],
      ]
    ) {
      const fake = new FakeRunner([zpoolList, takeOversCall(taken(pid))]);
      const service = new InitService(createContext(testConfig(dir), fake));
      await assert.rejects(service.env(), (e: StateError) => {
        assert.ok(e instanceof StateError);
        assert.equal(`${e.message} — ${e.hint}`, message);
        return true;
      });
      fake.assertDone();
    }
  });
});
