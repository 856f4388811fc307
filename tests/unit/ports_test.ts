/**
 * Port allocation: ports held by branches are skipped, the configured range is honoured,
 * ports something else listens on are skipped. The range is chosen among ports that are
 * free right now, so the tests do not depend on what runs on this machine.
 */
import assert from "node:assert/strict";
import { parseGetOutput } from "../../src/adapters/zfs.ts";
import type { Config } from "../../src/config/config.ts";
import { PortUnavailableError } from "../../src/errors.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { createContext } from "../../src/cli/session.ts";
import { buildInventory, type Inventory } from "../../src/domain/inventory.ts";
import { allocatePort, checkRequestedPort, heldPorts, portIsFree } from "../../src/ops/ports.ts";
import { parsePsJson } from "../../src/adapters/container_runtime.ts";
import {
  dockerPsLine,
  type FixtureEntry,
  freePortRange,
  testConfig,
  withTempDir,
  zfsGetOutput,
} from "./helpers.ts";

interface BranchSpec {
  name: string;
  port?: number;
  state?: string;
  container?: "running" | "exited";
}

/** An inventory of `branches` (the first is main) on a context with ports start..end. */
function setup(dir: string, start: number, end: number, branches: BranchSpec[]) {
  const config: Config = testConfig(dir, { branchPortStart: start, branchPortEnd: end });
  const ctx: Context = createContext(config, new FakeRunner());
  const entries: FixtureEntry[] = branches.map((b, i) => ({
    name: i === 0 ? "tpool/data" : `tpool/clones/${b.name}`,
    props: {
      type: "filesystem",
      "zvpg:branch": b.name,
      ...(b.state ? { "zvpg:state": b.state } : {}),
      ...(b.port ? { "zvpg:port": String(b.port) } : {}),
    },
  }));
  const ps = branches.filter((b) => b.container && b.port).map((b) =>
    dockerPsLine({
      branch: b.name,
      port: b.port!,
      name: `zvpg_${b.name}_${b.port}`,
      state: b.container,
    })
  ).join("\n");
  const inventory: Inventory = buildInventory(
    ctx,
    parseGetOutput(zfsGetOutput(entries)),
    parsePsJson(ps),
  );
  return { ctx, inventory };
}

Deno.test("ports: heldPorts counts containers and running or creating branches", async () => {
  await withTempDir((dir) => {
    const { inventory } = setup(dir, 6001, 6099, [
      { name: "main", port: 6001, state: "running", container: "running" },
      { name: "a", port: 6002, state: "stopped" },
      { name: "b", port: 6003, state: "running" },
      { name: "c", port: 6004, state: "creating" },
      { name: "d", port: 6005, state: "stopped", container: "exited" },
      { name: "e", state: "running" },
      { name: "f", port: 6007, state: "deleting" },
    ]);
    assert.deepEqual(
      [...heldPorts(inventory).entries()].sort(),
      [[6001, "main"], [6003, "b"], [6004, "c"], [6005, "d"]],
    );
    assert.deepEqual([...heldPorts(inventory, "b").keys()].sort(), [6001, 6004, 6005]);
  });
});

Deno.test("ports: allocation skips ports held by branches and honours the range", async () => {
  await withTempDir((dir) => {
    const start = freePortRange(6);
    const { ctx, inventory } = setup(dir, start, start + 5, [
      { name: "main", port: start, state: "running", container: "running" },
      { name: "a", port: start + 1, state: "running" },
      { name: "b", port: start + 2, state: "stopped" },
    ]);
    // start and start+1 are held; start+2 belongs to a stopped branch: free
    assert.equal(allocatePort(ctx, inventory, "new"), start + 2);
    // a branch's own port is not held against itself
    assert.equal(allocatePort(ctx, inventory, "a"), start + 1);
    // skip set
    assert.equal(
      allocatePort(ctx, inventory, "new", { skip: new Set([start + 2, start + 3]) }),
      start + 4,
    );
  });
});

Deno.test("ports: a preferred port is used when usable and in range", async () => {
  await withTempDir((dir) => {
    const start = freePortRange(6);
    const { ctx, inventory } = setup(dir, start, start + 5, [
      { name: "main", port: start, state: "running", container: "running" },
      { name: "b", port: start + 4, state: "stopped" },
    ]);
    assert.equal(allocatePort(ctx, inventory, "b", { preferred: start + 4 }), start + 4);
    // held by main: the first free one instead
    assert.equal(allocatePort(ctx, inventory, "b", { preferred: start }), start + 1);
    // outside the range: ignored
    assert.equal(allocatePort(ctx, inventory, "b", { preferred: start + 6 }), start + 1);
    assert.equal(allocatePort(ctx, inventory, "b", { preferred: null }), start + 1);
  });
});

Deno.test("ports: a port another program listens on is skipped", async () => {
  await withTempDir((dir) => {
    const start = freePortRange(3);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: start });
    try {
      assert.equal(portIsFree("127.0.0.1", start), false);
      assert.equal(portIsFree("127.0.0.1", start + 1), true);
      const { ctx, inventory } = setup(dir, start, start + 2, [{ name: "main" }]);
      assert.equal(allocatePort(ctx, inventory, "x"), start + 1);
      assert.throws(() => checkRequestedPort(ctx, inventory, start, "x"), (e: unknown) => {
        assert.ok(e instanceof PortUnavailableError);
        assert.equal(e.message, `port ${start} on 127.0.0.1 is in use by another program`);
        return true;
      });
    } finally {
      listener.close();
    }
  });
});

Deno.test("ports: no free port in the range is a PortUnavailableError", async () => {
  await withTempDir((dir) => {
    const start = freePortRange(2);
    const { ctx, inventory } = setup(dir, start, start + 1, [
      { name: "main", port: start, state: "running", container: "running" },
      { name: "a", port: start + 1, state: "running", container: "running" },
    ]);
    assert.throws(() => allocatePort(ctx, inventory, "new"), (e: unknown) => {
      assert.ok(e instanceof PortUnavailableError);
      assert.equal(e.message, `no free port in the range ${start}-${start + 1}`);
      assert.ok(e.hint?.includes("branchPortEnd"));
      return true;
    });
  });
});

Deno.test("ports: a requested port held by another branch names that branch", async () => {
  await withTempDir((dir) => {
    const start = freePortRange(2);
    const { ctx, inventory } = setup(dir, start, start + 1, [
      { name: "main", port: start, state: "running", container: "running" },
    ]);
    assert.throws(() => checkRequestedPort(ctx, inventory, start, "x"), (e: unknown) => {
      assert.ok(e instanceof PortUnavailableError);
      assert.equal(e.message, `port ${start} is already used by branch 'main'`);
      return true;
    });
    // the branch's own port, and a free port, are fine
    checkRequestedPort(ctx, inventory, start, "main");
    checkRequestedPort(ctx, inventory, start + 1, "x");
  });
});
