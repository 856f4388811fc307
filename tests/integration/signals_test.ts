/**
 * Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group, zvpg and
 * the program it runs together. `branch create` runs in its own session (setsid), and the
 * group is signalled at chosen moments: just after zvpg starts `zfs clone`, `docker run`
 * or a `zfs get`, or at a random delay. Every try must exit 130 (or 0 when the create was
 * done first), leave the pool as it was, and leave no zvpg child running.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { itest, sh, type TestEnv } from "../support/itest.ts";
import { assertHealthy, assertPoolState, poolState } from "../support/fault_support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Where to send the signal: just after the debug line of this program starts, or at random. */
type Target = { after: RegExp; label: string } | { randomMs: number; label: string };

/** One create in its own process group; resolves once it exited. */
interface Try {
  code: number;
  stderr: string;
  /** Whether the signal was sent before zvpg exited. */
  signalled: boolean;
  /** Processes still in the group after zvpg exited. */
  leftInGroup: string;
}

/** Runtime directories under `<mountDir>/sockets`. */
function runtimeDirs(env: TestEnv): string[] {
  const dir = join(env.mountDir, "sockets");
  return existsSync(dir) ? readdirSync(dir).filter((d) => !d.startsWith(".")).sort() : [];
}

/** Runs `zvpg <args>` as a terminal's foreground job and sends SIGINT per `target`. */
async function runAndInterrupt(env: TestEnv, args: string[], target: Target): Promise<Try> {
  // setsid: a new session and process group whose id is the pid of zvpg itself
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "--allow-all", join(ROOT, "main.ts"), ...args],
    env: { ZVPG_CONFIG_DIR: env.configDir, ZVPG_LOG_LEVEL: "DEBUG" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const group = child.pid;
  let exited = false;
  let signalled = false;
  const ctrlC = () => {
    if (exited || signalled) return;
    signalled = true;
    // the whole group, as the terminal does (kill(-pgid))
    Deno.kill(-group, "SIGINT");
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  if ("randomMs" in target) timer = setTimeout(ctrlC, target.randomMs);
  let stderr = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    stderr += decoder.decode(chunk, { stream: true });
    if ("after" in target && !signalled && target.after.test(stderr)) {
      // a little later, so that the program is running (0-40 ms)
      setTimeout(ctrlC, Math.floor(Math.random() * 40));
    }
  }
  const status = await child.status;
  exited = true;
  clearTimeout(timer);
  const left = await sh("pgrep", ["-a", "-g", String(group)]);
  return { code: status.code, stderr, signalled, leftInGroup: left.stdout.trim() };
}

itest("Ctrl-C in a terminal during branch create always exits 130 and cleans up", async (env) => {
  await env.ok(["snapshot", "create", "base"]);
  const before = await poolState(env);

  // how long a create takes here, for the random delays
  const t0 = performance.now();
  await env.ok(["branch", "create", "timing", "--from", "base"]);
  const createMs = performance.now() - t0;
  await env.ok(["branch", "delete", "timing"]);
  await assertPoolState(env, before, "after the timing create");

  const targets: Target[] = [
    { after: /debug: run: zfs clone /, label: "zfs clone" },
    { after: new RegExp(`debug: run: ${env.engine} run `), label: `${env.engine} run` },
    { after: /debug: run: zfs get /, label: "zfs get" },
    { after: new RegExp(`debug: run: ${env.engine} rm `), label: `${env.engine} rm` },
  ];
  const seed = Math.floor(Math.random() * 2 ** 31);
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  console.log(`signals: seed ${seed}, a create takes ${Math.round(createMs)} ms`);
  const outcomes: string[] = [];
  const deadline = Date.now() + 6 * 60_000;
  for (let i = 0; i < 20; i++) {
    assert.ok(Date.now() < deadline, `20 tries took over 6 minutes (${outcomes.join(", ")})`);
    const target: Target = i % 5 === 4
      ? { randomMs: Math.floor(random() * createMs * 1.1), label: "random" }
      : targets[i % 5];
    const label = "randomMs" in target ? `random ${target.randomMs} ms` : target.label;
    const name = `c${i}`;
    const r = await runAndInterrupt(env, ["branch", "create", name], target);
    const context = `try ${i} (${label}, seed ${seed}): exit ${r.code}\n${r.stderr}`;
    outcomes.push(`${label}: ${r.code}`);
    assert.equal(r.leftInGroup, "", `a zvpg child was left running: ${context}`);
    if (r.code === 0) {
      // finished before the signal arrived
      await env.ok(["branch", "delete", name]);
    } else {
      assert.equal(r.code, 130, context);
      assert.ok(r.signalled, context);
      const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
      // a signal before zvpg installed its handler (while Deno starts) ends it at once:
      // nothing ran, nothing to say
      if (errors.length === 0 && !/debug: run:/.test(r.stderr)) {
        await assertPoolState(env, before, context);
        continue;
      }
      assert.equal(errors.length, 1, context);
      assert.match(errors[0], new RegExp(`branch create '${name}' interrupted by SIGINT`), context);
      assert.doesNotMatch(r.stderr, /failed \(exit 1[34][03]\)|\n\s+at /, context);
    }
    await assertPoolState(env, before, context);
    assert.deepEqual(runtimeDirs(env), ["main"], context);
  }
  console.log(`signals: ${outcomes.join(", ")}`);
  assert.ok(
    outcomes.filter((o) => o.endsWith(": 130")).length >= 12,
    `too few tries were interrupted to prove anything: ${outcomes.join(", ")}`,
  );
  await assertHealthy(env, "after the interrupted creates");
});

itest(
  "Ctrl-C in a terminal during branch start exits 130 and leaves the branch stopped",
  async (env) => {
    await env.ok(["branch", "create", "s"]);
    await env.psql(await env.port("s"), "create table kept (v int); insert into kept values (7)");
    await env.ok(["branch", "stop", "s"]);
    const stopped = await poolState(env);
    const targets: Target[] = [
      { after: new RegExp(`debug: run: ${env.engine} run `), label: `${env.engine} run` },
      { after: /debug: run: zfs set zvpg:port/, label: "zfs set" },
      { after: /debug: run: zfs get /, label: "zfs get" },
    ];
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const target = targets[i % targets.length];
      const r = await runAndInterrupt(env, ["branch", "start", "s"], target);
      const context = `try ${i} (${target.label}): exit ${r.code}\n${r.stderr}`;
      outcomes.push(`${target.label}: ${r.code}`);
      assert.equal(r.leftInGroup, "", `a zvpg child was left running: ${context}`);
      if (r.code === 0) {
        await env.ok(["branch", "stop", "s"]);
      } else {
        assert.equal(r.code, 130, context);
        assert.match(r.stderr, /error: branch start 's' interrupted by SIGINT/, context);
      }
      await assertPoolState(env, stopped, context);
      const info = await env.json<{ status: string }>(["branch", "info", "s"]);
      assert.equal(info.status, "stopped", context);
    }
    console.log(`signals: ${outcomes.join(", ")}`);
    await env.ok(["branch", "start", "s"]);
    assert.equal(await env.psql(await env.port("s"), "select v from kept"), "7");
    await assertHealthy(env, "after the interrupted starts");
  },
);

itest(
  "Ctrl-C in a terminal during an in-place branch reset exits 130; the branch runs, as before or reset",
  async (env) => {
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "r", "--from", "base"]);
    const port = await env.port("r");
    const targets: Target[] = [
      { after: /debug: run: zfs set zvpg:state=resetting/, label: "mark" },
      { after: /debug: run: zfs rollback /, label: "zfs rollback" },
      { after: /debug: run: zfs set zvpg:state=running/, label: "zfs set running" },
      { randomMs: 0, label: "random" },
    ];
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      await env.psql(port, "create table if not exists changed (v int)");
      const t = targets[i % targets.length];
      const target: Target = "randomMs" in t ? { randomMs: 300 + i * 150, label: "random" } : t;
      const r = await runAndInterrupt(env, ["branch", "reset", "r"], target);
      const context = `try ${i} (${target.label}): exit ${r.code}\n${r.stderr}`;
      outcomes.push(`${target.label}: ${r.code}`);
      assert.equal(r.leftInGroup, "", `a zvpg child was left running: ${context}`);
      if (r.code !== 0) {
        assert.equal(r.code, 130, context);
        assert.doesNotMatch(r.stderr, /\n\s+at /, context);
      }
      // whatever the moment: running on its port, one server, nothing left to repair
      const info = await env.json<{ status: string; port: number }>(["branch", "info", "r"]);
      assert.equal(info.status, "running", context);
      assert.equal(info.port, port, context);
      const tables = await env.psql(
        port,
        "select count(*) from pg_tables where tablename = 'changed'",
      );
      assert.ok(tables === "0" || tables === "1", context);
      if (r.code === 0) assert.equal(tables, "0", `a finished reset keeps no change: ${context}`);
      // a rollback under way is always finished: a stopped `zfs rollback` may have happened
      if (target.label === "zfs rollback") {
        assert.equal(tables, "0", `a Ctrl-C during the rollback finishes it: ${context}`);
      }
      // the last line says what happened: undone (the change kept) or finished (reset)
      if (r.code === 130) {
        const said = tables === "0"
          ? /: finished it \(its old data was gone\)$/m
          : /: removed what it had made$/m;
        assert.match(r.stderr, said, context);
      }
      await assertHealthy(env, context);
    }
    console.log(`signals: ${outcomes.join(", ")}`);
  },
);
