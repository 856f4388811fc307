/**
 * Layout: every dataset, mount point, container name and file zvpg touches is derived
 * from the configuration, and nothing outside its tree counts as its own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Layout } from "../../src/domain/layout.ts";
import { testConfig, withTempDir } from "./helpers.ts";

Deno.test("layout: the default branch lives on the data dataset", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir);
    const layout = new Layout(config);
    const mnt = config.mountDir;
    assert.equal(layout.pool, "tpool");
    assert.equal(layout.dataDataset, "tpool/data");
    assert.equal(layout.clonesDataset, "tpool/clones");
    assert.equal(layout.socketsDataset, "tpool/sockets");
    assert.equal(layout.dataMount, join(mnt, "data"));
    assert.equal(layout.clonesMount, join(mnt, "clones"));
    assert.equal(layout.socketsMount, join(mnt, "sockets"));
    assert.equal(layout.isDefault("main"), true);
    assert.equal(layout.isDefault("feature/auth"), false);
    assert.equal(layout.branchDataset("main"), "tpool/data");
    assert.equal(layout.branchMount("main"), join(mnt, "data"));
    assert.equal(layout.pgdata("main"), join(mnt, "data", "pgdata"));
    assert.equal(layout.runtimeDir("main"), join(mnt, "sockets", "main"));
    assert.equal(layout.containerName("main", 6001), "zvpg_main_6001");
    assert.equal(layout.poolImage, join(mnt, "tpool.img"));
    assert.equal(layout.lockFile, join(mnt, ".zvpg.lock"));
    assert.equal(layout.passFile, join(dir, "pgpass"));
  });
});

Deno.test("layout: other branches live under clones with encoded names", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir);
    const layout = new Layout(config);
    const mnt = config.mountDir;
    assert.equal(layout.branchDataset("feature/auth"), "tpool/clones/feature_sauth");
    assert.equal(layout.branchMount("feature/auth"), join(mnt, "clones", "feature_sauth"));
    assert.equal(layout.pgdata("feature/auth"), join(mnt, "clones", "feature_sauth", "pgdata"));
    assert.equal(layout.runtimeDir("feature/auth"), join(mnt, "sockets", "feature_sauth"));
    assert.equal(layout.containerName("feature/auth", 6002), "zvpg_feature_sauth_6002");
    assert.equal(layout.branchDataset("feature_a"), "tpool/clones/feature__a");
    assert.equal(layout.branchDataset("功能"), "tpool/clones/_u529f__u80fd_");
    assert.equal(layout.containerName("功能", 6010), "zvpg__u529f__u80fd__6010");
    // the clones dataset never collides with the default branch's dataset
    assert.notEqual(layout.branchDataset("data"), layout.dataDataset);
    assert.equal(layout.branchDataset("data"), "tpool/clones/data");
  });
});

Deno.test("layout: a custom default branch and subdirectories are honoured", async () => {
  await withTempDir((dir) => {
    const config = testConfig(dir, {
      branchDefault: "trunk",
      dataSubdir: "pgmain",
      clonesSubdir: "br",
      socketSubdir: "run",
      zfsPool: "other",
    });
    const layout = new Layout(config);
    assert.equal(layout.branchDataset("trunk"), "other/pgmain");
    assert.equal(layout.branchDataset("main"), "other/br/main");
    assert.equal(layout.runtimeDir("x"), join(config.mountDir, "run", "x"));
    assert.equal(layout.inTree("other/pgmain@s"), true);
    assert.equal(layout.inTree("tpool/data"), false);
    assert.equal(layout.isBranchSlot("other/br/x"), true);
    assert.equal(layout.isBranchSlot("other/pgmain"), true);
  });
});

Deno.test("layout: inTree accepts only zvpg's tree, isBranchSlot only where branches go", async () => {
  await withTempDir((dir) => {
    const layout = new Layout(testConfig(dir));
    for (
      const name of [
        "tpool/data",
        "tpool/data@baseline",
        "tpool/data/child",
        "tpool/clones/feature_sauth",
        "tpool/clones/feature_sauth@s1",
        "tpool/clones/a/b",
      ]
    ) {
      assert.equal(layout.inTree(name), true, name);
    }
    for (const name of ["tpool/data", "tpool/clones/feature_sauth", "tpool/clones/_ue9_t"]) {
      assert.equal(layout.isBranchSlot(name), true, name);
    }
    for (
      const name of ["tpool/data/child", "tpool/clones/a/b", "tpool/clones", "tpool/data@s", "x"]
    ) {
      assert.equal(layout.isBranchSlot(name), false, name);
    }
    for (
      const name of [
        "otherpool/x",
        "otherpool/data",
        "otherpool/clones/x",
        "tpool",
        "tpool/clones",
        "tpool/clones@snap",
        "tpool/clonesX/y",
        "tpool/clones_x",
        "tpool/database",
        "tpool/data2",
        "tpool/other@s",
        "tpool/sockets",
        "tpool/sockets/main",
        "tpoolx/data",
        "",
      ]
    ) {
      assert.equal(layout.inTree(name), false, name);
    }
  });
});

Deno.test("layout: connectHost maps wildcard binds to loopback", async () => {
  await withTempDir((dir) => {
    const host = (bindAddress: string) => new Layout(testConfig(dir, { bindAddress })).connectHost;
    assert.equal(host("127.0.0.1"), "127.0.0.1");
    assert.equal(host("0.0.0.0"), "127.0.0.1");
    assert.equal(host("::"), "::1");
    assert.equal(host("::1"), "::1");
    assert.equal(host("[::1]"), "::1");
    assert.equal(host("[fd00::5]"), "fd00::5");
    assert.equal(host("192.168.1.10"), "192.168.1.10");
  });
});
