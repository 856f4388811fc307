/**
 * The branch service through the strict fake runner: create (with port retry, mount
 * and rollback), start, stop, delete, info and list. PostgreSQL readiness is answered
 * by a stub pinger, so no server is needed.
 */
import { isNameConflict } from "../../src/ops/branch_container.ts";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type PingResult, PostgresProbe } from "../../src/adapters/postgres.ts";
import {
  AlreadyExistsError,
  BranchNotFoundError,
  CommandFailedError,
  DependencyError,
  InvalidNameError,
  PostgresStartError,
  StateError,
  ZvpgError,
} from "../../src/errors.ts";
import { type ExpectedCall, FakeRunner } from "../../src/runtime/fake_runner.ts";
import { BranchService } from "../../src/workflows/branch_service.ts";
import { Phases } from "../../src/runtime/phases.ts";
import type { Context } from "../../src/context.ts";
import { createContext } from "../../src/cli/session.ts";
import {
  branchGetCall,
  claimAndClone,
  dockerPsCall,
  dockerPsLine,
  type FixtureEntry,
  freePortRange,
  indexCall,
  inspectStateCall,
  NOW,
  portClaimCall,
  portReleaseCall,
  runArgv,
  slotsCall,
  snapshotNamedCall,
  snapshotReleaseCall,
  testConfig,
  treeMounted,
  withTempDir,
  zfsGetCall,
  zfsGetOutput,
} from "./helpers.ts";

const PID = String(Deno.pid);

function mainDataset(state = "stopped"): FixtureEntry {
  return {
    name: "tpool/data",
    props: {
      type: "filesystem",
      used: "42151936",
      createtxg: "10",
      "zvpg:branch": "main",
      "zvpg:state": state,
      "zvpg:port": "6001",
    },
  };
}

const BASELINE: FixtureEntry = {
  name: "tpool/data@baseline",
  props: { type: "snapshot", used: "221184", createtxg: "20", "zvpg:message": "base" },
};

function branchDataset(
  name: string,
  encoded: string,
  props: Record<string, string> = {},
): FixtureEntry {
  return {
    name: `tpool/clones/${encoded}`,
    props: {
      type: "filesystem",
      used: "331776",
      createtxg: "100",
      origin: "tpool/data@baseline",
      "zvpg:branch": name,
      "zvpg:parent": "main",
      "zvpg:state": "stopped",
      "zvpg:created": NOW.toISOString(),
      ...props,
    },
  };
}

/**
 * What a create with `--from` reads first: the default branch's dataset and the new one,
 * the branch slots, the pool's containers, then the snapshot by name on every slot.
 */
function createReads(
  entries: FixtureEntry[],
  dataset: string,
  from = "baseline",
  ps = "",
): ExpectedCall[] {
  return [
    branchGetCall(entries, [dataset]),
    indexCall(),
    dockerPsCall(ps),
    slotsCall(entries),
    snapshotNamedCall(entries, from),
  ];
}

/** The narrow read of one branch and its own containers (stop, info, the end of a create). */
function branchReads(entries: FixtureEntry[], dataset: string, branch: string, ps = "") {
  return [branchGetCall(entries, [dataset]), dockerPsCall(ps, branch)];
}

interface Setup {
  ctx: Context;
  fake: FakeRunner;
  start: number;
}

/**
 * A context on an empty fake runner, a free port range, a fixed clock and a stub
 * readiness probe. Expected calls are added with `fake.expect()` once the context is
 * there (they need its paths and ports).
 */
function setup(dir: string, ping: PingResult = "ready"): Setup {
  const start = freePortRange(4);
  const fake = new FakeRunner();
  const config = testConfig(dir, {
    branchPortStart: start,
    branchPortEnd: start + 3,
    readyTimeoutSeconds: 2,
  });
  const ctx = createContext(config, fake);
  ctx.mounts = treeMounted(ctx.layout);
  ctx.now = () => NOW;
  ctx.pg = new PostgresProbe(() => Promise.resolve(ping));
  return { ctx, fake, start };
}

Deno.test("branch create: clone, mount, container, port, ready, running", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake, start } = setup(dir);
    const name = "feature/auth";
    const dataset = "tpool/clones/feature_sauth";
    const container = `zvpg_feature_sauth_${start}`;
    const pgdata = ctx.layout.pgdata(name);
    const after = [
      mainDataset(),
      BASELINE,
      branchDataset(name, "feature_sauth", {
        "zvpg:state": "running",
        "zvpg:port": String(start),
        mountpoint: ctx.layout.branchMount(name),
      }),
    ];
    fake.expect(
      ...createReads([mainDataset(), BASELINE], dataset),
      ...claimAndClone(ctx, name, start, "tpool/data@baseline"),
      // the data directory is missing (not mounted): zvpg mounts the dataset; the rest is
      // expected once the "mount" made the directory, whose owner the container runs as
      {
        argv: ["zfs", "mount", dataset],
        check: () => {
          mkdirSync(pgdata, { recursive: true });
          fake.expect(
            { argv: runArgv(ctx, name, start), result: { stdout: "f00d\n" } },
            { argv: ["zfs", "set", "zvpg:state=running", dataset] },
            ...branchReads(
              after,
              dataset,
              name,
              dockerPsLine({ branch: name, port: start, name: container }) + "\n",
            ),
          );
        },
      },
    );
    const service = new BranchService(ctx);
    const phases = new Phases();
    const record = await service.create(name, { from: "baseline" }, phases);
    fake.assertDone();
    assert.equal(record.name, name);
    assert.equal(record.status, "running");
    assert.equal(record.port, start);
    assert.equal(record.origin, "baseline");
    assert.equal(record.container?.name, container);
    // config copies were prepared for the container
    const conf = join(ctx.layout.runtimeDir(name), "conf");
    for (const f of ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"]) {
      assert.ok(existsSync(join(conf, f)), f);
      assert.equal(statSync(join(conf, f)).mode & 0o777, 0o600);
    }
    assert.ok(existsSync(join(ctx.layout.runtimeDir(name), "sock")));
    // in the order they end: the JSON of --timings lists them so
    const timings = phases.done();
    assert.deepEqual(Object.keys(timings), ["snapshot", "clone", "container", "ready", "total"]);
    for (const ms of Object.values(timings)) assert.equal(typeof ms, "number");
  });
});

Deno.test("branch create: a port taken at bind time moves to the next one", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake, start } = setup(dir);
    const name = "dev";
    const dataset = "tpool/clones/dev";
    mkdirSync(ctx.layout.pgdata(name), { recursive: true });
    fake.expect(
      ...createReads([mainDataset(), BASELINE], dataset),
      ...claimAndClone(ctx, name, start, "tpool/data@baseline"),
      {
        argv: runArgv(ctx, name, start),
        result: {
          code: 125,
          stderr:
            `docker: Error response from daemon: driver failed programming external connectivity on endpoint zvpg_dev_${start}: Bind for 127.0.0.1:${start} failed: port is already allocated.\n`,
        },
      },
      { argv: ["docker", "rm", "-f", "-v", `zvpg_dev_${start}`] },
      { argv: runArgv(ctx, name, start + 1), result: { stdout: "beef\n" } },
      portClaimCall(dataset, start + 1),
      { argv: ["zfs", "set", `zvpg:port=${start + 1}`, dataset] },
      { argv: ["zfs", "set", "zvpg:state=running", dataset] },
      ...branchReads(
        [
          mainDataset(),
          BASELINE,
          branchDataset(name, "dev", { "zvpg:state": "running", "zvpg:port": String(start + 1) }),
        ],
        dataset,
        name,
      ),
    );
    const record = await new BranchService(ctx).create(name, { from: "baseline" });
    fake.assertDone();
    // no container in the final listing: nothing is served, the port is only the last one
    assert.equal(record.port, null);
    assert.equal(record.lastPort, start + 1);
  });
});

Deno.test("branch create: a container left behind under its name is replaced, once", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake, start } = setup(dir);
    const name = "dev";
    const dataset = "tpool/clones/dev";
    mkdirSync(ctx.layout.pgdata(name), { recursive: true });
    fake.expect(
      ...createReads([mainDataset(), BASELINE], dataset),
      ...claimAndClone(ctx, name, start, "tpool/data@baseline"),
      {
        argv: runArgv(ctx, name, start),
        result: {
          code: 125,
          stderr:
            `docker: Error response from daemon: Conflict. The container name "/zvpg_dev_${start}" is already in use by container "f00d". You have to remove (or rename) that container to be able to reuse that name.\n`,
        },
      },
      { argv: ["docker", "rm", "-f", "-v", `zvpg_dev_${start}`] },
      { argv: runArgv(ctx, name, start), result: { stdout: "beef\n" } },
      { argv: ["zfs", "set", "zvpg:state=running", dataset] },
      ...branchReads(
        [
          mainDataset(),
          BASELINE,
          branchDataset(name, "dev", { "zvpg:state": "running", "zvpg:port": String(start) }),
        ],
        dataset,
        name,
      ),
    );
    const record = await new BranchService(ctx).create(name, { from: "baseline" });
    fake.assertDone();
    assert.equal(record.lastPort, start);
  });
});

Deno.test("isNameConflict: docker, podman and nerdctl wording; a taken port is not one", () => {
  const failed = (stderr: string) => new CommandFailedError("docker", ["run"], 125, stderr);
  assert.ok(isNameConflict(failed('Conflict. The container name "/zvpg_a_1" is already in use')));
  assert.ok(isNameConflict(failed('the container name "zvpg_a_1" is already in use by 12ab')));
  assert.ok(isNameConflict(failed('name-store error: name "zvpg_a_1" is already used by ID "x"')));
  assert.ok(!isNameConflict(failed("listen tcp 127.0.0.1:7000: bind: address already in use")));
  assert.ok(!isNameConflict(failed("Bind for 127.0.0.1:7000 failed: port is already allocated")));
  assert.ok(!isNameConflict(new Error('container name "x" is already in use')));
});

Deno.test("branch create: a failed container run removes what was made", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake, start } = setup(dir);
    const name = "dev";
    mkdirSync(ctx.layout.pgdata(name), { recursive: true });
    fake.expect(
      ...createReads([mainDataset(), BASELINE], "tpool/clones/dev"),
      ...claimAndClone(ctx, name, start, "tpool/data@baseline"),
      {
        argv: runArgv(ctx, name, start),
        result: {
          code: 126,
          stderr: "docker: Error response from daemon: OCI runtime create: permission denied.\n",
        },
      },
      { argv: ["docker", "rm", "-f", "-v", `zvpg_dev_${start}`] },
      // rollback, under the lock
      dockerPsCall("", "dev"),
      { argv: ["zfs", "destroy", "-r", "tpool/clones/dev"] },
    );
    await assert.rejects(
      new BranchService(ctx).create(name, { from: "baseline" }),
      (e: unknown) => {
        assert.ok(e instanceof CommandFailedError);
        assert.equal(e.code, 126);
        return true;
      },
    );
    fake.assertDone();
    assert.equal(existsSync(ctx.layout.runtimeDir(name)), false);
  });
});

Deno.test("branch create: a missing image is reported as such and rolled back", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake, start } = setup(dir);
    mkdirSync(ctx.layout.pgdata("dev"), { recursive: true });
    fake.expect(
      ...createReads([mainDataset(), BASELINE], "tpool/clones/dev"),
      ...claimAndClone(ctx, "dev", start, "tpool/data@baseline"),
      {
        argv: runArgv(ctx, "dev", start),
        result: { code: 125, stderr: "Unable to find image 'postgres:17' locally\n" },
      },
      { argv: ["docker", "rm", "-f", "-v", `zvpg_dev_${start}`] },
      dockerPsCall("", "dev"),
      { argv: ["zfs", "destroy", "-r", "tpool/clones/dev"] },
    );
    await assert.rejects(
      new BranchService(ctx).create("dev", { from: "baseline" }),
      (e: unknown) => {
        assert.ok(e instanceof ZvpgError);
        assert.equal(e.message, "image 'postgres:17' is not available to docker");
        return true;
      },
    );
    fake.assertDone();
  });
});

Deno.test("branch create: PostgreSQL that dies at start-up is reported with its log", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake, start } = setup(dir, "unreachable");
    const container = `zvpg_dev_${start}`;
    mkdirSync(ctx.layout.pgdata("dev"), { recursive: true });
    fake.expect(
      ...createReads([mainDataset(), BASELINE], "tpool/clones/dev"),
      ...claimAndClone(ctx, "dev", start, "tpool/data@baseline"),
      { argv: runArgv(ctx, "dev", start), result: { stdout: "f00d\n" } },
      // restarting: the engine's restart policy will run it again, the code is this run's
      inspectStateCall(container, { stdout: "restarting 1\n" }),
      {
        argv: ["docker", "logs", "--tail", "200", container],
        result: { stderr: 'LOG:  starting\nFATAL:  unrecognized parameter "shared_bufers"\n' },
      },
      dockerPsCall(
        dockerPsLine({ branch: "dev", port: start, name: container, state: "exited" }),
        "dev",
      ),
      { argv: ["docker", "rm", "-f", "-v", container] },
      { argv: ["zfs", "destroy", "-r", "tpool/clones/dev"] },
    );
    await assert.rejects(
      new BranchService(ctx).create("dev", { from: "baseline" }),
      (e: unknown) => {
        assert.ok(e instanceof PostgresStartError);
        // at once, with the exit code: not "did not accept connections within 60s"
        assert.match(e.message, /^PostgreSQL of branch 'dev' exited with code 1 [\d.]+s after/);
        assert.match(e.message, /LOG: {2}starting \| FATAL: {2}unrecognized parameter/);
        assert.ok(!e.message.includes("\n"));
        // the container is removed: the hint names the file its log is kept in
        const kept = join(ctx.config.logDir, `${container}.log`);
        assert.ok(e.hint?.includes(`its log is kept in ${kept}`), e.hint);
        assert.ok(!e.hint?.includes("docker logs"), e.hint);
        assert.match(
          readFileSync(kept, "utf8"),
          /FATAL: {2}unrecognized parameter "shared_bufers"/,
        );
        assert.equal(statSync(kept).mode & 0o777, 0o600);
        return true;
      },
    );
    fake.assertDone();
  });
});

Deno.test("branch create: refused for an existing name, a bad name, an unknown snapshot", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    const existing = [mainDataset(), BASELINE, branchDataset("dev", "dev")];
    fake.expect(
      // the new branch, its parent (the default branch), the slots and the containers
      branchGetCall(existing, ["tpool/clones/dev"]),
      indexCall(),
      dockerPsCall(""),
      slotsCall(existing),
      ...createReads(existing, "tpool/clones/x", "nope"),
    );
    const service = new BranchService(ctx);
    await assert.rejects(service.create("dev"), (e: unknown) => {
      assert.ok(e instanceof AlreadyExistsError);
      assert.equal(e.message, "branch 'dev' already exists");
      return true;
    });
    await assert.rejects(service.create("x", { from: "nope" }), /snapshot 'nope' does not exist/);
    for (const bad of ["-x", "a b", "a;b", "x/", ""]) {
      await assert.rejects(service.create(bad), InvalidNameError);
    }
    await assert.rejects(service.create("ok", { from: "pool/fs@snap" }), InvalidNameError);
    await assert.rejects(service.create("ok", { parent: "a..b" }), InvalidNameError);
    fake.assertDone();
  });
});

Deno.test("branch start: a stopped branch restarts on its previous port", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake, start } = setup(dir);
    const port = start + 2;
    const entries = (state: string) => [
      mainDataset(),
      BASELINE,
      branchDataset("dev", "dev", { "zvpg:state": state, "zvpg:port": String(port) }),
    ];
    mkdirSync(ctx.layout.pgdata("dev"), { recursive: true });
    fake.expect(
      branchGetCall(entries("stopped"), ["tpool/clones/dev"]),
      indexCall(),
      dockerPsCall(""),
      slotsCall(entries("stopped")),
      { argv: runArgv(ctx, "dev", port), result: { stdout: "f00d\n" } },
      portClaimCall("tpool/clones/dev", port),
      { argv: ["zfs", "set", `zvpg:port=${port}`, "tpool/clones/dev"] },
      { argv: ["zfs", "set", "zvpg:runtime=docker", "tpool/clones/dev"] },
      { argv: ["zfs", "set", "zvpg:state=running", "tpool/clones/dev"] },
      ...branchReads(
        entries("running"),
        "tpool/clones/dev",
        "dev",
        dockerPsLine({ branch: "dev", port, name: `zvpg_dev_${port}` }),
      ),
    );
    const record = await new BranchService(ctx).start("dev");
    assert.equal(record.port, port);
    assert.equal(record.status, "running");
    fake.assertDone();
  });
});

Deno.test("branch start: a running branch is refused", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    fake.expect(
      branchGetCall([mainDataset("running")]),
      indexCall(),
      dockerPsCall(dockerPsLine({ branch: "main", port: 6001, name: "zvpg_main_6001" })),
      slotsCall([mainDataset("running")]),
    );
    await assert.rejects(new BranchService(ctx).start("main"), (e: unknown) => {
      assert.ok(e instanceof StateError);
      assert.equal(e.message, "branch 'main' is already running on port 6001");
      return true;
    });
    fake.assertDone();
  });
});

Deno.test("branch stop: records the intent, then stops and removes the container", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    const container = "zvpg_feature_sauth_6002";
    fake.expect(
      ...branchReads(
        [
          mainDataset(),
          BASELINE,
          branchDataset("feature/auth", "feature_sauth", {
            "zvpg:state": "running",
            "zvpg:port": "6002",
          }),
        ],
        "tpool/clones/feature_sauth",
        "feature/auth",
        dockerPsLine({ branch: "feature/auth", port: 6002, name: container }),
      ),
      { argv: ["zfs", "set", "zvpg:state=stopped", "tpool/clones/feature_sauth"] },
      portReleaseCall("tpool/clones/feature_sauth"),
      { argv: ["docker", "stop", "-t", "30", container] },
      { argv: ["docker", "rm", "-f", "-v", container] },
    );
    assert.equal(await new BranchService(ctx).stop("feature/auth"), true);
    fake.assertDone();
  });
});

Deno.test("branch stop: a stopped branch without container makes no change", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    fake.expect(...branchReads([mainDataset("stopped")], "tpool/data", "main"));
    assert.equal(await new BranchService(ctx).stop("main"), false);
    fake.assertDone();
  });
});

Deno.test("branch stop: refused while the branch is being created", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    fake.expect(
      ...branchReads(
        [
          mainDataset(),
          BASELINE,
          branchDataset("dev", "dev", { "zvpg:state": "creating", "zvpg:pid": PID }),
        ],
        "tpool/clones/dev",
        "dev",
      ),
    );
    await assert.rejects(new BranchService(ctx).stop("dev"), /branch 'dev' is being created/);
    fake.assertDone();
  });
});

Deno.test("branch delete: the default branch is refused", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    fake.expect(zfsGetCall(zfsGetOutput([mainDataset()])), dockerPsCall(""));
    await assert.rejects(new BranchService(ctx).delete("main"), (e: unknown) => {
      assert.ok(e instanceof StateError);
      assert.match(e.message, /default branch and cannot be deleted/);
      return true;
    });
    fake.assertDone();
  });
});

Deno.test("branch delete: a branch whose snapshots have dependents is refused", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    fake.expect(
      zfsGetCall(zfsGetOutput([
        mainDataset(),
        BASELINE,
        branchDataset("dev", "dev"),
        { name: "tpool/clones/dev@s", props: { type: "snapshot", createtxg: "200" } },
        branchDataset("sub", "sub", { origin: "tpool/clones/dev@s", createtxg: "300" }),
      ])),
      dockerPsCall(""),
    );
    await assert.rejects(new BranchService(ctx).delete("dev"), (e: unknown) => {
      assert.ok(e instanceof DependencyError);
      assert.deepEqual(e.dependents, ["s", "sub"]);
      assert.equal(
        e.message,
        "branch 'dev' was not deleted: it holds snapshot(s) 's', and branch(es) 'sub' depend on its snapshots",
      );
      return true;
    });
    fake.assertDone();
  });
});

Deno.test("branch delete: a snapshot someone named is refused; an automatic one goes", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    const named = { name: "tpool/clones/dev@milestone-1", props: { type: "snapshot" } };
    const auto = {
      name: "tpool/data@auto-1",
      props: { type: "snapshot", createtxg: "90", "zvpg:auto": "dev" },
    };
    const dev = branchDataset("dev", "dev", { origin: "tpool/data@auto-1" });
    fake.expect(zfsGetCall(zfsGetOutput([mainDataset(), auto, dev, named])), dockerPsCall(""));
    await assert.rejects(new BranchService(ctx).delete("dev"), (e: unknown) => {
      assert.ok(e instanceof DependencyError);
      assert.match(e.message, /it holds snapshot\(s\) 'milestone-1'/);
      return true;
    });
    fake.expect(
      zfsGetCall(zfsGetOutput([mainDataset(), auto, dev, named])),
      dockerPsCall(""),
      { argv: ["zfs", "set", "zvpg:state=deleting", "tpool/clones/dev"] },
      { argv: ["zfs", "set", `zvpg:pid=${PID}`, "tpool/clones/dev"] },
      portReleaseCall("tpool/clones/dev"),
      dockerPsCall("", "dev"),
      { argv: ["zfs", "destroy", "-r", "tpool/clones/dev"] },
      { argv: ["zfs", "destroy", "tpool/data@auto-1"] },
      snapshotReleaseCall("milestone-1"),
      snapshotReleaseCall("auto-1"),
    );
    assert.deepEqual(await new BranchService(ctx).delete("dev", { force: true }), {
      branch: "dev",
      removedBranches: [],
      removedSnapshots: ["milestone-1", "auto-1"],
      removedDatasets: [],
    });
    fake.assertDone();
  });
});

Deno.test("branch delete: marks, stops, destroys with snapshots", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    const container = "zvpg_dev_6002";
    const line = dockerPsLine({ branch: "dev", port: 6002, name: container });
    fake.expect(
      zfsGetCall(zfsGetOutput([
        mainDataset(),
        BASELINE,
        branchDataset("dev", "dev", { "zvpg:state": "running", "zvpg:port": "6002" }),
      ])),
      dockerPsCall(line),
      { argv: ["zfs", "set", "zvpg:state=deleting", "tpool/clones/dev"] },
      { argv: ["zfs", "set", `zvpg:pid=${PID}`, "tpool/clones/dev"] },
      portReleaseCall("tpool/clones/dev"),
      dockerPsCall(line, "dev"),
      { argv: ["docker", "stop", "-t", "30", container] },
      { argv: ["docker", "rm", "-f", "-v", container] },
      { argv: ["zfs", "destroy", "-r", "tpool/clones/dev"] },
    );
    assert.deepEqual(await new BranchService(ctx).delete("dev"), {
      branch: "dev",
      removedBranches: [],
      removedSnapshots: [],
      removedDatasets: [],
    });
    fake.assertDone();
  });
});

Deno.test("branch delete: mounts the sockets dataset before anything changes, and removes the runtime dir from it", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    const mounted = treeMounted(ctx.layout);
    // unmounted (the ZFS service restarted): the mountpoint is a plain empty directory
    let socketsMounted = false;
    ctx.mounts = {
      entries: () =>
        mounted.entries().filter((e) => socketsMounted || e.source !== ctx.layout.socketsDataset),
      stat: mounted.stat,
    };
    const runtimeDir = ctx.layout.runtimeDir("dev");
    fake.expect(
      zfsGetCall(zfsGetOutput([
        mainDataset(),
        BASELINE,
        branchDataset("dev", "dev", { "zvpg:state": "stopped", "zvpg:port": "6002" }),
      ])),
      dockerPsCall(""),
      {
        argv: ["zfs", "mount", "tpool/sockets"],
        during: () => {
          socketsMounted = true;
          mkdirSync(join(runtimeDir, "sock"), { recursive: true });
        },
      },
      { argv: ["zfs", "set", "zvpg:state=deleting", "tpool/clones/dev"] },
      { argv: ["zfs", "set", `zvpg:pid=${PID}`, "tpool/clones/dev"] },
      portReleaseCall("tpool/clones/dev"),
      dockerPsCall("", "dev"),
      { argv: ["zfs", "destroy", "-r", "tpool/clones/dev"] },
    );
    await new BranchService(ctx).delete("dev");
    fake.assertDone();
    assert.equal(existsSync(runtimeDir), false, "the runtime dir on the dataset is gone");
  });
});

Deno.test("branch delete: refused while a user's dataset is inside, unless forced", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    const entries = zfsGetOutput([
      mainDataset(),
      BASELINE,
      branchDataset("dev", "dev", { "zvpg:state": "stopped", "zvpg:port": "6002" }),
      {
        name: "tpool/clones/dev/mine",
        props: { type: "filesystem" },
        inherited: { "zvpg:branch": "dev", "zvpg:state": "stopped" },
      },
    ]);
    fake.expect(zfsGetCall(entries), dockerPsCall(""));
    await assert.rejects(new BranchService(ctx).delete("dev"), (e: unknown) => {
      assert.ok(e instanceof DependencyError);
      assert.match(
        e.message,
        /branch 'dev' was not deleted: it holds datasets zvpg did not make: tpool\/clones\/dev\/mine/,
      );
      assert.match(e.hint ?? "", /--force/);
      return true;
    });
    fake.assertDone();
    fake.expect(
      zfsGetCall(entries),
      dockerPsCall(""),
      { argv: ["zfs", "set", "zvpg:state=deleting", "tpool/clones/dev"] },
      { argv: ["zfs", "set", `zvpg:pid=${PID}`, "tpool/clones/dev"] },
      portReleaseCall("tpool/clones/dev"),
      dockerPsCall("", "dev"),
      { argv: ["zfs", "destroy", "-r", "tpool/clones/dev"] },
    );
    assert.deepEqual(await new BranchService(ctx).delete("dev", { force: true }), {
      branch: "dev",
      removedBranches: [],
      removedSnapshots: [],
      removedDatasets: ["tpool/clones/dev/mine"],
    });
    fake.assertDone();
  });
});

Deno.test("branch list: one zfs call and one ps call; info reads only its branch", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    const entries = [mainDataset("running"), BASELINE];
    for (let i = 0; i < 40; i++) {
      entries.push(branchDataset(`b${i}`, `b${i}`, { createtxg: String(100 + i) }));
    }
    const ps = dockerPsLine({ branch: "main", port: 6001, name: "zvpg_main_6001" });
    fake.expect(
      zfsGetCall(zfsGetOutput(entries)),
      dockerPsCall(ps),
      ...branchReads(entries, "tpool/clones/b7", "b7"),
    );
    const service = new BranchService(ctx);
    const list = await service.list();
    assert.equal(list.length, 41);
    assert.equal(list[0].name, "main");
    assert.equal(list[0].isDefault, true);
    assert.equal((await service.info("b7")).dataset, "tpool/clones/b7");
    await assert.rejects(service.info("a b"), InvalidNameError);
    fake.assertDone();
  });
});

Deno.test("branch info: an unknown branch is BranchNotFoundError", async () => {
  await withTempDir(async (dir) => {
    const { ctx, fake } = setup(dir);
    fake.expect(...branchReads([mainDataset()], "tpool/clones/nope", "nope"));
    await assert.rejects(new BranchService(ctx).info("nope"), BranchNotFoundError);
    fake.assertDone();
  });
});
