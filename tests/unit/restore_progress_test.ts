import assert from "node:assert/strict";
import {
  baseBackupProgress,
  RestoreObjectCounter,
  tocEntryCount,
} from "../../src/domain/restore_progress.ts";
import { ImportProgress } from "../../src/ops/import/progress.ts";
import { parseIdOutput } from "../../src/ops/cluster_init.ts";
import { firstError } from "../../src/ops/pg_client.ts";
import { treeBytes } from "../../src/ops/import/load_datadir.ts";

Deno.test("RestoreObjectCounter: a serial restore counts one object per creating/processing/executing line", () => {
  const c = new RestoreObjectCounter();
  c.feed('pg_restore: connecting to database for restore\npg_restore: creating SCHEMA "shop"\n');
  c.feed('pg_restore: creating TABLE "public.orders"\npg_restore: processing data for table "pub');
  assert.equal(c.done, 2, "a line split across chunks counts once it is complete");
  c.feed('lic.orders"\npg_restore: executing SEQUENCE SET invoice_no\n');
  c.feed('pg_restore: creating INDEX "public.customers_name"\n');
  assert.equal(c.done, 5);
});

Deno.test("RestoreObjectCounter: in the parallel loop only the leader's 'finished item' lines count", () => {
  const c = new RestoreObjectCounter();
  const out = [
    'pg_restore: creating TABLE "public.orders"',
    "pg_restore: entering main parallel loop",
    "pg_restore: launching item 3406 TABLE DATA orders",
    'pg_restore: processing data for table "public.orders"',
    "pg_restore: finished item 3406 TABLE DATA orders",
    'pg_restore: creating INDEX "public.orders_pkey"',
    "pg_restore: finished item 3300 INDEX orders_pkey",
    "pg_restore: finished main parallel loop",
    'pg_restore: creating ACL "public.TABLE customers"',
    "",
  ].join("\n");
  assert.equal(c.feed(out), 4);
});

Deno.test("RestoreObjectCounter: lines of other programs and errors count nothing", () => {
  const c = new RestoreObjectCounter();
  assert.equal(c.feed("pg_restore: error: could not execute query\nNOTICE: creating x\n"), 0);
});

Deno.test("tocEntryCount: counts the entries of a pg_restore -l listing, not its comments", () => {
  const listing = [
    ";",
    "; Archive created at 2026-11-25",
    ";     dbname: app",
    "3406; 1259 16390 TABLE public orders app",
    "3407; 0 16390 TABLE DATA public orders app",
    ";3408; 0 0 COMMENT disabled",
    "",
  ].join("\n");
  assert.equal(tocEntryCount(listing), 2);
});

Deno.test("baseBackupProgress: the last done/total kB pair of pg_basebackup --progress, in bytes", () => {
  assert.equal(baseBackupProgress("waiting for checkpoint"), undefined);
  const text = "    10/23000 kB (0%), 0/1 tablespace\r 11500/23000 kB (50%), 0/1 tablespace\r";
  assert.deepEqual(baseBackupProgress(text), { done: 11500 * 1024, total: 23000 * 1024 });
});

Deno.test("ImportProgress: on a terminal, phases and counts show with the elapsed time, counts at most once a second", () => {
  let now = 0;
  const shown: string[] = [];
  const p = new ImportProgress(true, () => now, (l) => shown.push(l));
  p.phase("restoring database 'app'");
  now = 1500;
  p.objects(10, 40);
  now = 1900;
  p.objects(12, 40);
  now = 2600;
  p.bytes(3 * 1048576, 8 * 1048576);
  assert.deepEqual(shown, [
    "import: restoring database 'app' (0.0 s)",
    "import: restoring database 'app': 10/40 objects (1.5 s)",
    "import: restoring database 'app': 3.0 MiB of 8.0 MiB (2.6 s)",
  ]);
});

Deno.test("ImportProgress: not on a terminal, nothing is shown", () => {
  const shown: string[] = [];
  const p = new ImportProgress(false, () => 5000, (l) => shown.push(l));
  p.phase("preflight");
  p.objects(3);
  p.bytes(1);
  assert.deepEqual(shown, []);
});

Deno.test("parseIdOutput: reads uid and gid of `id postgres`", () => {
  assert.deepEqual(
    parseIdOutput("uid=100(postgres) gid=102(postgres) groups=102(postgres),101(ssl-cert)\n"),
    { uid: 100, gid: 102 },
  );
  assert.equal(parseIdOutput("id: 'postgres': no such user"), undefined);
});

Deno.test("firstError: an 'error:' line wins over a verbose line naming an object 'failed_jobs'", () => {
  const stderr = 'pg_restore: creating TABLE "public.failed_jobs"\n' +
    "pg_restore: error: could not execute query: ERROR:  boom\n";
  assert.match(firstError({ code: 1, stdout: "", stderr }), /^pg_restore: error: could not/);
});

Deno.test("treeBytes: sums the regular files below a directory; 0 for a missing one", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/base/1`, { recursive: true });
    Deno.writeFileSync(`${dir}/PG_VERSION`, new Uint8Array(3));
    Deno.writeFileSync(`${dir}/base/1/1259`, new Uint8Array(8192));
    Deno.symlinkSync(`${dir}/PG_VERSION`, `${dir}/link`);
    assert.equal(treeBytes(dir), 8195);
    assert.equal(treeBytes(`${dir}/missing`), 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
