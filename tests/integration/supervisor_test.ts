/**
 * The supervisor of a real branch container, with real PostgreSQL: a stop that reaches
 * a postmaster as soon as it exists, before it has its signal handlers (it starts with
 * SIGQUIT ignored, as every background job of a shell), is carried out all the same.
 * The supervisor used to send a stop once, and a stop lost there left the server running
 * and `branch reset` waiting (tests/unit/server_supervisor_test.ts has the shell-level
 * cases; found by CI under load).
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { procTable } from "../../src/ops/data_holders.ts";
import { itest, sh } from "../support/itest.ts";
import { isLive, until } from "../support/processes.ts";
import { assertHealthy } from "../support/fault_support.ts";

/**
 * The live children of `pid`, by command name, from the kernel's own list (one read, fast
 * enough to catch a postmaster before its handlers; Debian's kernels have it).
 */
function children(pid: number): string[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(`/proc/${pid}`)) throw new Error(`the supervisor (pid ${pid}) has exited`);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: this test needs a kernel with CONFIG_PROC_CHILDREN`);
  }
  const list = Deno.readTextFileSync(file);
  return list.trim().split(/\s+/).filter(Boolean).map(Number)
    .filter(isLive)
    .map((child) => procTable.command(child));
}

/** How long one step (a start, a stop) may take. */
const STEP_MS = 10_000;

itest(
  "supervisor: a stop that reaches PostgreSQL as it starts is carried out; the branch then starts, resets and serves",
  async (env) => {
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "r", "--from", "base"]);
    const id = await env.containerId("r");
    const inspect = async (format: string) =>
      (await sh(env.engine, ["inspect", "-f", format, id])).stdout.trim();
    const supervisor = Number(await inspect("{{.State.Pid}}"));
    assert.ok(supervisor > 0, "the container's first process is the supervisor");
    const paused = () => {
      const list = children(supervisor);
      return list.length === 1 && list[0] === "sleep";
    };
    Deno.kill(supervisor, "SIGUSR1");
    await until("the first stop", paused, STEP_MS);
    for (let round = 1; round <= 5; round++) {
      Deno.kill(supervisor, "SIGUSR2");
      // the stop goes out the moment the new postmaster exists, before its handlers
      await until(
        `a new server (round ${round})`,
        () => children(supervisor).includes("postgres"),
        STEP_MS,
      );
      Deno.kill(supervisor, "SIGUSR1");
      await until(`the stop of a starting server (round ${round})`, paused, STEP_MS);
      assert.equal(await inspect("{{.State.Running}}"), "true", "the container stays up");
    }
    Deno.kill(supervisor, "SIGUSR2");
    const port = await env.port("r");
    await until("the server to accept connections", () => {
      const r = new Deno.Command("pg_isready", {
        args: ["-q", "-h", "127.0.0.1", "-p", String(port)],
      }).outputSync();
      return r.code === 0;
    }, 30_000);
    await env.ok(["branch", "reset", "r"]);
    assert.equal(await env.containerId("r"), id, "reset in place kept the container");
    await assertHealthy(env, "after stops sent to starting servers");
  },
);
