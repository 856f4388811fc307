/**
 * Push and pull between two hosts over a real ssh hop: the remote host is a network
 * namespace with its own sshd whose key is bound to `zvpg serve --stdio --as laptop` on its
 * own pool; this host is another installation with its own pool, config and ports. Real
 * `zfs send`/`zfs receive` streams, real PostgreSQL on both sides.
 */
import assert from "node:assert/strict";
import { itest, sh, TestEnv, zfsGuid as guidOf } from "../support/itest.ts";
import { runAndSignal } from "../support/processes.ts";
import { servingHost as serving } from "../support/remote_host.ts";

const DIGEST = "select count(*) || ' ' || md5(string_agg(v, ',' order by id)) from t";

interface PushJson {
  pushed: boolean;
  base: string | null;
  bytes: number;
  remoteName: string;
}

interface PullJson {
  pulled: boolean;
  base: string | null;
  bytes: number;
  zfsName: string;
}

async function originOf(dataset: string): Promise<string> {
  return (await sh("zfs", ["get", "-H", "-o", "value", "origin", dataset])).stdout.trim();
}

/**
 * Kills (-9) the `zvpg serve` processes serving `configDir`, and only those (other tests on
 * this machine run their own); whether one was found.
 */
function killServe(configDir: string): boolean {
  let killed = false;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      const environ = Deno.readTextFileSync(`/proc/${entry.name}/environ`).split("\0");
      if (!cmdline.includes("serve") || !environ.includes(`ZVPG_CONFIG_DIR=${configDir}`)) continue;
      Deno.kill(Number(entry.name), "SIGKILL");
      killed = true;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return killed;
}

itest(
  "push and pull over ssh: whole then increments by GUID, equal rows, nothing overwritten",
  async (server) => {
    const serverMain = await server.port("main");
    await server.psql(
      serverMain,
      "create table t as select g as id, md5(g::text) as v from generate_series(1, 3000) g",
    );
    await server.ok(["snapshot", "create", "t1", "-m", "3000 rows"]);
    const host = await serving(server);
    const laptop = new TestEnv({ sshOptions: host.sshOptions() });
    try {
      await laptop.ok(["init", "env"]);
      await laptop.ok(["remote", "add", "staging", `ssh://root@${host.address}`]);

      // pull: a whole stream into a tracking dataset, then a branch with the same rows
      const p1 = await laptop.json<PullJson>(["pull", "staging", "t1"]);
      assert.equal(p1.pulled, true);
      assert.equal(p1.base, null);
      assert.equal(p1.zfsName, `${laptop.pool}/remotes/staging/main@t1`);
      assert.equal(await guidOf(p1.zfsName), await guidOf(`${server.pool}/data@t1`));
      await laptop.ok(["branch", "create", "x", "--from", "staging/t1"]);
      const sent = await server.psql(serverMain, DIGEST);
      assert.equal(await laptop.psql(await laptop.port("x"), DIGEST), sent);

      // an increment: only what changed since t1 travels
      await server.psql(serverMain, "insert into t values (3001, 'after t1')");
      await server.ok(["snapshot", "create", "t2", "-m", "3001 rows"]);
      const p2 = await laptop.json<PullJson>(["pull", "staging", "t2"]);
      assert.equal(p2.base, "t1");
      assert.ok(p2.bytes < p1.bytes / 2, `increment ${p2.bytes} B, whole ${p1.bytes} B`);
      const again = await laptop.json<PullJson>(["pull", "staging", "t2"]);
      assert.equal(again.pulled, false);

      // push: lands under the key's name on the server, whole then as an increment
      const laptopMain = await laptop.port("main");
      await laptop.psql(
        laptopMain,
        "create table t as select g as id, md5(g::text) as v from generate_series(1, 2000) g",
      );
      await laptop.ok(["snapshot", "create", "l1", "-m", "laptop 1"]);
      const q1 = await laptop.json<PushJson>(["push", "staging", "l1"]);
      assert.deepEqual([q1.pushed, q1.base, q1.remoteName], [true, null, "laptop/l1"]);
      const landed = `${server.pool}/remotes/laptop/main@l1`;
      assert.equal(await guidOf(landed), await guidOf(`${laptop.pool}/data@l1`));
      const readonly = await sh("zfs", [
        "get",
        "-H",
        "-o",
        "value",
        "readonly",
        landed.split("@")[0],
      ]);
      assert.equal(readonly.stdout.trim(), "on");
      await laptop.psql(laptopMain, "insert into t values (2001, 'after l1')");
      await laptop.ok(["snapshot", "create", "l2", "-m", "laptop 2"]);
      const q2 = await laptop.json<PushJson>(["push", "staging", "l2"]);
      assert.equal(q2.base, "l1");
      assert.ok(q2.bytes < q1.bytes / 2, `increment ${q2.bytes} B, whole ${q1.bytes} B`);
      assert.equal((await laptop.json<PushJson>(["push", "staging", "l2"])).pushed, false);
      // the common base is held on both sides: a delete is refused, naming the remote
      const here = await laptop.zvpg(["snapshot", "delete", "l2"]);
      assert.equal(here.code, 1, here.stdout + here.stderr);
      assert.match(
        here.stderr,
        /^error: snapshot 'l2' is the base of the next push to remote 'staging'/m,
      );
      const there = await server.zvpg(["snapshot", "delete", "laptop/l2"]);
      assert.equal(there.code, 1, there.stdout + there.stderr);
      assert.match(
        there.stderr,
        /^error: snapshot 'laptop\/l2' is the base of the next transfer with remote 'laptop'/m,
      );
      const pulledBase = await laptop.zvpg(["snapshot", "delete", "staging/t2"]);
      assert.equal(pulledBase.code, 1, pulledBase.stdout + pulledBase.stderr);
      await server.ok(["branch", "create", "from-laptop", "--from", "laptop/l2"]);
      assert.equal(
        await server.psql(await server.port("from-laptop"), DIGEST),
        await laptop.psql(laptopMain, DIGEST),
      );

      // a branch of a snapshot the other side holds travels as a clone of it: its own blocks
      await laptop.ok(["branch", "create", "fc", "--from", "l1"]);
      await laptop.psql(await laptop.port("fc"), "insert into t values (5000, 'on fc')");
      await laptop.ok(["branch", "snapshot", "fc", "fc1", "-m", "on fc"]);
      const q4 = await laptop.json<PushJson>(["push", "staging", "fc1"]);
      assert.equal(q4.base, "l1");
      assert.ok(q4.bytes < q1.bytes / 2, `clone stream ${q4.bytes} B, whole ${q1.bytes} B`);
      const fcThere = `${server.pool}/remotes/laptop/fc`;
      assert.equal(await originOf(fcThere), `${server.pool}/remotes/laptop/main@l1`);
      await server.ok(["branch", "create", "sb", "--from", "t2"]);
      await server.psql(await server.port("sb"), "insert into t values (5001, 'on sb')");
      await server.ok(["branch", "snapshot", "sb", "sb1", "-m", "on sb"]);
      const p3 = await laptop.json<PullJson>(["pull", "staging", "sb1"]);
      assert.equal(p3.base, "t2");
      assert.ok(p3.bytes < p1.bytes / 2, `clone stream ${p3.bytes} B, whole ${p1.bytes} B`);
      assert.equal(
        await originOf(`${laptop.pool}/remotes/staging/sb`),
        `${laptop.pool}/remotes/staging/main@t2`,
      );
      await laptop.ok(["branch", "create", "sb-here", "--from", "staging/sb1"]);
      assert.equal(
        await laptop.psql(await laptop.port("sb-here"), "select v from t where id = 5001"),
        "on sb",
      );

      // a running branch: pushed as a snapshot taken now, after a CHECKPOINT
      await laptop.ok(["branch", "create", "feat/x"]);
      await laptop.psql(await laptop.port("feat/x"), "insert into t values (2002, 'on feat')");
      const q3 = await laptop.json<PushJson & { snapshot: string; taken: boolean }>([
        "push",
        "staging",
        "feat/x",
      ]);
      assert.equal(q3.taken, true);
      assert.match(q3.snapshot, /^push-\d{8}T\d{6}Z$/);
      assert.equal(q3.remoteName, `laptop/${q3.snapshot}`);
      await server.ok(["branch", "create", "feat-copy", "--from", q3.remoteName]);
      assert.equal(
        await server.psql(await server.port("feat-copy"), "select v from t where id = 2002"),
        "on feat",
      );

      // a diverged name: another l3 than the one the server holds is refused, naming it
      await laptop.ok(["snapshot", "create", "l3", "-m", "laptop 3"]);
      await laptop.ok(["push", "staging", "l3"]);
      assert.equal((await laptop.zvpg(["snapshot", "delete", "l3"])).code, 1, "l3 is the base");
      await laptop.ok(["snapshot", "delete", "l3", "--force"]);
      await laptop.ok(["snapshot", "create", "l3", "-m", "another laptop 3"]);
      const diverged = await laptop.zvpg(["push", "staging", "l3"]);
      assert.equal(diverged.code, 1, diverged.stdout + diverged.stderr);
      assert.match(
        diverged.stderr,
        /^error: remote 'staging' holds another snapshot named 'laptop\/l3'/m,
      );
      // --force keeps the server's copy aside (as branch laptop/fc.pre-<time>) and pushes
      await laptop.ok(["snapshot", "delete", "fc1", "--force"]);
      await laptop.ok(["branch", "snapshot", "fc", "fc1", "-m", "another fc1"]);
      const refused = await laptop.zvpg(["push", "staging", "fc1"]);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      const forced = await laptop.json<PushJson & { keptAs: string }>([
        "push",
        "staging",
        "fc1",
        "--force",
      ]);
      assert.equal(forced.pushed, true);
      assert.match(forced.keptAs, /^laptop\/fc\.pre-\d{8}T\d{6}Z$/);
      const listed = await server.json<{ name: string; branch: string }[]>(["snapshot", "list"]);
      assert.ok(listed.some((x) => x.name === "laptop/fc1" && x.branch === "laptop/fc"));
      assert.ok(
        listed.some((x) => /^laptop\/fc1\.pre-/.test(x.name) && x.branch === forced.keptAs),
        JSON.stringify(listed),
      );
    } finally {
      await laptop.cleanup();
      await host.close();
    }
  },
);

itest(
  "push and pull over ssh: Ctrl-C and kill -9 mid-stream leave nothing half-made, a retry succeeds",
  async (server) => {
    const host = await serving(server);
    const laptop = new TestEnv({ sshOptions: host.sshOptions() });
    try {
      await laptop.ok(["init", "env"]);
      await laptop.ok(["remote", "add", "staging", `ssh://root@${host.address}`]);
      const rows = "create table t as select g as id, md5(g::text) || repeat('x', 200) as v " +
        "from generate_series(1, 400000) g";
      await laptop.psql(await laptop.port("main"), rows);
      await laptop.ok(["snapshot", "create", "big", "-m", "about 100 MB"]);
      const tracking = `${server.pool}/remotes/laptop/main`;
      const snapshotsThere = async () =>
        (await sh("zfs", ["list", "-H", "-t", "snapshot", "-o", "name", "-r", server.pool]))
          .stdout.split("\n").filter((n) => n.startsWith(`${tracking}@`));

      const ctrlC = await runAndSignal(
        laptop.configDir,
        ["push", "staging", "big"],
        { after: /run: zfs send/, signal: "SIGINT" },
      );
      assert.equal(ctrlC.code, 130, ctrlC.stderr.slice(-2000));
      assert.match(ctrlC.stderr, /interrupted by SIGINT/);
      assert.deepEqual(await snapshotsThere(), [], "nothing half-received is visible");

      const killed = await runAndSignal(
        laptop.configDir,
        ["push", "staging", "big"],
        { after: /run: zfs send/, signal: "SIGKILL" },
      );
      assert.equal(killed.code, 137, killed.stderr.slice(-2000));
      assert.deepEqual(await snapshotsThere(), []);

      // the server's side cut mid-stream (its serve killed): one line, exit 1, nothing there
      const cutting = laptop.zvpg(["push", "staging", "big"]);
      const killer = (async () => {
        for (let i = 0; i < 200; i++) {
          if (killServe(server.configDir)) return true;
          await new Promise((ok) => setTimeout(ok, 50));
        }
        return false;
      })();
      const [cutPush, killed2] = await Promise.all([cutting, killer]);
      assert.ok(killed2, "the server's serve was found and killed");
      assert.equal(cutPush.code, 1, cutPush.stdout + cutPush.stderr);
      assert.equal(
        cutPush.stderr.trim().split("\n").filter((l) => l.startsWith("error:")).length,
        1,
      );
      assert.deepEqual(await snapshotsThere(), []);

      // a full pool on the server: one line naming it, nothing there; then room, and it goes
      const avail = Number(
        (await sh("zfs", ["get", "-H", "-p", "-o", "value", "available", server.pool])).stdout,
      );
      const filler = `${server.pool}/filler`;
      const reserve = `reservation=${avail - 1024 * 1024}`;
      assert.equal((await sh("zfs", ["create", "-o", reserve, filler])).code, 0);
      const full = await laptop.zvpg(["push", "staging", "big"]);
      assert.equal(full.code, 1, full.stdout + full.stderr);
      assert.match(
        full.stderr,
        /^error: remote 'staging' refused receive: cannot receive snapshot 'big'/m,
      );
      assert.deepEqual(await snapshotsThere(), []);
      await sh("zfs", ["destroy", filler]);

      const retry = await laptop.json<PushJson>(["push", "staging", "big"]);
      assert.equal(retry.pushed, true);
      assert.deepEqual(await snapshotsThere(), [`${tracking}@big`]);

      // the same on the way back: a pull cut by Ctrl-C, then pulled whole
      await server.psql(await server.port("main"), rows);
      await server.ok(["snapshot", "create", "sbig", "-m", "about 100 MB"]);
      const cut = await runAndSignal(
        laptop.configDir,
        ["pull", "staging", "sbig"],
        { after: /run: zfs receive/, signal: "SIGINT" },
      );
      assert.equal(cut.code, 130, cut.stderr.slice(-2000));
      const tracked = `${laptop.pool}/remotes/staging/main`;
      const here = await sh("zfs", [
        "list",
        "-H",
        "-t",
        "snapshot",
        "-o",
        "name",
        "-r",
        laptop.pool,
      ]);
      assert.doesNotMatch(here.stdout, new RegExp(`${tracked}@sbig`), "nothing half-received");
      const pulled = await laptop.json<PullJson>(["pull", "staging", "sbig"]);
      assert.equal(pulled.pulled, true);
      assert.equal(pulled.zfsName, `${tracked}@sbig`);
    } finally {
      await laptop.cleanup();
      await host.close();
    }
  },
);
