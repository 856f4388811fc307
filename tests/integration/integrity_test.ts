/**
 * Integrity: a snapshot taken while pgbench writes is a crash-consistent image in which
 * no transaction committed before the snapshot is lost, every btree index passes amcheck
 * and pgbench's balance invariant holds.
 *
 * @module
 */
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { itest, sh } from "../support/itest.ts";
import { containerOf, must, sleep } from "../support/fault_support.ts";

const SCALE = 5;

/** pgbench's built-in tpcb-like transaction, plus one ledger row per transaction. */
const SCRIPT = `\\set aid random(1, ${100000 * SCALE})
\\set bid random(1, ${SCALE})
\\set tid random(1, ${10 * SCALE})
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
INSERT INTO ledger DEFAULT VALUES;
END;
`;

/** Checks every btree index of the pgbench tables and the ledger; returns how many. */
const AMCHECK = `
select count(*) from (
  select bt_index_check(index => c.oid, heapallindexed => true)
  from pg_index i
  join pg_class c on c.oid = i.indexrelid
  join pg_am a on a.oid = c.relam
  join pg_class t on t.oid = i.indrelid
  where a.amname = 'btree' and (t.relname like 'pgbench\\_%' or t.relname = 'ledger')
) checked`;

const BALANCES = "select (select sum(abalance) from pgbench_accounts), " +
  "(select sum(tbalance) from pgbench_tellers), (select sum(bbalance) from pgbench_branches)";

itest(
  "a snapshot under pgbench load loses no committed transaction and passes amcheck",
  async (env) => {
    const container = await containerOf(env, "main");
    const main = await env.port("main");
    const pgbench = (args: string[]) =>
      sh("docker", [
        "exec",
        "-u",
        "999",
        container,
        "pgbench",
        "-h",
        "/var/run/postgresql",
        "-U",
        "postgres",
        ...args,
        "postgres",
      ]);
    const init = await pgbench(["-i", "-q", "-s", String(SCALE)]);
    assert.equal(init.code, 0, init.stderr);
    await env.psql(
      main,
      "create table ledger (id bigserial primary key, at timestamptz default now())",
    );
    const script = join(env.base, "tx.sql");
    writeFileSync(script, SCRIPT);
    chmodSync(script, 0o644);
    await must("docker", ["cp", script, `${container}:/tmp/zvpg-tx.sql`]);

    let loadEnded = 0;
    const load = pgbench(["-n", "-c", "4", "-j", "2", "-T", "10", "-f", "/tmp/zvpg-tx.sql"])
      .then((r) => {
        loadEnded = Date.now();
        return r;
      });
    try {
      await sleep(3000);
      const [maxText, committedText] = (await env.psql(
        main,
        "select coalesce(max(id), 0), count(*) from ledger",
      )).split("|");
      const maxId = Number(maxText);
      const committed = Number(committedText);
      assert.ok(maxId > 0, "the load committed transactions before the snapshot");
      await sleep(500);
      await env.ok(["snapshot", "create", "mid", "-m", "taken under pgbench load"]);
      const snapshotTaken = Date.now();
      await env.ok(["branch", "create", "check", "--from", "mid"]);
      const result = await load;
      assert.equal(result.code, 0, result.stderr);
      assert.ok(loadEnded > snapshotTaken, "the load still ran when the snapshot was taken");

      const branch = await env.json<{ status: string; port: number }>([
        "branch",
        "info",
        "check",
      ]);
      assert.equal(branch.status, "running");
      const port = branch.port;
      await env.psql(port, "create extension amcheck");
      const checked = Number(await env.psql(port, AMCHECK));
      assert.ok(checked >= 4, `amcheck checked ${checked} btree indexes`);

      const below = `select count(*) from ledger where id <= ${maxId}`;
      const inBranch = Number(await env.psql(port, below));
      const inMain = Number(await env.psql(main, below));
      assert.equal(inBranch, inMain, "a transaction committed before the snapshot is missing");
      assert.ok(inBranch >= committed, `${inBranch} < ${committed} committed before`);
      const totalBranch = Number(await env.psql(port, "select count(*) from ledger"));
      const totalMain = Number(await env.psql(main, "select count(*) from ledger"));
      assert.ok(totalMain > totalBranch, "the snapshot was taken before the load ended");
      // every transaction wrote one history row and one ledger row, atomically
      assert.equal(
        await env.psql(port, "select count(*) from pgbench_history"),
        String(totalBranch),
      );

      const [a, t, b] = (await env.psql(port, BALANCES)).split("|");
      assert.ok(a === t && t === b, `balances differ in the branch: ${a} ${t} ${b}`);
      const [ma, mt, mb] = (await env.psql(main, BALANCES)).split("|");
      assert.ok(ma === mt && mt === mb, `balances differ in main: ${ma} ${mt} ${mb}`);
    } finally {
      await load.catch(() => undefined);
    }
  },
);
