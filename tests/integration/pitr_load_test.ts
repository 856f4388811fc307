/**
 * Point-in-time branches of a main that is being written to, on the real stack: two
 * writers insert and update rows without pause for a minute while the test commits marked
 * rows every few seconds and takes a snapshot half-way; a branch at the moment right after
 * each of several marks holds exactly the marks committed before it, replayed from the
 * newest snapshot before it, whatever the writers did around it.
 */
import assert from "node:assert/strict";
import { itest } from "../support/itest.ts";
import { type Created, rows, sleep } from "../support/pitr.ts";

/** Seconds between two marks; six marks make the minute of writes. */
const MARK_EVERY_MS = 9000;

itest(
  "pitr: under a minute of concurrent writes, a branch at each mark holds exactly the marks before it",
  async (env) => {
    const main = await env.port("main");
    await env.psql(main, "create table t (id int primary key)");
    await env.psql(main, "create table load (n bigint, w int, pad text)");
    await env.ok(["snapshot", "create", "s1"]);
    await sleep(2100);

    let writing = true;
    let batches = 0;
    const writer = async (w: number) => {
      for (let n = 0; writing; n += 200) {
        await env.psql(
          main,
          `insert into load select g, ${w}, repeat(md5(g::text), 8) from generate_series(${n}, ${
            n + 199
          }) g; update load set pad = md5(pad) where w = ${w} and n % 97 = ${n % 97}`,
        );
        batches++;
      }
    };
    const writers = [writer(1), writer(2)];
    const after: Date[] = [];
    try {
      for (let id = 1; id <= 6; id++) {
        await sleep(MARK_EVERY_MS);
        await env.psql(main, `insert into t values (${id})`);
        after[id] = new Date();
        if (id === 3) {
          await env.ok(["snapshot", "create", "s2"]);
          // past the margin after a base (file times may be whole seconds: zfs-fuse)
          await sleep(3100);
        }
      }
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    assert.ok(batches > 20, `the writers wrote ${batches} batches`);

    const at = (id: number) => new Date(after[id].getTime() + 150).toISOString();
    const expected: [number, string][] = [[2, "s1"], [3, "s1"], [5, "s2"], [6, "s2"]];
    for (const [id, base] of expected) {
      const made = await env.json<Created>(["branch", "create", `m${id}`, "--at", at(id)]);
      assert.equal(made.pointInTime.base, base, `mark ${id}: ${JSON.stringify(made)}`);
      const marks = Array.from({ length: id }, (_, i) => i + 1).join(",");
      assert.equal(await rows(env, `m${id}`), marks, `mark ${id}`);
      assert.ok(made.pointInTime.reachedTime! <= at(id), JSON.stringify(made.pointInTime));
      await env.ok(["branch", "delete", `m${id}`]);
    }
    assert.equal(await rows(env, "main"), "1,2,3,4,5,6");
  },
  { config: { walArchive: true } },
);
