import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, itest, type TestEnv } from "../support/itest.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

interface DiffJson {
  hasChanges: boolean;
  base: { branch: string; snapshot: string | null };
  compare: { branch: string };
  objects: { kind: string; name: string; change: string; before: string | null }[];
  statements: string[];
  data: { table: string; changed: boolean; inserted: number | null }[] | null;
}

interface MergeJson {
  applied: boolean;
  dryRun: boolean;
  preMergeSnapshot: string | null;
  statements: string[];
  objects: { kind: string; name: string }[];
  dataLoss: { reason: string }[];
}

async function branchNames(env: TestEnv): Promise<string[]> {
  return (await env.json<{ name: string }[]>(["branch", "list"])).map((b) => b.name).sort();
}

async function snapshotNames(env: TestEnv): Promise<string[]> {
  return (await env.json<{ name: string }[]>(["snapshot", "list"])).map((s) => s.name);
}

itest(
  "branch diff/merge: a branch's schema changes are shown and merged into main",
  async (env) => {
    const main = await env.port("main");
    await env.psql(
      main,
      `create type mood as enum ('a', 'b');
     create table users (id int primary key, name text, m mood);
     create view names as select id from users;
     insert into users values (1, 'ann', 'a'), (2, 'bob', 'b')`,
    );
    await env.ok(["branch", "create", "feat"]);
    const feat = await env.port("feat");
    await env.psql(
      feat,
      `create table orders (id int primary key, user_id int);
     alter table users add column email text;
     create index users_name on users (name);
     alter type mood add value 'c';
     create function answer() returns int language sql as 'select 42';
     create or replace view names as select id, name from users;
     insert into users values (3, 'cy', 'a')`,
    );

    // text: one unified diff per object; --exit-code: 1 as there are differences
    const text = await env.zvpg(["branch", "diff", "feat", "--exit-code"]);
    assert.equal(text.code, 1, text.stderr);
    for (
      const header of [
        "+++ b/table public.orders",
        "+++ b/table public.users",
        "+++ b/index public.users_name",
        "+++ b/enum public.mood",
        "+++ b/function public.answer()",
        "+++ b/view public.names",
      ]
    ) assert.ok(text.stdout.includes(header), `${header} in:\n${text.stdout}`);
    assert.match(text.stdout, /^\+\s+"email" text/m);

    // JSON, with the data summary
    const diff = await env.json<DiffJson>(["branch", "diff", "feat", "--data"]);
    assert.equal(diff.hasChanges, true);
    assert.equal(diff.compare.branch, "feat");
    assert.equal(diff.base.branch, "main");
    assert.ok(diff.base.snapshot?.startsWith("auto-"));
    const kinds = diff.objects.map((o) => `${o.change} ${o.kind} ${o.name}`);
    for (
      const k of [
        "added table public.orders",
        "modified table public.users",
        "added index public.users_name",
        "modified enum public.mood",
        "added function public.answer()",
        "modified view public.names",
      ]
    ) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
    const users = diff.data!.find((t) => t.table === "public.users")!;
    assert.equal(users.changed, true);
    assert.equal(users.inserted, 1);

    // dry run: the SQL, nothing applied
    const dry = await env.ok(["branch", "merge", "feat", "--dry-run"]);
    assert.match(dry.stdout, /create table "public"\."orders"/);
    assert.match(dry.stdout, /^begin;$/m);
    assert.equal(await env.psql(main, "select to_regclass('public.orders') is null"), "t");

    // the merge, then the two branches have the same schema
    const out = join(env.base, "migration.sql");
    const merged = await env.json<MergeJson>(["branch", "merge", "feat", "--output", out]);
    assert.equal(merged.applied, true);
    assert.ok(merged.preMergeSnapshot?.startsWith("pre-merge-feat-"));
    assert.match(readFileSync(out, "utf8"), /create table "public"\."orders"/);
    assert.equal(await env.psql(main, "select answer()"), "42");
    assert.equal(await env.psql(main, "select count(*) from users"), "2", "rows are not merged");
    const after = await env.json<DiffJson>(["branch", "diff", "main", "feat"]);
    assert.deepEqual(after.objects, [], JSON.stringify(after.objects));
    assert.equal(after.hasChanges, false);
    assert.equal((await env.zvpg(["branch", "diff", "main", "feat", "--exit-code"])).code, 0);

    // the pre-merge snapshot has main as it was
    await env.ok(["branch", "create", "restored", "--from", merged.preMergeSnapshot!]);
    const restored = await env.port("restored");
    assert.equal(await env.psql(restored, "select to_regclass('public.orders') is null"), "t");
    // no temporary clone is left
    assert.deepEqual(await branchNames(env), ["feat", "main", "restored"]);
    assert.equal((await env.containers()).length, 3);

    // `branch reset main --to pre-merge-…` undoes the merge in place, on the same port;
    // the branch made from the pre-merge snapshot keeps running on it
    const mainPort = await env.port("main");
    const reset = await env.json<{ resetTo: string; port: number }>([
      "branch",
      "reset",
      "main",
      "--to",
      merged.preMergeSnapshot!,
    ]);
    assert.equal(reset.resetTo, merged.preMergeSnapshot);
    assert.equal(reset.port, mainPort);
    assert.equal(await env.psql(mainPort, "select to_regclass('public.orders') is null"), "t");
    assert.equal(await env.psql(mainPort, "select count(*) from users"), "2");
    const undone = await env.json<DiffJson>(["branch", "diff", "main", "restored"]);
    assert.equal(undone.hasChanges, false, JSON.stringify(undone.objects));
    assert.equal(await env.psql(restored, "select 1"), "1");
    // a plain reset of main is still refused: it has no origin
    const plain = await env.zvpg(["branch", "reset", "main"]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /default branch.*--to one of its own snapshots/s);
  },
);

itest(
  "branch merge: data loss, conflicts and a failing script are refused, changing nothing",
  async (env) => {
    const main = await env.port("main");
    await env.psql(
      main,
      `create table t (id int, a int, b int);
     create function f() returns int language sql as 'select 1'`,
    );
    for (const b of ["drops", "clash", "unique"]) await env.ok(["branch", "create", b]);
    await env.psql(await env.port("drops"), "alter table t drop column b");
    await env.psql(
      await env.port("clash"),
      "create or replace function f() returns int language sql as 'select 2'",
    );
    await env.psql(await env.port("unique"), "create unique index t_a on t (a)");
    await env.psql(
      main,
      `create or replace function f() returns int language sql as 'select 3';
     insert into t values (1, 1, 1), (2, 1, 1)`,
    );
    const snapshotsBefore = await snapshotNames(env);

    assertCliError(
      await env.zvpg(["branch", "merge", "drops"]),
      1,
      /would lose data: drops column public\.t\.b .*— .*--allow-data-loss/,
    );
    assertCliError(
      await env.zvpg(["branch", "merge", "clash"]),
      1,
      /changed on both since the fork: function public\.f\(\) \(modified on 'clash', modified on 'main'\)/,
    );
    // a merge killed with its temporary clone up: the next one removes the leftover
    const killed = await env.zvpg(["branch", "merge", "unique"], {
      ZVPG_FAULT: "branch.diff.after-temporary",
    });
    assert.notEqual(killed.code, 0);
    assert.ok((await branchNames(env)).some((b) => b.startsWith("zvpg-tmp-")));
    // `status health` names the leftover and `--repair` deletes it
    const health = await env.zvpg(["status", "health"]);
    assert.equal(health.code, 1, health.stdout);
    assert.match(health.stdout, /temporary clone of a diff or merge whose zvpg process is gone/);
    await env.ok(["status", "health", "--repair"]);
    assert.ok(!(await branchNames(env)).some((b) => b.startsWith("zvpg-tmp-")));
    assert.equal((await env.zvpg(["status", "health"])).code, 0);
    // killed again: the next merge removes the leftover itself
    await env.zvpg(["branch", "merge", "unique"], { ZVPG_FAULT: "branch.diff.after-temporary" });
    assert.ok((await branchNames(env)).some((b) => b.startsWith("zvpg-tmp-")));
    assertCliError(
      await env.zvpg(["branch", "merge", "unique"]),
      1,
      /failed on a throwaway clone of 'main'.*could not create unique index/,
    );
    assert.equal(await env.psql(main, "select to_regclass('public.t_a') is null"), "t");
    assert.equal(
      await env.psql(
        main,
        "select count(*) from information_schema.columns where table_name = 't'",
      ),
      "3",
    );
    assert.deepEqual(await snapshotNames(env), snapshotsBefore, "no pre-merge snapshot");
    assert.deepEqual(await branchNames(env), ["clash", "drops", "main", "unique"]);

    // allowed: the drop goes in, and main's own change since the fork stays
    const merged = await env.json<MergeJson>(["branch", "merge", "drops", "--allow-data-loss"]);
    assert.equal(merged.applied, true);
    assert.equal(merged.dataLoss.length, 1);
    assert.equal(
      await env.psql(
        main,
        "select count(*) from information_schema.columns where table_name = 't'",
      ),
      "2",
    );
    assert.equal(await env.psql(main, "select f()"), "3");

    assert.deepEqual(await branchNames(env), ["clash", "drops", "main", "unique"]);
    assert.equal((await env.containers()).length, 4);

    // Ctrl-C with the temporary clone up: exit 130, and the clone is gone
    const stopped = await interruptAt(
      env,
      ["branch", "diff", "clash"],
      "branch.diff.after-temporary",
    );
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.deepEqual(await branchNames(env), ["clash", "drops", "main", "unique"]);
    assert.equal((await env.containers()).length, 4);
  },
);

itest(
  "branch merge: an enum value, sequence and identity options and OWNED BY merge as on the branch",
  async (env) => {
    const main = await env.port("main");
    await env.psql(
      main,
      `create type mood as enum ('a', 'b');
     create table users (id int primary key, m mood);
     create table inv (id int primary key);
     insert into inv select generate_series(1, 999);
     create table o (id serial primary key);
     create sequence counter as integer`,
    );
    await env.ok(["branch", "create", "feat"]);
    await env.psql(
      await env.port("feat"),
      `alter type mood add value 'meh';
     create sequence inv_no start 5000 increment 10;
     alter table inv alter column id add generated always as identity (start with 1000);
     create sequence o_ids;
     alter table o alter column id set default nextval('o_ids');
     alter sequence o_id_seq owned by none;
     alter sequence o_ids owned by o.id;
     alter sequence counter increment 5 maxvalue 1000`,
    );
    // every change is a difference, to the engine and to pg_dump
    const diff = await env.json<DiffJson & { dumpChanges: string[] }>(["branch", "diff", "feat"]);
    for (const o of ["SEQUENCE public.inv_no", "SEQUENCE public.counter", "TYPE public.mood"]) {
      assert.ok(diff.dumpChanges.includes(o), `${o} in ${diff.dumpChanges}`);
    }
    const changed = diff.objects.map((o) => `${o.kind} ${o.name}`);
    for (const o of ["sequence public.counter", "sequence public.o_id_seq", "table public.inv"]) {
      assert.ok(changed.includes(o), `${o} in ${changed}`);
    }

    const merged = await env.json<MergeJson & { proof: { proven: boolean } }>([
      "branch",
      "merge",
      "feat",
    ]);
    assert.equal(merged.applied, true);
    assert.equal(merged.proof.proven, true);
    // checked independently of zvpg's proof: the whole schema is the branch's
    assert.equal(await env.schemaDump("main"), await env.schemaDump("feat"));
    assert.equal(
      await env.psql(main, "with r as (insert into inv default values returning id) table r"),
      "1000",
    );
    assert.equal(await env.psql(main, "select nextval('inv_no')"), "5000");
    assert.equal(
      await env.psql(main, "with r as (insert into users values (1, 'meh') returning m) table r"),
      "meh",
    );
    assert.equal(await env.psql(main, "select pg_get_serial_sequence('o', 'id')"), "public.o_ids");
    assert.equal((await env.zvpg(["branch", "diff", "main", "feat", "--exit-code"])).code, 0);
  },
);

itest(
  "branch merge: pg-delta takes over where migra is not proven; what neither can do is refused",
  async (env) => {
    const main = await env.port("main");
    await env.psql(
      main,
      "create table t (id int primary key, legacy text); create table u (a int, b int)",
    );
    for (const b of ["noted", "moved", "lossy"]) await env.ok(["branch", "create", b]);
    await env.psql(await env.port("noted"), "comment on table t is 'the ledger'");
    await env.psql(
      await env.port("moved"),
      "alter table u drop column a; alter table u add column a int",
    );
    await env.psql(await env.port("lossy"), "alter table t drop column legacy");
    const before = await env.schemaDump("main");

    // a column order no statement can give: refused by merge and --dry-run, naming it
    const order =
      /cannot merge 'moved' into 'main': .*TABLE public\.u its columns in another order .*--allow-difference/;
    assertCliError(await env.zvpg(["branch", "merge", "moved"]), 1, order);
    assertCliError(await env.zvpg(["branch", "merge", "moved", "--dry-run"]), 1, order);
    assert.equal(await env.schemaDump("main"), before);
    assert.ok(!(await snapshotNames(env)).some((s) => s.startsWith("pre-merge-")));
    assert.equal((await env.zvpg(["branch", "diff", "moved", "--exit-code"])).code, 1);

    // --dry-run of a lossy merge shows the loss (its refusal's hint sends the user there)
    assertCliError(await env.zvpg(["branch", "merge", "lossy"]), 1, /review it with --dry-run/);
    const dry = await env.zvpg(["branch", "merge", "lossy", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^-- DATA LOSS: drops column public\.t\.legacy/m);
    assert.match(dry.stdout, /^-- proven: /m);
    assert.equal(await env.schemaDump("main"), before);

    // a comment, which migra does not model: its script is not proven, pg-delta's is
    const noted = await env.json<MergeJson & { engine: string; proof: { proven: boolean } }>([
      "branch",
      "merge",
      "noted",
    ]);
    assert.deepEqual([noted.applied, noted.engine, noted.proof.proven], [true, "pg-delta", true]);
    assert.equal(await env.psql(main, "select obj_description('t'::regclass)"), "the ledger");

    // accepted knowingly: merged, each difference in a warning and in the JSON
    const knowingly = await env.zvpg([
      "branch",
      "merge",
      "moved",
      "--allow-difference",
      "-f",
      "json",
    ]);
    assert.equal(knowingly.code, 0, knowingly.stderr);
    assert.match(knowingly.stderr, /merging knowingly, unlike 'moved': TABLE public\.u/);
    const json = JSON.parse(knowingly.stdout) as { proof: { proven: boolean } };
    assert.equal(json.proof.proven, false);
  },
);

/** Runs zvpg in its own process group and sends SIGINT to it once it pauses at `step`. */
async function interruptAt(
  env: TestEnv,
  args: string[],
  step: string,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "--allow-all", join(ROOT, "main.ts"), ...args],
    env: { ZVPG_CONFIG_DIR: env.configDir, ZVPG_FAULT_DELAY: `${step}:3000` },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  let signalled = false;
  for await (const chunk of child.stderr) {
    stderr += decoder.decode(chunk);
    if (!signalled && stderr.includes(`fault point '${step}': pausing`)) {
      signalled = true;
      // the whole group, as a terminal does
      Deno.kill(-child.pid, "SIGINT");
    }
  }
  const status = await child.status;
  return { code: status.code, stderr };
}
