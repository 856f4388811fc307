/**
 * The ZFS adapter: parsing of `zfs get` and `zpool list` in both dialects (OpenZFS 2.x
 * and zfs-fuse), and the exact argv of every command through the strict fake runner.
 */
import assert from "node:assert/strict";
import { parseGetOutput, parsePoolList, parseSize, Zfs } from "../../src/adapters/zfs.ts";
import { CommandFailedError } from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";

const PROPS = "type,used,referenced,origin,creation,zvpg:branch";

/**
 * OpenZFS 2.x: `zfs get -H -p -r -o name,property,value,source type,used,referenced,origin,
 * creation,zvpg:branch zvpg_pool`. Raw integers, `-` for unset values; user properties
 * are inherited by snapshots (source `inherited from …`), which drops them.
 */
const OPENZFS_GET = [
  "zvpg_pool\ttype\tfilesystem\t-",
  "zvpg_pool\tused\t43306189\t-",
  "zvpg_pool\treferenced\t24576\t-",
  "zvpg_pool\torigin\t-\t-",
  "zvpg_pool\tcreation\t1732448003\t-",
  "zvpg_pool\tzvpg:branch\t-\t-",
  "zvpg_pool/clones\ttype\tfilesystem\t-",
  "zvpg_pool/clones\tused\t557056\t-",
  "zvpg_pool/clones\treferenced\t24576\t-",
  "zvpg_pool/clones\torigin\t-\t-",
  "zvpg_pool/clones\tcreation\t1732448004\t-",
  "zvpg_pool/clones\tzvpg:branch\t-\t-",
  "zvpg_pool/clones/feature_sauth\ttype\tfilesystem\t-",
  "zvpg_pool/clones/feature_sauth\tused\t331776\t-",
  "zvpg_pool/clones/feature_sauth\treferenced\t41897984\t-",
  "zvpg_pool/clones/feature_sauth\torigin\tzvpg_pool/data@baseline\t-",
  "zvpg_pool/clones/feature_sauth\tcreation\t1732448100\t-",
  "zvpg_pool/clones/feature_sauth\tzvpg:branch\tfeature/auth\tlocal",
  "zvpg_pool/clones/feature_sauth@after-migration\ttype\tsnapshot\t-",
  "zvpg_pool/clones/feature_sauth@after-migration\tused\t0\t-",
  "zvpg_pool/clones/feature_sauth@after-migration\treferenced\t41897984\t-",
  "zvpg_pool/clones/feature_sauth@after-migration\torigin\t-\t-",
  "zvpg_pool/clones/feature_sauth@after-migration\tcreation\t1732448200\t-",
  "zvpg_pool/clones/feature_sauth@after-migration\tzvpg:branch\tfeature/auth\tinherited from zvpg_pool/clones/feature_sauth",
  "zvpg_pool/clones/_ue9_t_ue9_\ttype\tfilesystem\t-",
  "zvpg_pool/clones/_ue9_t_ue9_\tused\t225280\t-",
  "zvpg_pool/clones/_ue9_t_ue9_\treferenced\t41897984\t-",
  "zvpg_pool/clones/_ue9_t_ue9_\torigin\tzvpg_pool/data@baseline\t-",
  "zvpg_pool/clones/_ue9_t_ue9_\tcreation\t1732448300\t-",
  "zvpg_pool/clones/_ue9_t_ue9_\tzvpg:branch\tété\tlocal",
  "zvpg_pool/data\ttype\tfilesystem\t-",
  "zvpg_pool/data\tused\t42151936\t-",
  "zvpg_pool/data\treferenced\t41930752\t-",
  "zvpg_pool/data\torigin\t-\t-",
  "zvpg_pool/data\tcreation\t1732448005\t-",
  "zvpg_pool/data\tzvpg:branch\tmain\tlocal",
  "zvpg_pool/data@baseline\ttype\tsnapshot\t-",
  "zvpg_pool/data@baseline\tused\t221184\t-",
  "zvpg_pool/data@baseline\treferenced\t42201088\t-",
  "zvpg_pool/data@baseline\torigin\t-\t-",
  "zvpg_pool/data@baseline\tcreation\t1732448050\t-",
  "zvpg_pool/data@baseline\tzvpg:branch\tmain\tinherited from zvpg_pool/data",
  "zvpg_pool/sockets\ttype\tfilesystem\t-",
  "zvpg_pool/sockets\tused\t98304\t-",
  "zvpg_pool/sockets\treferenced\t98304\t-",
  "zvpg_pool/sockets\torigin\t-\t-",
  "zvpg_pool/sockets\tcreation\t1732448006\t-",
  "zvpg_pool/sockets\tzvpg:branch\t-\t-",
  "",
].join("\n");

/**
 * zfs-fuse 0.7 (Debian): the same command and columns; with `-p` the numbers are raw too.
 * A user property holds free text with spaces and Unicode; `-` marks unset values.
 */
const ZFS_FUSE_GET = [
  "fusepool/data\ttype\tfilesystem\t-",
  "fusepool/data\tused\t1376256\t-",
  "fusepool/data\treferenced\t1310720\t-",
  "fusepool/data\torigin\t-\t-",
  "fusepool/data\tcreation\t1732000000\t-",
  "fusepool/data\tzvpg:branch\tmain\tlocal",
  "fusepool/data\tzvpg:message\tInitial production state — café ☕ (v1)\tlocal",
  "fusepool/data@s1\ttype\tsnapshot\t-",
  "fusepool/data@s1\tused\t65536\t-",
  "fusepool/data@s1\treferenced\t1310720\t-",
  "fusepool/data@s1\torigin\t-\t-",
  "fusepool/data@s1\tcreation\t1732000100\t-",
  "fusepool/data@s1\tzvpg:branch\tmain\tinherited from fusepool/data",
  "fusepool/data@s1\tzvpg:message\tbefore the big migration: 10% done, 'quoted'\tlocal",
  "fusepool/clones\ttype\tfilesystem\t-",
  "fusepool/clones\tused\t0\t-",
  "fusepool/clones\treferenced\t21504\t-",
  "fusepool/clones\torigin\t-\t-",
  "fusepool/clones\tcreation\t1732000001\t-",
  "fusepool/clones\tzvpg:branch\t-\t-",
  "fusepool/clones\tzvpg:message\t-\t-",
  "fusepool/clones/dev\ttype\tfilesystem\t-",
  "fusepool/clones/dev\tused\t0\t-",
  "fusepool/clones/dev\treferenced\t1310720\t-",
  "fusepool/clones/dev\torigin\tfusepool/data@s1\t-",
  "fusepool/clones/dev\tcreation\t1732000200\t-",
  "fusepool/clones/dev\tzvpg:branch\tdev\tlocal",
  "fusepool/clones/dev\tzvpg:message\t-\t-",
  // a dataset a user made inside a branch: it inherits the branch's user properties
  "fusepool/clones/dev/mine\ttype\tfilesystem\t-",
  "fusepool/clones/dev/mine\tused\t114688\t-",
  "fusepool/clones/dev/mine\treferenced\t114688\t-",
  "fusepool/clones/dev/mine\torigin\t-\t-",
  "fusepool/clones/dev/mine\tcreation\t1732000300\t-",
  "fusepool/clones/dev/mine\tzvpg:branch\tdev\tinherited from fusepool/clones/dev",
  "fusepool/clones/dev/mine\tzvpg:message\t-\t-",
].join("\n"); // no trailing newline

Deno.test("zfs: parseGetOutput on OpenZFS 2.x output", () => {
  const entries = parseGetOutput(OPENZFS_GET);
  assert.deepEqual(entries.map((e) => e.name), [
    "zvpg_pool",
    "zvpg_pool/clones",
    "zvpg_pool/clones/feature_sauth",
    "zvpg_pool/clones/feature_sauth@after-migration",
    "zvpg_pool/clones/_ue9_t_ue9_",
    "zvpg_pool/data",
    "zvpg_pool/data@baseline",
    "zvpg_pool/sockets",
  ]);
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.deepEqual(byName.get("zvpg_pool"), {
    name: "zvpg_pool",
    type: "filesystem",
    props: { type: "filesystem", used: "43306189", referenced: "24576", creation: "1732448003" },
  });
  const clone = byName.get("zvpg_pool/clones/feature_sauth")!;
  assert.equal(clone.type, "filesystem");
  assert.equal(clone.props.origin, "zvpg_pool/data@baseline");
  assert.equal(clone.props["zvpg:branch"], "feature/auth");
  assert.equal(clone.props.used, "331776");
  const snap = byName.get("zvpg_pool/data@baseline")!;
  assert.equal(snap.type, "snapshot");
  assert.equal(snap.props.used, "221184");
  assert.equal(snap.props.referenced, "42201088");
  assert.ok(!("origin" in snap.props), "'-' means unset");
  assert.equal(byName.get("zvpg_pool/clones/_ue9_t_ue9_")!.props["zvpg:branch"], "été");
  assert.ok(!("zvpg:branch" in byName.get("zvpg_pool/sockets")!.props));
});

Deno.test("zfs: parseGetOutput on zfs-fuse output", () => {
  const entries = parseGetOutput(ZFS_FUSE_GET);
  assert.deepEqual(entries.map((e) => [e.name, e.type]), [
    ["fusepool/data", "filesystem"],
    ["fusepool/data@s1", "snapshot"],
    ["fusepool/clones", "filesystem"],
    ["fusepool/clones/dev", "filesystem"],
    ["fusepool/clones/dev/mine", "filesystem"],
  ]);
  const [data, s1, clones, dev, mine] = entries;
  assert.equal(data.props["zvpg:message"], "Initial production state — café ☕ (v1)");
  assert.equal(s1.props["zvpg:message"], "before the big migration: 10% done, 'quoted'");
  assert.equal(s1.props.creation, "1732000100");
  assert.deepEqual(clones.props, {
    type: "filesystem",
    used: "0",
    referenced: "21504",
    creation: "1732000001",
  });
  assert.equal(dev.props.origin, "fusepool/data@s1");
  assert.equal(dev.props.used, "0");
  assert.ok(!("zvpg:message" in dev.props));
  assert.equal(dev.props["zvpg:branch"], "dev");
  // inherited user properties are not the dataset's own
  assert.ok(!("zvpg:branch" in s1.props));
  assert.deepEqual(mine.props, {
    type: "filesystem",
    used: "114688",
    referenced: "114688",
    creation: "1732000300",
  });
});

Deno.test("zfs: parseGetOutput skips blank and malformed lines and keeps tabs in values", () => {
  const out = "\n  \nbroken line\nonly\tone-tab\nno\tsource\tcolumn\n" +
    "p/d\ttype\tfilesystem\t-\r\n" + "p/d\tzvpg:x\ta\tb\tlocal\n";
  const entries = parseGetOutput(out);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].name, "p/d");
  assert.equal(entries[0].props["zvpg:x"], "a\tb");
  assert.deepEqual(parseGetOutput(""), []);
});

Deno.test("zfs: parsePoolList on OpenZFS raw bytes (-p)", () => {
  const out = "zvpg_pool\tONLINE\t10737418240\t43306189\t10694112051\n" +
    "rpool\tDEGRADED\t1000204886016\t500000000000\t500204886016\n";
  assert.deepEqual(parsePoolList(out), [
    {
      name: "zvpg_pool",
      health: "ONLINE",
      size: 10737418240,
      allocated: 43306189,
      free: 10694112051,
    },
    {
      name: "rpool",
      health: "DEGRADED",
      size: 1000204886016,
      allocated: 500000000000,
      free: 500204886016,
    },
  ]);
  assert.deepEqual(parsePoolList(""), []);
  assert.deepEqual(parsePoolList("\n\n"), []);
});

Deno.test("zfs: parsePoolList on zfs-fuse human units", () => {
  const out = "fusepool\tONLINE\t2.98G\t130K\t2.98G\nempty\tONLINE\t1008M\t0\t1008M\n";
  const [a, b] = parsePoolList(out);
  assert.equal(a.name, "fusepool");
  assert.equal(a.health, "ONLINE");
  assert.equal(a.size, Math.round(2.98 * 1024 ** 3));
  assert.equal(a.allocated, 130 * 1024);
  assert.equal(a.free, a.size);
  assert.equal(b.allocated, 0);
  assert.equal(b.size, 1008 * 1024 ** 2);
});

Deno.test("zfs: parseSize edge cases", () => {
  assert.equal(parseSize("0"), 0);
  assert.equal(parseSize("1234"), 1234);
  assert.equal(parseSize("10737418240"), 10737418240);
  assert.equal(parseSize("512B"), 512);
  assert.equal(parseSize("1K"), 1024);
  assert.equal(parseSize("130K"), 133120);
  assert.equal(parseSize("1.5M"), 1572864);
  assert.equal(parseSize("2.98G"), 3199750636);
  assert.equal(parseSize("1T"), 1024 ** 4);
  assert.equal(parseSize("1P"), 1024 ** 5);
  assert.equal(parseSize("1E"), 1024 ** 6);
  assert.equal(parseSize("2.5g"), Math.round(2.5 * 1024 ** 3));
  assert.equal(parseSize("  42K "), 42 * 1024);
  assert.equal(parseSize("-"), 0);
  assert.equal(parseSize(""), 0);
  assert.equal(parseSize(undefined), 0);
  assert.equal(parseSize("abc"), 0);
  assert.equal(parseSize("1Z"), 0);
  assert.equal(parseSize("1.2.3G"), 0);
  assert.equal(parseSize("-5"), 0);
});

const POOL_COLUMNS = ["-o", "name,health,size,allocated,free"];

Deno.test("zfs: poolStatus on OpenZFS uses -p once", async () => {
  const fake = new FakeRunner([
    {
      argv: ["zpool", "list", "-H", "-p", ...POOL_COLUMNS, "zvpg_pool"],
      result: { stdout: "zvpg_pool\tONLINE\t10737418240\t43306189\t10694112051\n" },
      check: (o) => assert.equal(o.allowFailure, true),
    },
    {
      argv: ["zpool", "list", "-H", "-p", ...POOL_COLUMNS, "zvpg_pool"],
      result: { stdout: "zvpg_pool\tONLINE\t10737418240\t43306190\t10694112050\n" },
    },
  ]);
  const zfs = new Zfs(fake);
  assert.deepEqual(await zfs.poolStatus("zvpg_pool"), {
    name: "zvpg_pool",
    health: "ONLINE",
    size: 10737418240,
    allocated: 43306189,
    free: 10694112051,
  });
  assert.equal((await zfs.poolStatus("zvpg_pool"))?.allocated, 43306190);
  fake.assertDone();
});

Deno.test("zfs: poolStatus on zfs-fuse falls back without -p and remembers it", async () => {
  const usage = "invalid option 'p'\nusage:\n\tlist [-H] [-o property[,...]] [pool] ...\n";
  const fake = new FakeRunner([
    {
      argv: ["zpool", "list", "-H", "-p", ...POOL_COLUMNS, "fusepool"],
      result: { code: 2, stderr: usage },
    },
    {
      argv: ["zpool", "list", "-H", ...POOL_COLUMNS, "fusepool"],
      result: { stdout: "fusepool\tONLINE\t2.98G\t130K\t2.98G\n" },
      check: (o) => assert.equal(o.allowFailure, true),
    },
    // second call: straight to the fallback
    {
      argv: ["zpool", "list", "-H", ...POOL_COLUMNS, "fusepool"],
      result: { stdout: "fusepool\tONLINE\t2.98G\t1M\t2.97G\n" },
    },
    // an unknown pool: undefined, no error
    {
      argv: ["zpool", "list", "-H", ...POOL_COLUMNS, "nope"],
      result: { code: 1, stderr: "cannot open 'nope': no such pool\n" },
    },
  ]);
  const zfs = new Zfs(fake);
  const first = await zfs.poolStatus("fusepool");
  assert.equal(first?.health, "ONLINE");
  assert.equal(first?.allocated, 133120);
  const second = await zfs.poolStatus("fusepool");
  assert.equal(second?.allocated, 1024 * 1024);
  assert.equal(await zfs.poolStatus("nope"), undefined);
  fake.assertDone();
  assert.equal(fake.calls.length, 4);
});

Deno.test("zfs: poolStatus of a missing pool on OpenZFS does not fall back", async () => {
  const fake = new FakeRunner([
    {
      argv: ["zpool", "list", "-H", "-p", ...POOL_COLUMNS, "nope"],
      result: { code: 1, stderr: "cannot open 'nope': no such pool\n" },
    },
    // the dialect was not learnt: -p is tried again
    {
      argv: ["zpool", "list", "-H", "-p", ...POOL_COLUMNS, "zvpg_pool"],
      result: { stdout: "zvpg_pool\tONLINE\t100\t10\t90\n" },
    },
  ]);
  const zfs = new Zfs(fake);
  assert.equal(await zfs.poolStatus("nope"), undefined);
  assert.equal((await zfs.poolStatus("zvpg_pool"))?.free, 90);
  fake.assertDone();
});

Deno.test("zfs: available() reports the zpool answer", async () => {
  const fake = new FakeRunner([
    {
      argv: ["zpool", "list", "-H", "-o", "name"],
      result: { stdout: "zvpg_pool\n" },
      check: (o) => {
        assert.equal(o.allowFailure, true);
        assert.ok((o.timeoutMs ?? 0) > 0);
      },
    },
    {
      argv: ["zpool", "list", "-H", "-o", "name"],
      result: {
        code: 1,
        stderr:
          "connect: Connection refused\nPlease make sure that the zfs-fuse daemon is running.\n",
      },
    },
  ]);
  const zfs = new Zfs(fake);
  assert.deepEqual(await zfs.available(), { ok: true, detail: "zvpg_pool" });
  const down = await zfs.available();
  assert.equal(down.ok, false);
  assert.match(down.detail, /zfs-fuse daemon/);
  fake.assertDone();
});

Deno.test("zfs: pool and dataset commands build exact argv", async () => {
  const fake = new FakeRunner([
    { argv: ["zpool", "create", "-m", "none", "tpool", "/var/lib/zvpg/tpool.img"] },
    { argv: ["zpool", "import", "-d", "/var/lib/zvpg", "tpool"] },
    {
      argv: ["zpool", "import", "-d", "/var/lib/zvpg", "gone"],
      result: { code: 1, stderr: "cannot import 'gone': no such pool available\n" },
    },
    { argv: ["zpool", "export", "tpool"] },
    { argv: ["zpool", "destroy", "-f", "tpool"] },
    { argv: ["zfs", "create", "-o", "mountpoint=/m/data", "-o", "zvpg:branch=main", "tpool/data"] },
    { argv: ["zfs", "create", "tpool/clones"] },
    {
      argv: [
        "zfs",
        "clone",
        "-o",
        "mountpoint=/m/clones/feature_sa",
        "-o",
        "zvpg:branch=feature/a",
        "-o",
        "zvpg:message=two words; $(not a shell)",
        "tpool/data@base",
        "tpool/clones/feature_sa",
      ],
    },
    {
      argv: [
        "zfs",
        "snapshot",
        "-o",
        "zvpg:message=hello world",
        "-o",
        "zvpg:taken=2026-11-24T11:33:23.150Z",
        "tpool/data@base",
      ],
    },
    { argv: ["zfs", "snapshot", "tpool/data@bare"] },
    { argv: ["zfs", "set", "zvpg:state=running", "tpool/clones/x"] },
    { argv: ["zfs", "set", "zvpg:port=6002", "tpool/clones/x"] },
    { argv: ["zfs", "inherit", "zvpg:pid", "tpool/clones/x"] },
    { argv: ["zfs", "rollback", "tpool/data@base"] },
    { argv: ["zfs", "promote", "tpool/clones/x"] },
    { argv: ["zfs", "list", "-H", "-o", "name", "tpool/data"], result: { stdout: "tpool/data\n" } },
    {
      argv: ["zfs", "list", "-H", "-o", "name", "tpool/nope"],
      result: { code: 1, stderr: "cannot open 'tpool/nope': dataset does not exist\n" },
    },
    { argv: ["zfs", "destroy", "tpool/data@base"] },
    { argv: ["zfs", "destroy", "-r", "tpool/clones/x"] },
  ]);
  const zfs = new Zfs(fake);
  await zfs.createPool("tpool", ["/var/lib/zvpg/tpool.img"]);
  assert.equal(await zfs.importPool("tpool", "/var/lib/zvpg"), true);
  assert.equal(await zfs.importPool("gone", "/var/lib/zvpg"), false);
  await zfs.exportPool("tpool");
  await zfs.destroyPool("tpool");
  await zfs.create("tpool/data", { mountpoint: "/m/data", "zvpg:branch": "main" });
  await zfs.create("tpool/clones");
  await zfs.clone("tpool/data@base", "tpool/clones/feature_sa", {
    mountpoint: "/m/clones/feature_sa",
    "zvpg:branch": "feature/a",
    "zvpg:message": "two words; $(not a shell)",
  });
  await zfs.snapshot("tpool/data@base", {
    "zvpg:message": "hello world",
    "zvpg:taken": "2026-11-24T11:33:23.150Z",
  });
  await zfs.snapshot("tpool/data@bare");
  await zfs.set("tpool/clones/x", { "zvpg:state": "running", "zvpg:port": "6002" });
  await zfs.set("tpool/clones/x", {});
  await zfs.inherit("tpool/clones/x", "zvpg:pid");
  await zfs.rollback("tpool/data@base");
  await zfs.promote("tpool/clones/x");
  assert.equal(await zfs.exists("tpool/data"), true);
  assert.equal(await zfs.exists("tpool/nope"), false);
  await zfs.destroy("tpool/data@base");
  await zfs.destroy("tpool/clones/x", { recursive: true });
  fake.assertDone();
});

Deno.test("zfs: destroy retries while the dataset is busy, then succeeds", async () => {
  const busy = {
    argv: ["zfs", "destroy", "-r", "tpool/clones/x"],
    result: { code: 1, stderr: "cannot destroy 'tpool/clones/x': dataset is busy\n" },
  };
  const fake = new FakeRunner([busy, busy, { argv: busy.argv }]);
  const started = Date.now();
  await new Zfs(fake).destroy("tpool/clones/x", { recursive: true });
  fake.assertDone();
  assert.ok(Date.now() - started >= 300, "it waits between tries");
});

Deno.test("zfs: destroy rethrows errors other than busy at once", async () => {
  const fake = new FakeRunner([
    {
      argv: ["zfs", "destroy", "tpool/data@s"],
      result: {
        code: 1,
        stderr: "cannot destroy 'tpool/data@s': snapshot has dependent clones\n",
      },
    },
  ]);
  await assert.rejects(new Zfs(fake).destroy("tpool/data@s"), (e: unknown) => {
    assert.ok(e instanceof CommandFailedError);
    assert.equal(e.program, "zfs");
    assert.equal(e.code, 1);
    assert.match(e.stderr, /dependent clones/);
    return true;
  });
  fake.assertDone();
});

Deno.test("zfs: mount treats 'already mounted' as success and fails otherwise", async () => {
  const fake = new FakeRunner([
    { argv: ["zfs", "mount", "tpool/data"] },
    {
      argv: ["zfs", "mount", "tpool/data"],
      result: { code: 1, stderr: "cannot mount 'tpool/data': filesystem already mounted\n" },
      check: (o) => assert.equal(o.allowFailure, undefined),
    },
    {
      argv: ["zfs", "mount", "tpool/data"],
      result: { code: 1, stderr: "cannot mount '/m/data': directory is not empty\n" },
    },
  ]);
  const zfs = new Zfs(fake);
  await zfs.mount("tpool/data");
  await zfs.mount("tpool/data");
  await assert.rejects(zfs.mount("tpool/data"), (e: unknown) => {
    assert.ok(e instanceof CommandFailedError);
    assert.deepEqual(e.args, ["mount", "tpool/data"]);
    assert.match(e.message, /directory is not empty/);
    return true;
  });
  fake.assertDone();
});

Deno.test("zfs: getTree reads everything in one call and parses it", async () => {
  const fake = new FakeRunner([
    {
      argv: [
        "zfs",
        "get",
        "-H",
        "-p",
        "-r",
        "-o",
        "name,property,value,source",
        PROPS,
        "zvpg_pool",
      ],
      result: { stdout: OPENZFS_GET },
      check: (o) => assert.equal(o.allowFailure, undefined),
    },
  ]);
  const entries = await new Zfs(fake).getTree(["zvpg_pool"], [
    "used",
    "referenced",
    "origin",
    "creation",
    "zvpg:branch",
  ]);
  assert.equal(entries.length, 8);
  fake.assertDone();
});

Deno.test("zfs: getTree does not repeat 'type' and takes several roots", async () => {
  const fake = new FakeRunner([
    {
      argv: [
        "zfs",
        "get",
        "-H",
        "-p",
        "-r",
        "-o",
        "name,property,value,source",
        "used,type",
        "a",
        "b",
      ],
      result: { stdout: "a\tused\t1\t-\na\ttype\tfilesystem\t-\n" },
    },
  ]);
  assert.deepEqual(await new Zfs(fake).getTree(["a", "b"], ["used", "type"]), [
    { name: "a", type: "filesystem", props: { used: "1", type: "filesystem" } },
  ]);
  fake.assertDone();
});

Deno.test("zfs: getTree returns [] when the root does not exist or no root is given", async () => {
  const argv = [
    "zfs",
    "get",
    "-H",
    "-p",
    "-r",
    "-o",
    "name,property,value,source",
    "type",
    "tpool/data",
  ];
  const fake = new FakeRunner([
    { argv, result: { code: 1, stderr: "cannot open 'tpool/data': dataset does not exist\n" } },
    { argv, result: { code: 1, stderr: "cannot open 'tpool': no such pool\n" } },
    // one root exists: the rest is parsed although zfs exits 1
    {
      argv: [...argv, "tpool/clones"],
      result: {
        code: 1,
        stdout: "tpool/data\ttype\tfilesystem\t-\n",
        stderr: "cannot open 'tpool/clones': dataset does not exist\n",
      },
    },
    { argv, result: { code: 1, stderr: "internal error: out of memory\n" } },
  ]);
  const zfs = new Zfs(fake);
  assert.deepEqual(await zfs.getTree([], ["type"]), []);
  assert.deepEqual(await zfs.getTree(["tpool/data"], ["type"]), []);
  assert.deepEqual(await zfs.getTree(["tpool/data"], ["type"]), []);
  assert.deepEqual(await zfs.getTree(["tpool/data", "tpool/clones"], ["type"]), [
    { name: "tpool/data", type: "filesystem", props: { type: "filesystem" } },
  ]);
  await assert.rejects(zfs.getTree(["tpool/data"], ["type"]), CommandFailedError);
  fake.assertDone();
});

Deno.test("zfs: custom program paths are used", async () => {
  const fake = new FakeRunner([
    { argv: ["/sbin/zfs", "promote", "p/x"] },
    { argv: ["/sbin/zpool", "export", "p"] },
  ]);
  const zfs = new Zfs(fake, "zfs-fuse", "/sbin/zfs", "/sbin/zpool");
  await zfs.promote("p/x");
  await zfs.exportPool("p");
  fake.assertDone();
});

Deno.test("zfs: get reads exactly the names given, or one level below with a depth", async () => {
  const fake = new FakeRunner([
    {
      argv: ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "type,used", "a", "b@s"],
      result: {
        code: 1,
        stdout: "a\ttype\tfilesystem\t-\na\tused\t5\t-\n",
        stderr: "cannot open 'b@s': dataset does not exist\n",
      },
    },
    {
      argv: [
        "zfs",
        "get",
        "-H",
        "-p",
        "-d",
        "1",
        "-o",
        "name,property,value,source",
        "type,zvpg:port",
        "c",
      ],
      result: { stdout: "c/x\ttype\tfilesystem\t-\nc/x\tzvpg:port\t6001\tlocal\n" },
    },
  ]);
  const zfs = new Zfs(fake);
  assert.deepEqual(await zfs.get(["a", "b@s"], ["used"]), [
    { name: "a", type: "filesystem", props: { type: "filesystem", used: "5" } },
  ]);
  assert.deepEqual(await zfs.get(["c"], ["type", "zvpg:port"], 1), [
    { name: "c/x", type: "filesystem", props: { type: "filesystem", "zvpg:port": "6001" } },
  ]);
  fake.assertDone();
});

Deno.test("Zfs.set on OpenZFS: every property in one atomic call; none at all for none", async () => {
  const fake = new FakeRunner([
    {
      argv: ["zfs", "set", "zvpg:state=resetting", "zvpg:pid=42", "zvpg:resume=running", "p/c/x"],
    },
  ]);
  const zfs = new Zfs(fake, "openzfs");
  await zfs.set("p/c/x", {
    "zvpg:state": "resetting",
    "zvpg:pid": "42",
    "zvpg:resume": "running",
  });
  await zfs.set("p/c/x", {});
  fake.assertDone();
});

Deno.test("zfs: sendToFile, receiveStream and guid say exactly this to zfs", async () => {
  const seen: { stdoutFile?: string; stdinFile?: string }[] = [];
  const check = (o: { stdoutFile?: string; stdinFile?: string }) =>
    seen.push({ stdoutFile: o.stdoutFile, stdinFile: o.stdinFile });
  const dir = await Deno.makeTempDir({ prefix: "zvpg-unit-" });
  try {
    const fake = new FakeRunner([
      { argv: ["zfs", "send", "p/data@s1"], result: { stdout: "full" }, check },
      { argv: ["zfs", "send", "-i", "p/data@s1", "p/data@s2"], result: { stdout: "inc" }, check },
      { argv: ["zfs", "receive", "-u", "p/remotes/origin/main@s1"], check },
      {
        argv: ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "type,guid", "p/x@s"],
        result: { stdout: "p/x@s\ttype\tsnapshot\t-\np/x@s\tguid\t1234567890123\t-\n" },
      },
      {
        argv: ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "type,guid", "p/y@s"],
        result: { code: 1, stderr: "cannot open 'p/y@s': dataset does not exist" },
      },
    ]);
    const zfs = new Zfs(fake);
    await zfs.sendToFile("p/data@s1", `${dir}/full`);
    await zfs.sendToFile("p/data@s2", `${dir}/inc`, { from: "p/data@s1" });
    await zfs.receiveStream("p/remotes/origin/main@s1", ReadableStream.from([]));
    assert.equal(await zfs.guid("p/x@s"), "1234567890123");
    assert.equal(await zfs.guid("p/y@s"), undefined);
    fake.assertDone();
    assert.deepEqual(seen, [
      { stdoutFile: `${dir}/full`, stdinFile: undefined },
      { stdoutFile: `${dir}/inc`, stdinFile: undefined },
      { stdoutFile: undefined, stdinFile: undefined },
    ]);
    // a bare dataset is no target: its stream would name what it makes
    await assert.rejects(
      () => zfs.receiveStream("p/remotes/origin/main", ReadableStream.from([])),
      /is no snapshot name/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/inc`), "inc");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("zfs: holds counts them (userrefs) and, on OpenZFS, lists their tags", async () => {
  const get = ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", "type,userrefs"];
  const answer = [
    "p/r@a\ttype\tsnapshot\t-",
    "p/r@a\tuserrefs\t2\t-",
    "p/r@b\ttype\tsnapshot\t-",
    "p/r@b\tuserrefs\t0\t-",
  ].join("\n") + "\n";
  const openzfs = new FakeRunner([
    { argv: [...get, "p/r@a", "p/r@b"], result: { stdout: answer } },
    {
      argv: ["zfs", "holds", "-H", "p/r@a"],
      result: { stdout: "p/r@a\tzvpg-remote-usb\tMon Dec  7 11:00 2026\np/r@a\tkeep\tMon\n" },
    },
  ]);
  const held = await new Zfs(openzfs, "openzfs").holds(["p/r@a", "p/r@b"]);
  assert.deepEqual([...held], [["p/r@a", { count: 2, tags: ["zvpg-remote-usb", "keep"] }]]);
  openzfs.assertDone();
  // zfs-fuse's `zfs holds` needs a Python helper Debian does not ship: the count only
  const fuse = new FakeRunner([{ argv: [...get, "p/r@a", "p/r@b"], result: { stdout: answer } }]);
  const counted = await new Zfs(fuse).holds(["p/r@a", "p/r@b"]);
  assert.deepEqual([...counted], [["p/r@a", { count: 2, tags: null }]]);
  fuse.assertDone();
});

Deno.test("Zfs.sendSize(): OpenZFS's send -nP size line; none asked of zfs-fuse", async () => {
  const openzfs = new FakeRunner([
    {
      argv: ["zfs", "send", "-nP", "-i", "p/d@a", "p/d@b"],
      result: { stdout: "incremental\tp/d@a\tp/d@b\t4096\nsize\t4096\n" },
    },
  ]);
  assert.equal(await new Zfs(openzfs, "openzfs").sendSize("p/d@b", { from: "p/d@a" }), 4096);
  openzfs.assertDone();
  const fuse = new FakeRunner([]);
  assert.equal(await new Zfs(fuse, "zfs-fuse").sendSize("p/d@b"), undefined);
  fuse.assertDone();
});
