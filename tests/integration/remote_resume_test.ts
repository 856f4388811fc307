/**
 * An interrupted transfer over ssh, then the next run: on OpenZFS it resumes the partial
 * receive the receiver kept (`receive -s`), once the sender's ZFS has read that the token
 * names the very snapshot sent; on zfs-fuse (no resume) it starts over, whole. A partial
 * receive of another snapshot is never resumed: a push discards it on the server, a pull
 * whose token the server refuses discards it here and starts over. No half snapshot is
 * ever visible. Runs on both ZFS flavors (scripts/test_openzfs.sh runs it on OpenZFS).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hostZfsFlavor } from "../../src/adapters/zfs.ts";
import type { PullJson, PushJson } from "../../src/cli/views.ts";
import { itest, sh, TestEnv } from "../support/itest.ts";
import { servingHost } from "../support/remote_host.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const OPENZFS = hostZfsFlavor() === "openzfs";

/** About `mb` MB of new rows in table `t` (random text: no compression shrinks the stream). */
function rows(mb: number, from: number): string {
  const n = mb * 4000;
  const text = Array.from({ length: 7 }, () => "md5(random()::text)").join(" || ");
  return `insert into t select g, ${text} from generate_series(${from}, ${from + n - 1}) g`;
}

/** The bytes of `zfs send [-i from] snapshot`. */
async function streamSize(snapshot: string, from?: string): Promise<number> {
  const inc = from === undefined ? "" : `-i '${from}' `;
  const r = await sh("sh", ["-c", `zfs send ${inc}'${snapshot}' | wc -c`]);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim());
}

/** The fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...]. */
function statOf(pid: string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The pids of live processes in process group `pgrp` whose command is `comm`. */
function inGroup(pgrp: number, comm: string): string[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((pid) => {
    const stat = statOf(pid);
    if (!stat || stat[0] === "Z" || Number(stat[2]) !== pgrp) return false;
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm;
    } catch {
      return false;
    }
  });
}

/** The bytes the process `pid` read and wrote so far (0 when it is gone). */
function ioBytes(pid: string): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, "m").exec(io)?.[1] ?? 0);
    return Math.max(field("rchar"), field("wchar"));
  } catch {
    return 0;
  }
}

/** Whether a live process has all of `words` in its command line. */
function running(words: string[]): boolean {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return statOf(pid)?.[0] !== "Z" && words.every((w) => argv.includes(w));
    } catch {
      return false;
    }
  });
}

/**
 * Runs `zvpg <args>` of `env` in a session of its own and kills its whole process group
 * (zvpg, ssh, zfs) with SIGKILL once its ssh carried `bytes` bytes of the stream; then
 * waits until no `zfs receive` into `dataset` runs any more (the server's ends when ssh
 * goes, and ZFS has then saved what it received).
 */
async function killAfter(
  env: TestEnv,
  args: string[],
  bytes: number,
  dataset: string,
): Promise<void> {
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "--allow-all", join(ROOT, "main.ts"), ...args],
    env: { ZVPG_CONFIG_DIR: env.configDir },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let ended = false;
  const status = child.status.finally(() => ended = true);
  let killed = false;
  while (!ended && !killed) {
    // each request has an ssh of its own: the stream's carries far more than the others
    if (Math.max(0, ...inGroup(child.pid, "ssh").map(ioBytes)) >= bytes) {
      Deno.kill(-child.pid, "SIGKILL");
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const { code } = await status;
  const said = await stderr;
  assert.ok(killed, `${args.join(" ")} ended (exit ${code}) before ${bytes} B: ${said}`);
  assert.equal(code, 137, said);
  const deadline = Date.now() + 60_000;
  while (running(["receive", dataset])) {
    assert.ok(Date.now() < deadline, `a zfs receive into ${dataset} still runs`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The snapshots of `dataset`, by their names after `@`. */
async function snapshotsOf(dataset: string): Promise<string[]> {
  const r = await sh("zfs", ["list", "-H", "-t", "snapshot", "-o", "name", "-r", dataset]);
  return r.stdout.split("\n").filter((n) => n.startsWith(`${dataset}@`)).map((n) =>
    n.slice(dataset.length + 1)
  );
}

/** The resume token of a partial receive into `dataset`, or null (always null on zfs-fuse). */
async function tokenOf(dataset: string): Promise<string | null> {
  if (!OPENZFS) return null;
  const r = await sh("zfs", ["get", "-H", "-o", "value", "receive_resume_token", dataset]);
  const token = r.stdout.trim();
  return r.code !== 0 || token === "-" || token === "" ? null : token;
}

async function guidOf(name: string): Promise<string> {
  return (await sh("zfs", ["get", "-H", "-p", "-o", "value", "guid", name])).stdout.trim();
}

/** A second installation that reaches `server` over ssh as remote `staging`. */
async function laptopFor(server: TestEnv) {
  const host = await servingHost(server);
  const laptop = new TestEnv({ sshOptions: host.sshOptions() });
  await laptop.ok(["init", "env"]);
  await laptop.ok(["remote", "add", "staging", `ssh://root@${host.address}`]);
  return { host, laptop };
}

itest(
  "push over ssh killed mid-stream: the retry resumes (OpenZFS) or starts over (zfs-fuse); another snapshot's partial is discarded",
  async (server) => {
    const { host, laptop } = await laptopFor(server);
    try {
      const main = await laptop.port("main");
      await laptop.psql(main, "create table t (id int primary key, v text)");
      await laptop.psql(main, rows(30, 1));
      await laptop.ok(["snapshot", "create", "a1", "-m", "about 30 MB"]);
      const tracking = `${server.pool}/remotes/laptop/main`;
      const a1 = `${laptop.pool}/data@a1`;
      const whole = await streamSize(a1);

      // a whole stream cut after a quarter
      await killAfter(laptop, ["push", "staging", "a1"], whole / 4, tracking);
      assert.deepEqual(await snapshotsOf(tracking), [], "no half snapshot is visible");
      assert.equal((await tokenOf(tracking)) !== null, OPENZFS, "a partial receive is kept");
      const retry = await laptop.json<PushJson>(["push", "staging", "a1"]);
      assert.equal(retry.pushed, true);
      assert.equal(retry.resumed, OPENZFS, JSON.stringify(retry));
      if (OPENZFS) {
        assert.ok(retry.bytes > 0 && retry.bytes < whole, `resumed ${retry.bytes} of ${whole} B`);
      } else {
        assert.equal(retry.bytes, whole);
      }
      assert.deepEqual(await snapshotsOf(tracking), ["a1"]);
      assert.equal(await guidOf(`${tracking}@a1`), await guidOf(a1));
      assert.equal(await tokenOf(tracking), null);

      // a partial increment a1 -> a2 is left on the server; then a3 (after a2) is pushed:
      // the token names a2, so this host's ZFS check refuses it, a3 goes as an increment
      // from a1, and the server discards the partial receive first
      await laptop.psql(main, rows(30, 200_001));
      await laptop.ok(["snapshot", "create", "a2", "-m", "about 60 MB"]);
      const a2Size = await streamSize(`${laptop.pool}/data@a2`, a1);
      await killAfter(laptop, ["push", "staging", "a2"], a2Size / 4, tracking);
      assert.deepEqual(await snapshotsOf(tracking), ["a1"], "no half snapshot is visible");
      const stale = await tokenOf(tracking);
      assert.equal(stale !== null, OPENZFS, "a partial increment is kept");
      await laptop.psql(main, "insert into t values (0, 'after a2')");
      await laptop.ok(["snapshot", "create", "a3", "-m", "after a2"]);
      const a3 = await laptop.json<PushJson>(["push", "staging", "a3"]);
      assert.deepEqual([a3.pushed, a3.resumed, a3.base], [true, false, "a1"], JSON.stringify(a3));
      assert.equal(a3.bytes, await streamSize(`${laptop.pool}/data@a3`, a1));
      assert.deepEqual(await snapshotsOf(tracking), ["a1", "a3"]);
      assert.equal(await guidOf(`${tracking}@a3`), await guidOf(`${laptop.pool}/data@a3`));
      assert.equal(await tokenOf(tracking), null, "the partial receive of a2 is gone");
      const health = await server.zvpg(["status", "health"]);
      assert.equal(health.code, 0, health.stdout + health.stderr);
    } finally {
      await laptop.cleanup();
      await host.close();
    }
  },
);

itest(
  "pull over ssh killed mid-stream: the retry resumes (OpenZFS) or starts over (zfs-fuse); a token the server refuses is discarded",
  async (server) => {
    const { host, laptop } = await laptopFor(server);
    try {
      const main = await server.port("main");
      await server.psql(main, "create table t (id int primary key, v text)");
      await server.psql(main, rows(30, 1));
      await server.ok(["snapshot", "create", "s1", "-m", "about 30 MB"]);
      const tracking = `${laptop.pool}/remotes/staging/main`;
      const s1 = `${server.pool}/data@s1`;
      const whole = await streamSize(s1);

      // a whole stream cut after a quarter: the partial receive is this host's
      await killAfter(laptop, ["pull", "staging", "s1"], whole / 4, tracking);
      assert.deepEqual(await snapshotsOf(tracking), [], "no half snapshot is visible");
      assert.equal((await tokenOf(tracking)) !== null, OPENZFS, "a partial receive is kept");
      const retry = await laptop.json<PullJson>(["pull", "staging", "s1"]);
      assert.equal(retry.pulled, true);
      assert.equal(retry.resumed, OPENZFS, JSON.stringify(retry));
      if (OPENZFS) {
        assert.ok(retry.bytes > 0 && retry.bytes < whole, `resumed ${retry.bytes} of ${whole} B`);
      } else {
        assert.equal(retry.bytes, whole);
      }
      assert.deepEqual(await snapshotsOf(tracking), ["s1"]);
      assert.equal(await guidOf(`${tracking}@s1`), await guidOf(s1));
      assert.equal(await tokenOf(tracking), null);

      // a partial increment s1 -> s2 is left here; then s3 (after s2) is pulled: the token
      // names s2, the server refuses it, and this host discards it and starts over
      await server.psql(main, rows(30, 200_001));
      await server.ok(["snapshot", "create", "s2", "-m", "about 60 MB"]);
      const s2Size = await streamSize(`${server.pool}/data@s2`, s1);
      await killAfter(laptop, ["pull", "staging", "s2"], s2Size / 4, tracking);
      assert.deepEqual(await snapshotsOf(tracking), ["s1"], "no half snapshot is visible");
      assert.equal((await tokenOf(tracking)) !== null, OPENZFS, "a partial increment is kept");
      await server.psql(main, "insert into t values (0, 'after s2')");
      await server.ok(["snapshot", "create", "s3", "-m", "after s2"]);
      const s3 = await laptop.zvpg(["pull", "staging", "s3", "-f", "json"]);
      assert.equal(s3.code, 0, s3.stderr);
      const pulled = JSON.parse(s3.stdout) as PullJson;
      assert.deepEqual(
        [pulled.pulled, pulled.resumed, pulled.base],
        [true, false, "s1"],
        JSON.stringify(pulled),
      );
      assert.equal(pulled.bytes, await streamSize(`${server.pool}/data@s3`, s1));
      if (OPENZFS) {
        assert.match(s3.stderr, /refused to resume: the resume token does not name snapshot/);
      }
      assert.deepEqual(await snapshotsOf(tracking), ["s1", "s3"]);
      assert.equal(await guidOf(`${tracking}@s3`), await guidOf(`${server.pool}/data@s3`));
      assert.equal(await tokenOf(tracking), null, "the partial receive of s2 is gone");
      await laptop.ok(["branch", "create", "x", "--from", "staging/s3"]);
      const digest = "select count(*) || ' ' || md5(string_agg(v, ',' order by id)) from t";
      assert.equal(
        await laptop.psql(await laptop.port("x"), digest),
        await server.psql(main, digest),
      );
    } finally {
      await laptop.cleanup();
      await host.close();
    }
  },
);
