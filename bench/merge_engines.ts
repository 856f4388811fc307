/**
 * Three-way merge engines side by side on the merge corpus (issue 24: "measure
 * `@supabase/pg-delta` on the same corpus beside `@pgkit/migra`, and use whichever proves
 * more cases, or both behind the one interface with the proof as the judge").
 *
 * For each case of tests/support/merge_corpus.ts, one throwaway PostgreSQL 17 server holds
 * `<case>_base` (setup), `<case>_branch` (setup + branch) and `<case>_target` (setup +
 * target). Each engine plans the three-way merge of the branch into the target:
 *
 * - migra: zvpg's own steps (src/workflows/diff_merge_service.ts `merge()`): inspect the
 *   three sides with `migraEngine`, `objectChanges` / `findConflicts` / `idsToMerge`,
 *   `overlay` and `plan`;
 * - pg-delta: `pgDeltaThreeWay` (src/adapters/pg_delta_engine.ts), built on its fact bases.
 *
 * The script runs in one transaction on a fresh copy of the target (`create database …
 * template <case>_target`), and zvpg's proof judges it: `pg_dump --schema-only` (run in the
 * server's container) of base, branch, target and the copy, `parseSchemaDump`, `proveMerge`.
 * Data loss is zvpg's `classifyDataLoss` for both. A third column, migra → pg-delta, takes
 * pg-delta's result where migra's script fails or is not proven.
 *
 *     deno run -A bench/merge_engines.ts
 *
 * Needs docker and localhost/zvpg-postgres:17 (one server on a free port in 37000–37099,
 * removed at the end, also after a failure or Ctrl-C). Writes
 * bench/results/merge_engines/latest.{md,json,png}.
 *
 * @module
 */
import { join } from "node:path";
import { loadConfig } from "../src/config/config.ts";
import { createContext } from "../src/cli/session.ts";
import { type CommandRunner, DenoCommandRunner } from "../src/runtime/runner.ts";
import { applyInTransaction, migraEngine, type PgEndpoint } from "../src/adapters/schema_diff.ts";
import { pgDeltaThreeWay } from "../src/adapters/pg_delta_engine.ts";
import {
  classifyDataLoss,
  type ColumnFacts,
  findConflicts,
  idsToMerge,
  objectChanges,
} from "../src/domain/schema_merge.ts";
import {
  describeDifferences,
  parseSchemaDump,
  type ProofDifference,
  proveMerge,
  type SchemaDump,
} from "../src/domain/schema_proof.ts";
import {
  CORPUS,
  CORPUS_ROLES,
  type CorpusCase,
  expectLabel,
} from "../tests/support/merge_corpus.ts";
import { SourceServer } from "../tests/support/source_server.ts";
import { IMAGE, REPO } from "./bench_pool.ts";
import { machineInfo } from "./machine_info.ts";
import { cleanupOnSignal, progress } from "./timed.ts";
import { formatMs } from "./units.ts";

const OUT_DIR = join(REPO, "bench", "results", "merge_engines");
const PORTS = { first: 37000, last: 37099 };
/** The image's postgres user, who owns the data directory and may use its socket. */
const PG_UID = 999;

/** What happened to one engine's merge of one case. */
type Outcome = "proven" | "refused: conflict" | "script failed" | "not proven" | "plan failed";

interface EngineResult {
  engine: string;
  outcome: Outcome;
  /** What zvpg would do: merge, or refuse (conflict, data loss, failed or unproven script). */
  decision: "merged" | "refused";
  /** Why it refuses, in the words of zvpg's errors (`changed on both`, `would lose data`). */
  reason: string;
  /** Whether {@link decision} is the corpus case's expectation. */
  asExpected: boolean;
  /** …and, for a refusal, whether {@link reason} matches the case's expected error. */
  reasonAsExpected: boolean;
  /** Inspect or extract the three sides, find conflicts, plan: wall time. */
  planMs: number;
  statements: string[];
  conflicts: string[];
  /** zvpg's data-loss classification of the script. */
  dataLoss: string[];
  /** The statements the engine itself marks destructive (pg-delta only). */
  engineDestructive: string[] | null;
  differences: ProofDifference[];
  objectsChecked: number;
  error: string | null;
}

interface CaseResult {
  name: string;
  kind: string;
  expect: string;
  setupError: string | null;
  migra: EngineResult | null;
  pgDelta: EngineResult | null;
  /** migra, or pg-delta where migra's script failed or was not proven. */
  fallback: EngineResult | null;
}

/** The corpus's server, its programs run through zvpg's one runner. */
class BenchServer extends SourceServer {
  constructor(port: number, readonly runner: CommandRunner) {
    super(port, IMAGE, PG_UID);
  }

  override docker(args: string[]) {
    return this.runner.run("docker", args, { allowFailure: true, timeoutMs: 300_000 });
  }

  endpoint(database: string): PgEndpoint {
    return {
      host: "127.0.0.1",
      port: this.port,
      user: "postgres",
      password: this.password,
      database,
    };
  }

  /** Runs a script with psql over the socket, statement by statement; throws its error. */
  async script(database: string, sql: string): Promise<void> {
    if (sql.trim() === "") return;
    const r = await this.runner.run("docker", [
      ...["exec", "-i", "--user", `${PG_UID}:${PG_UID}`, this.name],
      ...["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "/tmp", "-U", "postgres"],
      ...["-d", database, "-f", "-"],
    ], { stdin: sql, allowFailure: true, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(r.stderr.trim().split("\n").pop() ?? `psql exit ${r.code}`);
  }

  /** `create database`, retried while the template still has a connection closing. */
  async createDatabase(name: string, template?: string): Promise<void> {
    const sql = `create database "${name}"${template ? ` template "${template}"` : ""}`;
    for (let attempt = 0;; attempt++) {
      try {
        return await this.script("postgres", sql);
      } catch (e) {
        if (attempt >= 20 || !/being accessed by other users/.test(String(e))) throw e;
        await new Promise((res) => setTimeout(res, 250));
      }
    }
  }

  /** The database's schema as the server's own `pg_dump --schema-only` writes it. */
  async schemaDump(database: string): Promise<SchemaDump> {
    const r = await this.runner.run("docker", [
      ...["exec", "--user", `${PG_UID}:${PG_UID}`, this.name],
      ...["pg_dump", "--schema-only", "--no-password", "-h", "/tmp", "-U", "postgres"],
      ...["-d", database],
    ], { allowFailure: true, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`pg_dump of ${database} failed: ${r.stderr.trim()}`);
    return parseSchemaDump(r.stdout);
  }
}

/** A port of the range nothing listens on now. */
function freePortInRange(): number {
  for (let port = PORTS.first; port <= PORTS.last; port++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // taken
    }
  }
  throw new Error(`no free port in ${PORTS.first}–${PORTS.last}`);
}

/** What an engine planned: conflicts (refused), or a script; the target's column facts. */
interface Planned {
  conflicts: string[];
  statements: string[];
  engineDestructive: string[] | null;
}

/** zvpg's three-way merge with migra, step by step as `DiffMergeService.merge()` does it. */
async function planMigra(
  base: PgEndpoint,
  branch: PgEndpoint,
  target: PgEndpoint,
  facts: { value?: ColumnFacts },
): Promise<Planned> {
  const b = await migraEngine.inspect(base);
  const ours = await migraEngine.inspect(branch);
  const theirs = await migraEngine.inspect(target);
  facts.value = theirs.facts;
  const branchChanges = objectChanges(b.objects, ours.objects);
  const targetChanges = objectChanges(b.objects, theirs.objects);
  const conflicts = findConflicts(branchChanges, targetChanges);
  if (conflicts.length > 0) {
    return {
      conflicts: conflicts.map((c) => `${c.kind} ${c.name} (${c.branch}/${c.target})`),
      statements: [],
      engineDestructive: null,
    };
  }
  const ids = idsToMerge(branchChanges, targetChanges);
  const desired = migraEngine.overlay(await migraEngine.inspect(target), ours, ids);
  return {
    conflicts: [],
    statements: await migraEngine.plan(theirs, desired),
    engineDestructive: null,
  };
}

async function planPgDelta(base: PgEndpoint, branch: PgEndpoint, target: PgEndpoint) {
  const p = await pgDeltaThreeWay.threeWayPlan(base, branch, target);
  return { conflicts: p.conflicts, statements: p.statements, engineDestructive: p.destructive };
}

const ENGINES = ["migra", "pg-delta"] as const;
type EngineName = typeof ENGINES[number];

/** Plans, applies to a copy of the target and proves one engine's merge of one case. */
async function runEngine(
  server: BenchServer,
  c: CorpusCase,
  db: string,
  engine: EngineName,
  dumps: { base: SchemaDump; branch: SchemaDump; target: SchemaDump },
  facts: { value?: ColumnFacts },
): Promise<EngineResult> {
  const ep = (side: string) => server.endpoint(`${db}_${side}`);
  const r: EngineResult = {
    engine,
    outcome: "proven",
    decision: "merged",
    reason: "",
    asExpected: false,
    reasonAsExpected: false,
    planMs: NaN,
    statements: [],
    conflicts: [],
    dataLoss: [],
    engineDestructive: null,
    differences: [],
    objectsChecked: 0,
    error: null,
  };
  const t0 = performance.now();
  try {
    const planned = engine === "migra"
      ? await planMigra(ep("base"), ep("branch"), ep("target"), facts)
      : await planPgDelta(ep("base"), ep("branch"), ep("target"));
    r.planMs = performance.now() - t0;
    Object.assign(r, planned);
  } catch (e) {
    r.planMs = performance.now() - t0;
    r.outcome = "plan failed";
    r.error = String(e instanceof Error ? e.message : e).split("\n")[0];
  }
  if (r.outcome === "proven" && r.conflicts.length > 0) r.outcome = "refused: conflict";
  if (r.outcome === "proven") {
    r.dataLoss = classifyDataLoss(r.statements, facts.value ?? { columns: {}, enums: {} })
      .map((l) => l.reason);
    let merged = dumps.target;
    if (r.statements.length > 0) {
      const copy = `${db}_m_${engine.replace("-", "")}`;
      await server.createDatabase(copy, `${db}_target`);
      try {
        await applyInTransaction(server.endpoint(copy), r.statements);
        merged = await server.schemaDump(copy);
      } catch (e) {
        r.outcome = "script failed";
        r.error = String(e instanceof Error ? e.message : e).split("\n")[0];
      }
      await server.script("postgres", `drop database "${copy}"`);
    }
    if (r.outcome === "proven") {
      const proof = proveMerge({ ...dumps, merged });
      r.objectsChecked = proof.objectsChecked;
      r.differences = proof.differences;
      if (proof.differences.length > 0) r.outcome = "not proven";
    }
  }
  judge(r, c);
  return r;
}

/** zvpg's decision on an engine's result (conflicts, then data loss, then the proof). */
function judge(r: EngineResult, c: CorpusCase): void {
  if (r.outcome === "refused: conflict") {
    r.reason = `changed on both since the fork: ${r.conflicts.join(", ")}`;
  } else if (r.outcome === "plan failed") r.reason = `the engine failed: ${r.error}`;
  else if (r.dataLoss.length > 0) r.reason = `would lose data: ${r.dataLoss.join("; ")}`;
  else if (r.outcome === "script failed") r.reason = `the merge script failed: ${r.error}`;
  else if (r.outcome === "not proven") {
    const problems = [...new Set(r.differences.map((d) => d.problem))].join(", ");
    r.reason = `not proven (${problems}): ${describeDifferences(r.differences)}`;
  }
  r.decision = r.reason === "" ? "merged" : "refused";
  r.asExpected = r.decision === (c.expect === "merged" ? "merged" : "refused");
  r.reasonAsExpected = c.expect === "merged" ? r.asExpected : c.expect.refused.test(r.reason);
}

/** migra's result, or pg-delta's where migra's script failed or was not proven. */
function fallbackOf(migra: EngineResult, pgDelta: EngineResult): EngineResult {
  const tryNext = ["script failed", "not proven", "plan failed"].includes(migra.outcome);
  const chosen = tryNext ? pgDelta : migra;
  return {
    ...chosen,
    engine: tryNext ? "migra → pg-delta" : "migra",
    planMs: tryNext ? migra.planMs + pgDelta.planMs : migra.planMs,
  };
}

async function runCase(server: BenchServer, c: CorpusCase, index: number): Promise<CaseResult> {
  const db = c.name.slice(0, 48);
  const result: CaseResult = {
    name: c.name,
    kind: c.kind,
    expect: expectLabel(c.expect),
    setupError: null,
    migra: null,
    pgDelta: null,
    fallback: null,
  };
  try {
    for (const [side, extra] of [["base", ""], ["branch", c.branch], ["target", c.target ?? ""]]) {
      await server.createDatabase(`${db}_${side}`);
      await server.script(`${db}_${side}`, c.setup);
      await server.script(`${db}_${side}`, extra);
    }
  } catch (e) {
    result.setupError = String(e instanceof Error ? e.message : e);
    return result;
  }
  const dumps = {
    base: await server.schemaDump(`${db}_base`),
    branch: await server.schemaDump(`${db}_branch`),
    target: await server.schemaDump(`${db}_target`),
  };
  const facts: { value?: ColumnFacts } = {};
  // alternate which engine goes first; migra's facts of the target serve both for data loss
  if (index % 2 === 0) {
    result.migra = await runEngine(server, c, db, "migra", dumps, facts);
    result.pgDelta = await runEngine(server, c, db, "pg-delta", dumps, facts);
  } else {
    facts.value = await migraEngine.inspect(server.endpoint(`${db}_target`))
      .then((t) => t.facts, () => undefined);
    result.pgDelta = await runEngine(server, c, db, "pg-delta", dumps, facts);
    result.migra = await runEngine(server, c, db, "migra", dumps, facts);
  }
  result.fallback = fallbackOf(result.migra, result.pgDelta);
  return result;
}

// ---------------------------------------------------------------------------------------
// report

const COLUMNS = [
  ["migra", (c: CaseResult) => c.migra],
  ["pg-delta", (c: CaseResult) => c.pgDelta],
  ["migra → pg-delta", (c: CaseResult) => c.fallback],
] as const;

function cell(r: EngineResult | null): string {
  if (!r) return "n/a";
  const n = r.statements.length;
  const what = r.outcome === "proven"
    ? `proven (${n} stmt${n === 1 ? "" : "s"})${r.dataLoss.length > 0 ? ", data loss" : ""}`
    : r.outcome === "refused: conflict"
    ? "conflict"
    : r.outcome === "not proven"
    ? `not proven (${n})${r.dataLoss.length > 0 ? ", data loss" : ""}`
    : r.outcome;
  return `${what}${r.asExpected ? "" : " ✗"}`;
}

interface Totals {
  engine: string;
  proven: number;
  conflict: number;
  notProven: number;
  failed: number;
  asExpected: number;
  reasonAsExpected: number;
  medianPlanMs: number;
}

function totalsOf(cases: CaseResult[]): Totals[] {
  return COLUMNS.map(([engine, pick]) => {
    const rs = cases.map(pick).filter((r): r is EngineResult => r !== null);
    const count = (f: (r: EngineResult) => boolean) => rs.filter(f).length;
    const ms = rs.map((r) => r.planMs).filter(Number.isFinite).sort((a, b) => a - b);
    return {
      engine,
      proven: count((r) => r.outcome === "proven"),
      conflict: count((r) => r.outcome === "refused: conflict"),
      notProven: count((r) => r.outcome === "not proven"),
      failed: count((r) => r.outcome === "script failed" || r.outcome === "plan failed"),
      asExpected: count((r) => r.asExpected),
      reasonAsExpected: count((r) => r.reasonAsExpected),
      medianPlanMs: ms.length ? ms[Math.floor(ms.length / 2)] : NaN,
    };
  });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function consoleReport(cases: CaseResult[], totals: Totals[]): string {
  const rows = [["case", "kind", "expect", ...COLUMNS.map(([n]) => n)]];
  for (const c of cases) {
    rows.push([
      c.name,
      c.kind,
      c.expect === "merged" ? "merged" : "refused",
      ...(c.setupError ? COLUMNS.map(() => "setup failed") : COLUMNS.map(([, p]) => cell(p(c)))),
    ]);
  }
  const t = [[
    "engine",
    "proven",
    "conflict",
    "not proven",
    "failed",
    "as expected",
    "plan (median)",
  ]];
  for (const x of totals) {
    t.push([
      x.engine,
      String(x.proven),
      String(x.conflict),
      String(x.notProven),
      String(x.failed),
      `${x.asExpected} / ${cases.length}`,
      formatMs(x.medianPlanMs),
    ]);
  }
  return `${table(rows)}\n\n(✗: not the case's expected outcome, merged vs refused)\n\n${table(t)}`;
}

function markdown(
  cases: CaseResult[],
  totals: Totals[],
  meta: Record<string, unknown>,
  chartError: string,
): string {
  const m = meta.machine as Record<string, unknown>;
  const v = meta.versions as Record<string, string>;
  const out = [
    "# Three-way merge engines on the merge corpus",
    "",
    `Run ${meta.date} by \`deno run -A bench/merge_engines.ts\` (issue 24). Machine: ${m.cpuModel}, ` +
    `nproc ${m.nproc}, ${m.ram} RAM, ${m.os}, kernel ${m.kernel}; zvpg ${m.zvpgCommit}.`,
    "",
    `Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(", ")}.`,
    "",
    "Each case of `tests/support/merge_corpus.ts` gets three databases on one throwaway " +
    "server: base (setup), branch (setup + branch SQL), target (setup + target SQL). Each " +
    "engine plans the three-way merge of the branch into the target (migra: zvpg's own steps " +
    "of `branch merge`; pg-delta: `pgDeltaThreeWay` of src/adapters/pg_delta_engine.ts, on " +
    "its fact bases); the script runs in one transaction on a copy of the target, and zvpg's " +
    "proof (`pg_dump --schema-only` of base, branch, target and the copy; `proveMerge`) " +
    "judges it. Data loss is zvpg's `classifyDataLoss` for both. **migra → pg-delta** takes " +
    "pg-delta's result where migra's script fails or is not proven. ✗ marks an outcome " +
    "unlike the case's expectation (merged vs refused). Plan time: inspect/extract the three " +
    "sides and plan (migra inspects the target twice, as `branch merge` does).",
    "",
    "![proven and failed per engine](latest.png)",
    "",
  ];
  if (chartError) out.push(`(${chartError})`, "");
  out.push("## Totals", "");
  out.push(
    "| engine | proven | refused: conflict | not proven | script/plan failed | as expected | refusal reason as expected | plan time (median) |",
    "|---|---|---|---|---|---|---|---|",
  );
  for (const x of totals) {
    out.push(
      `| ${x.engine} | **${x.proven}** | ${x.conflict} | ${x.notProven} | ${x.failed} | ` +
        `${x.asExpected} / ${cases.length} | ${x.reasonAsExpected} / ${cases.length} | ${
          formatMs(x.medianPlanMs)
        } |`,
    );
  }
  out.push("", "## Cases", "");
  out.push(
    `| case | kind | expect | ${
      COLUMNS.map(([n]) => n).join(" | ")
    } | plan ms (migra / pg-delta) |`,
  );
  out.push(`|---|---|---|${COLUMNS.map(() => "---").join("|")}|---|`);
  for (const c of cases) {
    const cells = c.setupError
      ? COLUMNS.map(() => "setup failed")
      : COLUMNS.map(([, p]) => cell(p(c)));
    const ms = c.migra && c.pgDelta
      ? `${Math.round(c.migra.planMs)} / ${Math.round(c.pgDelta.planMs)}`
      : "";
    out.push(
      `| ${c.name} | ${c.kind} | ${c.expect.replaceAll("|", "\\|")} | ${
        cells.join(" | ")
      } | ${ms} |`,
    );
  }
  const proven = (r: EngineResult | null) => r?.outcome === "proven";
  const only = (a: typeof COLUMNS[number], b: typeof COLUMNS[number]) =>
    cases.filter((c) => proven(a[1](c)) && !proven(b[1](c))).map((c) => c.name);
  out.push("", "## Proven by one engine only", "");
  out.push(`- migra only: ${only(COLUMNS[0], COLUMNS[1]).join(", ") || "none"}`);
  out.push(`- pg-delta only: ${only(COLUMNS[1], COLUMNS[0]).join(", ") || "none"}`);
  for (const [engine, pick] of COLUMNS) {
    out.push("", `## Where ${engine} is not proven, fails, or is not as expected`, "");
    const bad = cases.filter((c) => {
      const r = pick(c);
      return r && (r.outcome === "not proven" || r.outcome.endsWith("failed") || !r.asExpected);
    });
    if (bad.length === 0) out.push("None.");
    for (const c of bad) {
      const r = pick(c)!;
      const error = r.error && !r.reason.includes(r.error) ? ` (error: ${r.error})` : "";
      out.push(
        `- **${c.name}** (${r.outcome}; ${r.asExpected ? "" : "**not** "}as expected: ` +
          `${c.expect}): ${r.reason.replaceAll("\n", " ") || "merged"}${error}`,
      );
    }
  }
  const setup = cases.filter((c) => c.setupError);
  if (setup.length > 0) {
    out.push("", "## Cases whose setup failed", "");
    for (const c of setup) out.push(`- ${c.name}: ${c.setupError}`);
  }
  out.push("", "The scripts of every case and engine are in latest.json.", "");
  return out.join("\n");
}

/** Draws proven / refused / not proven / failed per engine (gnuplot PNG). "" when done. */
async function renderChart(totals: Totals[], runner: CommandRunner, title: string) {
  const dat = join(OUT_DIR, "latest.dat");
  const gp = join(OUT_DIR, "latest.gp");
  const q = (s: string) => `"${s.replaceAll('"', "'")}"`;
  Deno.writeTextFileSync(
    dat,
    "# engine proven conflict not_proven failed as_expected\n" +
      totals.map((t) =>
        [q(t.engine), t.proven, t.conflict, t.notProven, t.failed, t.asExpected].join(" ")
      ).join("\n") + "\n",
  );
  Deno.writeTextFileSync(
    gp,
    [
      "set terminal pngcairo size 900,560 font 'DejaVu Sans,10'",
      "set output 'latest.png'",
      `set title ${q(title)} noenhanced`,
      "set style data histograms",
      "set style histogram clustered gap 1",
      "set style fill solid 0.85 border -1",
      "set ylabel 'corpus cases'",
      "set yrange [0:*]",
      "set key outside bottom center horizontal maxrows 2 noenhanced",
      "set grid ytics",
      "plot 'latest.dat' using 2:xtic(1) title 'proven', '' using 3 title 'refused: conflict', \\",
      "  '' using 4 title 'not proven', '' using 5 title 'script/plan failed', \\",
      "  '' using 6 title 'as expected (merged vs refused)', \\",
      "  '' using ($0-0.333):2:2 with labels offset 0,0.7 notitle, \\",
      "  '' using ($0+0.333):6:6 with labels offset 0,0.7 notitle",
    ].join("\n") + "\n",
  );
  const r = await runner.run("gnuplot", ["-e", `cd '${OUT_DIR}'`, gp], {
    allowFailure: true,
    timeoutMs: 60_000,
  }).catch((e) => ({ code: 127, stdout: "", stderr: String(e) }));
  return r.code === 0 ? "" : `chart: gnuplot failed: ${r.stderr.trim()}`;
}

/** A version from deno.json's import map (`npm:@pgkit/migra@0.6.1` → 0.6.1). */
function importVersion(name: string): string {
  const map = JSON.parse(Deno.readTextFileSync(join(REPO, "deno.json"))).imports as Record<
    string,
    string
  >;
  return map[name]?.match(/@(\d[^/]*)\/?$/)?.[1] ?? "unknown";
}

// ---------------------------------------------------------------------------------------
// main

const runner = new DenoCommandRunner();
// the project's context, on a configuration of defaults, for the machine's description
const ctx = createContext(
  loadConfig({ env: { HOME: Deno.env.get("HOME") ?? "/root", ZVPG_CONFIG_DIR: "/nonexistent" } }),
  runner,
);
const machine: Record<string, unknown> = {
  nproc: Number((await runner.run("nproc", [])).stdout.trim()),
  ...(await machineInfo(ctx)),
};
const server = new BenchServer(freePortInRange(), runner);
const cleanup = cleanupOnSignal(() => server.remove());
try {
  progress(`starting ${IMAGE} on port ${server.port}`);
  await server.start();
  for (const role of CORPUS_ROLES) await server.script("postgres", `create role ${role} nologin`);
  const versions: Record<string, string> = {
    PostgreSQL: (await server.psql("postgres", "show server_version")).split(" ")[0],
    pg_dump: (await server.docker(["exec", server.name, "pg_dump", "--version"])).stdout
      .match(/\d+\.\d+/)?.[0] ?? "unknown",
    "@pgkit/migra": importVersion("@pgkit/migra"),
    "@supabase/pg-delta": importVersion("@supabase/pg-delta/"),
    Deno: Deno.version.deno,
    docker: String(machine.docker),
  };
  const cases: CaseResult[] = [];
  for (const [i, c] of CORPUS.entries()) {
    progress(`${i + 1}/${CORPUS.length} ${c.name}`);
    cases.push(await runCase(server, c, i));
  }
  const totals = totalsOf(cases);
  const date = new Date().toISOString();
  Deno.mkdirSync(OUT_DIR, { recursive: true });
  const chartError = await renderChart(
    totals,
    runner,
    `Three-way merge on the corpus (${cases.length} cases), judged by pg_dump — ${
      date.slice(0, 10)
    }, nproc ${machine.nproc}, ${machine.ram}`,
  );
  const meta = { date, machine, versions, port: server.port };
  Deno.writeTextFileSync(
    join(OUT_DIR, "latest.json"),
    JSON.stringify({ ...meta, totals, cases }, null, 2) + "\n",
  );
  Deno.writeTextFileSync(join(OUT_DIR, "latest.md"), markdown(cases, totals, meta, chartError));
  console.log(consoleReport(cases, totals));
  if (chartError) console.error(chartError);
} finally {
  await cleanup();
}
