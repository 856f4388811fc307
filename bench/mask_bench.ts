/**
 * Masking benchmark (issue 28): `zvpg refresh` of a masked main against `zvpg refresh` of a
 * plain main, of the same source, side by side in one run, the two alternating round by
 * round. The source holds `--size` of rows with personal data over `--tables` tables (a
 * unique e-mail, a name, a phone number, free text, a date and an amount each); the masked
 * environment masks every one of them. Each refresh is timed whole (the CLI run) and
 * profiled by phase from the `import phase:` lines of its log file.
 *
 * Run as root on the test machine:
 * `deno run -A bench/mask_bench.ts [--size 200MB] [--tables 2] [--runs 2] [--jobs 4]`;
 * writes bench/results/mask/mask.{json,md}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { TEST_IMAGE, TestEnv } from "../tests/support/itest.ts";
import { freePort, SourceServer } from "../tests/support/source_server.ts";
import { PHASE_MARK } from "../src/ops/import/progress.ts";
import { cleanupOnSignal, progress } from "./timed.ts";
import { formatMs, formatSize, parseSizeMiB, sizeLabel } from "./units.ts";
import { loadAverage } from "./machine_info.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "200MB" },
    tables: { type: "string", default: "2" },
    runs: { type: "string", default: "2" },
    jobs: { type: "string", default: "4" },
    out: { type: "string", default: new URL("./results/mask/", import.meta.url).pathname },
  },
});
const sizeMiB = parseSizeMiB(values.size!);
const tables = Number(values.tables);
const runs = Number(values.runs);
const jobs = Number(values.jobs);
/** Bytes of heap per generated row (about: header, six columns, line pointer). */
const ROW_BYTES = 180;
const rowsPerTable = Math.round(sizeMiB * 1048576 / ROW_BYTES / tables);

type Method = "plain" | "masked";
interface Sample {
  method: Method;
  round: number;
  ms: number;
  phases: Record<string, number>;
}

const source = new SourceServer(freePort(), TEST_IMAGE, 999);
const plain = new TestEnv({ zfsPoolSize: "30G" });
const masked = new TestEnv({ zfsPoolSize: "30G" });
const done = cleanupOnSignal(async () => {
  await plain.cleanup();
  await masked.cleanup();
  await source.remove();
});
const startedAt = new Date();
try {
  progress(`source: ${tables} tables × ${rowsPerTable} rows (~${sizeLabel(sizeMiB)} of heap)`);
  await source.start();
  for (let t = 0; t < tables; t++) await source.psql("app", tableSql(t, rowsPerTable));
  await source.psql("app", "VACUUM ANALYZE");
  const sourceBytes = Number(await source.psql("app", "SELECT pg_database_size('app')"));
  progress(`source ready: ${formatSize(sourceBytes)}`);
  const rules = join(masked.base, "masking.json");
  writeFileSync(rules, JSON.stringify(rulesFor(tables), null, 2));
  const from = ["--from", source.uri(), "--database", "app", "--jobs", String(jobs)];
  const pw = { PGPASSWORD: source.password };
  await plain.ok(["init", "env", ...from], pw);
  await masked.ok(["init", "env", ...from, "--mask", rules], pw);

  const samples: Sample[] = [];
  for (let round = 0; round < runs; round++) {
    const order: Method[] = round % 2 === 0 ? ["plain", "masked"] : ["masked", "plain"];
    for (const method of order) {
      progress(`round ${round + 1}/${runs}: ${method} refresh`);
      const env = method === "plain" ? plain : masked;
      const log = join(env.base, "log", "zvpg.log");
      Deno.writeTextFileSync(log, "");
      const t0 = performance.now();
      await env.ok(["refresh", "--jobs", String(jobs)], pw);
      const ms = performance.now() - t0;
      progress(`  ${method}: ${formatMs(ms)}`);
      samples.push({ method, round, ms, phases: phaseTimes(Deno.readTextFileSync(log), ms) });
    }
  }
  const info = {
    startedAt: startedAt.toISOString(),
    host: Deno.hostname(),
    cores: navigator.hardwareConcurrency,
    loadAverageAtEnd: loadAverage(),
    image: TEST_IMAGE,
    size: sizeLabel(sizeMiB),
    tables,
    rowsPerTable,
    sourceBytes,
    runs,
    jobs,
  };
  mkdirSync(values.out!, { recursive: true });
  Deno.writeTextFileSync(
    join(values.out!, "mask.json"),
    JSON.stringify({ info, samples }, null, 2) + "\n",
  );
  Deno.writeTextFileSync(join(values.out!, "mask.md"), report(info, samples));
  console.log(Deno.readTextFileSync(join(values.out!, "mask.md")));
} finally {
  await done();
}

/** One table of personal data: a unique e-mail, a name, a phone, text, a date, an amount. */
function tableSql(t: number, rows: number): string {
  return `SET ROLE app; CREATE TABLE people_${t} (id bigint PRIMARY KEY, email text UNIQUE NOT NULL,
    full_name text NOT NULL, phone text, note text, born date, amount numeric(12,2));
  INSERT INTO people_${t} SELECT g, 'person' || g || '@mail${t}.example', 'Name ' || md5(g::text),
    '+33 6 ' || lpad((g % 100000000)::text, 8, '0'), md5(g::text) || md5((g + 1)::text),
    date '1950-01-01' + g % 20000, (g % 100000) / 100.0 FROM generate_series(1, ${rows}) g;`;
}

/** The rules: every column of the source's tables (its own and the bench's). */
function rulesFor(n: number) {
  const tables: Record<string, unknown> = {
    "public.customers": { columns: { id: "keep", name: "name", feeling: "keep", token: "keep" } },
    "public.orders": "keep",
    "shop.items": "keep",
  };
  for (let t = 0; t < n; t++) {
    tables[`public.people_${t}`] = {
      columns: {
        id: "keep",
        email: "email",
        full_name: "name",
        phone: "phone",
        note: "text",
        born: { fake: "date", days: 90 },
        amount: { fake: "number", min: 0, max: 1000 },
      },
    };
  }
  return { version: 1, tables };
}

/** Phases of one CLI run from its log: each `import phase:` line lasts to the next. */
function phaseTimes(logText: string, totalMs: number): Record<string, number> {
  const marks = logText.split("\n").filter((l) => l.includes(`DEBUG ${PHASE_MARK}`)).map((l) => ({
    at: Date.parse(l.split(" ")[0]),
    name: phaseKey(l.slice(l.indexOf(PHASE_MARK) + PHASE_MARK.length)),
  }));
  const phases: Record<string, number> = {};
  marks.forEach((m, i) => {
    if (m.name === "done") return;
    phases[m.name] = (phases[m.name] ?? 0) + (marks[i + 1]?.at ?? m.at) - m.at;
  });
  const measured = Object.values(phases).reduce((a, b) => a + b, 0);
  phases["other (start, exit)"] = Math.max(0, totalMs - measured);
  return phases;
}

/** Groups phase names into the report's columns. */
function phaseKey(name: string): string {
  if (name.startsWith("dumping masked database")) return "dump masked";
  if (name.startsWith("restoring masked database")) return "restore masked";
  if (name.startsWith("masking database")) return "mask";
  if (name.startsWith("dumping database")) return "dump";
  if (name.startsWith("dumping roles")) return "dump";
  if (name.startsWith("restoring database")) return "restore";
  return name;
}

function report(info: Record<string, unknown>, samples: Sample[]): string {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const of = (m: Method) => samples.filter((s) => s.method === m);
  const plainMs = median(of("plain").map((s) => s.ms));
  const maskedMs = median(of("masked").map((s) => s.ms));
  const phaseNames = [...new Set(samples.flatMap((s) => Object.keys(s.phases)))];
  const lines = [
    "# Masked refresh against plain refresh (issue 28)",
    "",
    `Run ${info.startedAt} on ${info.host} (${info.cores} cores, load ${
      JSON.stringify(info.loadAverageAtEnd)
    } at the end), image ${info.image}. Source: ${info.tables} tables × ${info.rowsPerTable} rows` +
    ` of personal data (~${info.size} of heap; database ${
      formatSize(Number(info.sourceBytes))
    }), ${info.runs} rounds, --jobs ${info.jobs}; the two methods alternate within each round.`,
    "",
    "| Method | Median | Runs |",
    "| --- | --- | --- |",
    `| plain refresh | ${formatMs(plainMs)} | ${
      of("plain").map((s) => formatMs(s.ms)).join(", ")
    } |`,
    `| masked refresh | ${formatMs(maskedMs)} | ${
      of("masked").map((s) => formatMs(s.ms)).join(", ")
    } |`,
    "",
    `Masked / plain: ${(maskedMs / plainMs).toFixed(2)}×.`,
    "",
    "Median time per phase (ms):",
    "",
    `| Phase | plain | masked |`,
    "| --- | --- | --- |",
    ...phaseNames.map((p) =>
      `| ${p} | ${Math.round(median(of("plain").map((s) => s.phases[p] ?? 0)))} | ${
        Math.round(median(of("masked").map((s) => s.phases[p] ?? 0)))
      } |`
    ),
    "",
  ];
  return lines.join("\n");
}
