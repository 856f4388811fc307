import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { itest, sh, TestEnv } from "../support/itest.ts";
import { type SourceServer, withSource } from "../support/source_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const VERIFY = join(ROOT, "scripts", "mask_verify.sh");

/** Personal data in several tables: a unique e-mail, a JSON column, a partitioned table. */
const PERSONAL_SQL = `
SET ROLE app;
CREATE TABLE people (id serial PRIMARY KEY, email text UNIQUE NOT NULL, full_name text NOT NULL,
  phone text, prefs jsonb, born date);
CREATE TABLE payments (id bigserial, person_email text NOT NULL REFERENCES people (email),
  amount numeric(10,2), paid_on date NOT NULL, note text) PARTITION BY RANGE (paid_on);
CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE payments_2026 PARTITION OF payments FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO people (email, full_name, phone, prefs, born)
  SELECT 'secret.person' || g || '@realmail.example', 'Realname Secretsson' || g,
    '+33 6 12 34 ' || lpad(g::text, 4, '0'),
    jsonb_build_object('street', 'Secretstreet ' || g, 'theme', 'dark'), date '1980-01-01' + g
  FROM generate_series(1, 200) g;
INSERT INTO payments (person_email, amount, paid_on, note)
  SELECT 'secret.person' || (g % 200 + 1) || '@realmail.example', g, date '2025-06-01' + (g % 300),
    'paid by card Secretcard' || g
  FROM generate_series(1, 1000) g;
`;

/** Values of the source that must appear nowhere once masked. */
const SAMPLES = ["realmail.example", "Secretsson", "Secretstreet", "Secretcard", "Ångström"];

const RULES = {
  version: 1,
  tables: {
    "public.customers": {
      columns: { id: "keep", name: "name", feeling: "keep", token: "keep" },
    },
    "public.orders": "keep",
    "shop.items": "keep",
    "public.people": {
      columns: {
        id: "keep",
        email: "email",
        full_name: "name",
        phone: "phone",
        prefs: { sql: "jsonb_build_object('theme', prefs -> 'theme')" },
        born: { fake: "date", days: 30 },
      },
    },
    "public.payments": {
      columns: {
        id: "keep",
        person_email: "email",
        amount: { fake: "number", min: 1, max: 500 },
        paid_on: "keep",
        note: "text",
      },
    },
  },
};

/** Every sample found in the files under `dir` (as root: the data directories too). */
function samplesInFiles(dir: string): string[] {
  const found = new Set<string>();
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 256 * 1024 * 1024) {
        const bytes = readFileSync(p);
        for (const s of SAMPLES) if (bytes.includes(Buffer.from(s))) found.add(s);
      }
    }
  };
  walk(dir);
  return [...found].sort();
}

/** Every sample found in a `zfs send` stream of each snapshot of main's dataset. */
async function samplesInSends(env: TestEnv): Promise<string[]> {
  const snaps = await sh("zfs", [
    "list",
    "-H",
    "-o",
    "name",
    "-t",
    "snapshot",
    "-r",
    `${env.pool}/data`,
  ]);
  const found = new Set<string>();
  const names = snaps.stdout.split("\n").filter((l) => l.startsWith(`${env.pool}/data@`));
  assert.ok(names.length > 0, "main has snapshots");
  for (const snap of names) {
    const out = await new Deno.Command("zfs", { args: ["send", snap], stdout: "piped" }).output();
    assert.equal(out.code, 0, `zfs send ${snap}`);
    const bytes = Buffer.from(out.stdout);
    for (const s of SAMPLES) if (bytes.includes(Buffer.from(s))) found.add(s);
  }
  return [...found].sort();
}

async function scratchLeft(env: TestEnv): Promise<string[]> {
  return (await env.datasets()).filter((d) => d.includes("mask-scratch"));
}

async function addPersonalData(src: SourceServer): Promise<void> {
  await src.psql("app", PERSONAL_SQL);
}

itest(
  "init env --from --mask: main, its snapshots and sends hold no source value; unmasked they do",
  async (env) => {
    await withSource(async (src) => {
      await addPersonalData(src);
      const rules = join(env.base, "masking.json");
      writeFileSync(rules, JSON.stringify(RULES, null, 2));
      const pw = { PGPASSWORD: src.password };

      // a rules file missing a table stops the run before anything is made
      const partial = join(env.base, "partial.json");
      const { ["public.payments"]: _, ...rest } = RULES.tables;
      writeFileSync(partial, JSON.stringify({ version: 1, tables: rest }, null, 2));
      const refused = await env.zvpg(["init", "env", "--from", src.uri(), "--mask", partial], pw);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /public\.payments has no rule/);
      assert.equal((await sh("zpool", ["list", env.pool])).code, 1, "no pool was made");

      await env.ok(["init", "env", "--from", src.uri(), "--mask", rules, "-f", "json"], pw);
      const port = await env.port("main");
      // joins across masked keys still match; the fakes are what the rules say
      assert.equal(
        await env.psql(
          port,
          "SELECT count(*) FROM people p JOIN payments y ON y.person_email = p.email",
          "app",
        ),
        "1000",
      );
      assert.equal(
        await env.psql(
          port,
          "SELECT count(*) FROM people WHERE email LIKE 'user-%@example.com'",
          "app",
        ),
        "200",
      );
      assert.equal(
        await env.psql(
          port,
          'SELECT count(*) FROM people WHERE prefs = \'{"theme": "dark"}\'',
          "app",
        ),
        "200",
      );
      assert.equal(await env.psql(port, "SELECT count(*) FROM orders", "app"), "2000");
      assert.deepEqual(await scratchLeft(env), []);
      const props = await sh("zfs", [
        "get",
        "-H",
        "-o",
        "value",
        "zvpg:masked",
        `${env.pool}/data`,
      ]);
      assert.match(props.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
      // no source value in main's files, nor in what a clone or push of a snapshot carries
      assert.deepEqual(samplesInFiles(join(env.mountDir, "data")), []);
      assert.deepEqual(await samplesInSends(env), []);

      // the documented script says the same
      const verified = await sh("bash", [VERIFY, env.pool, ...SAMPLES]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);

      // the same search finds them after an unmasked import: the check can fail
      const plain = new TestEnv();
      try {
        await plain.ok(["init", "env", "--from", src.uri()], pw);
        assert.deepEqual(samplesInFiles(join(plain.mountDir, "data")), [...SAMPLES].sort());
        assert.deepEqual(await samplesInSends(plain), [...SAMPLES].sort());
        const found = await sh("bash", [VERIFY, plain.pool, ...SAMPLES]);
        assert.equal(found.code, 1, found.stdout + found.stderr);
        assert.match(found.stdout, /FOUND 'Secretsson' in a zfs send of /);
        // an unmasked main is not masked by a refresh: its snapshots keep the real data
        const maskLater = await plain.zvpg(["refresh", "--mask", rules], pw);
        assert.equal(maskLater.code, 1, maskLater.stderr);
        assert.match(maskLater.stderr, /branch 'main' holds unmasked data/);
        // a remote that takes only masked snapshots refuses the unmasked import's
        const dir = join(plain.base, "safe");
        mkdirSync(dir);
        await plain.ok(["remote", "add", "safe", `file://${dir}`, "--masked-only"]);
        const [imported] = await plain.json<{ name: string }[]>(["snapshot", "list"]);
        const refusedPush = await plain.zvpg(["push", "safe", imported.name]);
        assert.equal(refusedPush.code, 1, refusedPush.stderr);
        assert.match(refusedPush.stderr, /is not masked, and remote 'safe' takes only masked/);
        assert.deepEqual(readdirSync(dir), []);
      } finally {
        await plain.cleanup();
      }

      // a column added after the rules were written stops the refresh; main unchanged
      await src.psql("app", "ALTER TABLE people ADD COLUMN ssn text");
      await src.psql("app", "UPDATE people SET ssn = 'SSN-' || id");
      const before = await env.datasets();
      const stopped = await env.zvpg(["refresh"], pw);
      assert.equal(stopped.code, 1, stopped.stderr);
      assert.match(stopped.stderr, /public\.people: column\(s\) ssn have no rule/);
      assert.deepEqual(await env.datasets(), before);
      assert.equal(await env.psql(port, "SELECT count(*) FROM people", "app"), "200");

      // Ctrl-C while masking: exit 130, no scratch left, main unchanged
      const fixed = structuredClone(RULES) as typeof RULES;
      (fixed.tables["public.people"].columns as Record<string, unknown>).ssn = "null";
      writeFileSync(rules, JSON.stringify(fixed, null, 2));
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", join(ROOT, "main.ts"), "refresh"],
        env: {
          ZVPG_CONFIG_DIR: env.configDir,
          ZVPG_FAULT_DELAY: "mask.after-mask:4000",
          ...pw,
        },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let stderr = "";
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      while (!stderr.includes("pausing")) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += value;
      }
      assert.match(stderr, /fault point 'mask\.after-mask'/);
      child.kill("SIGINT");
      (async () => {
        while (!(await reader.read()).done);
      })();
      const status = await child.status;
      assert.equal(status.code, 130);
      assert.deepEqual(await scratchLeft(env), []);
      assert.deepEqual(await env.datasets(), before);
      const leftovers = (await env.containers()).filter((c) => c.includes("import"));
      assert.deepEqual(leftovers, []);

      // killed while masking (kill -9): the scratch stays, main unchanged; the next masked
      // refresh removes it first, once 'status health --repair' removed the loader
      const killed = await env.zvpg(["refresh"], { ...pw, ZVPG_FAULT: "mask.after-mask" });
      assert.notEqual(killed.code, 0);
      assert.deepEqual(await scratchLeft(env), [`${env.pool}/zvpg-mask-scratch`]);
      assert.equal(await env.psql(port, "SELECT count(*) FROM people", "app"), "200");
      await env.zvpg(["status", "health", "--repair"]);

      // the refresh with the fixed rules: masked again, the new column null
      await env.ok(["refresh"], pw);
      const now = await env.port("main");
      assert.equal(
        await env.psql(now, "SELECT count(*) FROM people WHERE ssn IS NULL", "app"),
        "200",
      );
      assert.deepEqual(samplesInFiles(join(env.mountDir, "data")), []);
      assert.deepEqual(await samplesInSends(env), []);
      assert.deepEqual(await scratchLeft(env), []);

      // main says it is masked; its snapshots and a branch of one are, and a masked-only
      // remote takes them
      const main = await env.json<{ masked: string | null }>(["branch", "info", "main"]);
      assert.match(main.masked ?? "", /^sha256:[0-9a-f]{64}$/);
      await env.ok(["snapshot", "create", "s1"]);
      const s1 = await env.json<{ masked: string | null }>(["snapshot", "info", "s1"]);
      assert.equal(s1.masked, main.masked);
      await env.ok(["branch", "create", "dev", "--from", "s1"]);
      const dev = await env.json<{ masked: string | null }>(["branch", "info", "dev"]);
      assert.equal(dev.masked, main.masked);
      const dir = join(env.base, "safe");
      mkdirSync(dir);
      await env.ok(["remote", "add", "safe", `file://${dir}`, "--masked-only"]);
      await env.ok(["push", "safe", "s1"]);
      await env.ok(["push", "safe", "dev"]);
    });
  },
  { init: false },
);
