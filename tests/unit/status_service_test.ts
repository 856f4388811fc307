/**
 * `status`: a constant number of external calls however many branches there are.
 */
import assert from "node:assert/strict";
import { PostgresProbe } from "../../src/adapters/postgres.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { createContext } from "../../src/cli/session.ts";
import { StatusService } from "../../src/workflows/status_service.ts";
import { VERSION } from "../../src/version.ts";
import {
  dockerPsCall,
  dockerPsLine,
  type FixtureEntry,
  NOW,
  testConfig,
  withTempDir,
  zfsGetCall,
  zfsGetOutput,
} from "./helpers.ts";

const POOL_ARGV = ["zpool", "list", "-H", "-p", "-o", "name,health,size,allocated,free", "tpool"];
const VERSION_ARGV = ["docker", "version", "--format", "{{.Server.Version}}"];

/** main (running) with one snapshot, and `count` stopped branches cloned from it. */
function entries(count: number): FixtureEntry[] {
  const list: FixtureEntry[] = [
    {
      name: "tpool/data",
      props: {
        type: "filesystem",
        used: "42151936",
        usedbydataset: "41930752",
        usedbysnapshots: "221184",
        createtxg: "10",
        "zvpg:branch": "main",
        "zvpg:state": "running",
        "zvpg:port": "6001",
      },
    },
    {
      name: "tpool/data@baseline",
      props: { type: "snapshot", used: "221184", createtxg: "20" },
    },
    { name: "tpool/clones", props: { type: "filesystem" } },
  ];
  for (let i = 0; i < count; i++) {
    list.push({
      name: `tpool/clones/b${i}`,
      props: {
        type: "filesystem",
        used: "1000",
        usedbydataset: "1000",
        usedbysnapshots: "0",
        createtxg: String(100 + i),
        origin: "tpool/data@baseline",
        "zvpg:branch": `b${i}`,
        "zvpg:state": "stopped",
        "zvpg:created": NOW.toISOString(),
      },
    });
  }
  return list;
}

const MAIN_PS = dockerPsLine({ branch: "main", port: 6001, name: "zvpg_main_6001" }) + "\n";

Deno.test("status system: five calls whatever the number of branches", async () => {
  await withTempDir(async (dir) => {
    for (const count of [0, 3, 100]) {
      const fake = new FakeRunner([
        {
          argv: POOL_ARGV,
          result: { stdout: "tpool\tONLINE\t10737418240\t43306189\t10694112051\n" },
        },
        { argv: VERSION_ARGV, result: { stdout: "20.10.24+dfsg1\n" } },
        zfsGetCall(zfsGetOutput(entries(count))),
        dockerPsCall(MAIN_PS),
        { argv: ["docker", "image", "inspect", "postgres:17"], result: { stdout: "[{}]\n" } },
      ]);
      const ctx = createContext(testConfig(dir), fake);
      const status = await new StatusService(ctx).system();
      fake.assertDone();
      assert.equal(fake.calls.length, 5);
      assert.equal(status.version, VERSION);
      assert.deepEqual(status.pool, {
        name: "tpool",
        health: "ONLINE",
        size: 10737418240,
        allocated: 43306189,
        free: 10694112051,
      });
      assert.deepEqual(status.space, {
        main: 41930752,
        branches: 1000 * count,
        snapshots: 221184,
        total: 41930752 + 1000 * count + 221184,
      });
      assert.deepEqual(status.branches, {
        total: count + 1,
        running: 1,
        stopped: count,
        other: 0,
      });
      assert.equal(status.snapshots, 1);
      assert.deepEqual(status.runtime, {
        name: "docker",
        reachable: true,
        version: "20.10.24+dfsg1",
      });
      assert.deepEqual(status.image, { name: "postgres:17", present: true });
    }
  });
});

Deno.test("status system: an unreachable runtime and a missing pool are reported, not thrown", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([
      { argv: POOL_ARGV, result: { code: 1, stderr: "cannot open 'tpool': no such pool\n" } },
      {
        argv: VERSION_ARGV,
        result: {
          code: 1,
          stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n",
        },
      },
      // no runtime: the inventory skips `ps`, and the image is not inspected
      zfsGetCall(zfsGetOutput(entries(1))),
    ]);
    const ctx = createContext(testConfig(dir), fake);
    const status = await new StatusService(ctx).system();
    fake.assertDone();
    assert.equal(status.pool, null);
    assert.deepEqual(status.runtime, { name: "docker", reachable: false, version: null });
    assert.deepEqual(status.image, { name: "postgres:17", present: null });
    // without containers, main recorded running counts as "missing"
    assert.deepEqual(status.branches, { total: 2, running: 0, stopped: 1, other: 1 });
  });
});

Deno.test("status branches: one zfs call, one ps call, probes only running branches", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([zfsGetCall(zfsGetOutput(entries(20))), dockerPsCall(MAIN_PS)]);
    const ctx = createContext(testConfig(dir), fake);
    const probed: number[] = [];
    ctx.pg = new PostgresProbe((host, port) => {
      assert.equal(host, "127.0.0.1");
      probed.push(port);
      return Promise.resolve("ready");
    });
    const rows = await new StatusService(ctx).branches();
    fake.assertDone();
    assert.deepEqual(probed, [6001]);
    assert.equal(rows.length, 21);
    assert.equal(rows[0].branch.name, "main");
    assert.equal(rows[0].ready, true);
    assert.ok(rows.slice(1).every((r) => r.ready === null));
  });
});

Deno.test("status snapshots: one zfs call", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner([zfsGetCall(zfsGetOutput(entries(5)))]);
    const snapshots = await new StatusService(createContext(testConfig(dir), fake)).snapshots();
    fake.assertDone();
    assert.deepEqual(snapshots.map((s) => [s.name, s.dependents.length]), [["baseline", 5]]);
  });
});
