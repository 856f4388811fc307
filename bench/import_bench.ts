/**
 * Import benchmark: `zvpg init env --from <uri>` against a plain `pg_dump -Fc | pg_restore`
 * of the same source into a fresh server, side by side in one run; prints both times and
 * their ratio. Run as root on the test machine: `deno run -A bench/import_bench.ts [rows]`.
 *
 * @module
 */
import { sh, TestEnv } from "../tests/support/itest.ts";
import { SourceServer } from "../tests/support/source_server.ts";

const rows = Number(Deno.args[0] ?? "200000");
const env = new TestEnv();
const src = new SourceServer(env.portEnd + 3, "localhost/zvpg-postgres:17", 999);
const target = new SourceServer(env.portEnd + 4, "localhost/zvpg-postgres:17", 999);
try {
  await src.start();
  await src.psql(
    "app",
    `INSERT INTO orders (customer, total) SELECT g % 500 + 1, g FROM generate_series(1, ${rows}) g`,
  );
  await target.start();
  await target.psql("postgres", "CREATE DATABASE plain_copy");

  const t0 = performance.now();
  await src.dump("c", `${target.dir}/b.dump`);
  await target.docker(["cp", `${target.dir}/b.dump`, `${target.name}:/tmp/b.dump`]);
  const restore = await target.docker([
    "exec",
    "--user",
    "999",
    target.name,
    "pg_restore",
    "-h",
    "/tmp",
    "-U",
    "postgres",
    "-d",
    "plain_copy",
    "/tmp/b.dump",
  ]);
  const plain = (performance.now() - t0) / 1000;
  if (restore.code !== 0) throw new Error(restore.stderr);

  const t1 = performance.now();
  const r = await env.zvpg(
    ["init", "env", "--from", src.uri(), "--database", "app", "--jobs", "4"],
    {
      PGPASSWORD: src.password,
    },
  );
  const zvpg = (performance.now() - t1) / 1000;
  if (r.code !== 0) throw new Error(r.stderr);
  console.log(`rows ${rows}`);
  console.log(`plain pg_dump | pg_restore : ${plain.toFixed(1)} s`);
  console.log(
    `zvpg init env --from (-j4) : ${zvpg.toFixed(1)} s (includes pool, initdb, start, snapshot)`,
  );
  console.log(`ratio zvpg / plain         : ${(zvpg / plain).toFixed(2)}`);
} finally {
  await src.remove();
  await target.remove();
  await env.cleanup();
  void sh;
}
