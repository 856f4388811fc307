/**
 * The merge corpus (issue 24): every case of tests/support/merge_corpus.ts runs through
 * `branch diff` and `branch merge` on the real stack, each in a database of its own, in one
 * pool with one branch. A merged case must leave the target's schema equal to a reference
 * database built by replaying setup + target + branch on the branch; a refused one must
 * refuse as expected and leave the target's schema as it was. Schemas are compared with the
 * server's `pg_dump --schema-only` (owners and grants kept), independently of the engine.
 *
 * Every case is run before anything is asserted; the test then fails naming each case that
 * did not behave. `ZVPG_CORPUS_REPORT=<file>` writes a JSON summary of every case;
 * `ZVPG_CORPUS_CASES=<regex>` runs only the cases whose name matches.
 *
 * @module
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CORPUS,
  CORPUS_ROLES,
  type CorpusCase,
  corpusDatabase,
  expectLabel,
} from "../support/merge_corpus.ts";
import { type CliResult, itest, sh, type TestEnv } from "../support/itest.ts";

/** What a case did, as the report and the final assertion see it. */
interface CaseReport {
  name: string;
  kind: string;
  database: string;
  expect: string;
  note: string | null;
  /** merged (exit 0), refused (exit 1), failed (another exit), setup-failed. */
  outcome: "merged" | "refused" | "failed" | "setup-failed";
  /** Whether the case behaved as expected (every check below passed). */
  ok: boolean;
  /** Whether `branch diff` saw a change. */
  diffHasChanges: boolean | null;
  /** How many statements the merge ran (from its JSON), when it exited 0. */
  statements: number | null;
  /** Those statements. */
  script: string[] | null;
  /** For a merge: whether the target's schema equals the reference's. */
  schemaMatches: boolean | null;
  /** The merge's error line, when it failed. */
  error: string | null;
  /** Why the case failed ("" when ok). */
  reason: string;
  seconds: number;
  /** Of `branch diff` and of `branch merge`. */
  diffSeconds: number;
  mergeSeconds: number;
}

interface Side {
  port: number;
  container: string;
  /** uid:gid of the data directory's owner, who may use the server's socket. */
  user: string;
}

/** A running branch's port, container and data owner. */
async function side(env: TestEnv, branch: string): Promise<Side> {
  const info = await env.json<{ port: number; container: string; mountpoint: string }>([
    "branch",
    "info",
    branch,
  ]);
  const owner = statSync(join(info.mountpoint, "pgdata"));
  return { port: info.port, container: info.container, user: `${owner.uid}:${owner.gid}` };
}

/** Runs a script with host psql, statement by statement (not one implicit transaction). */
async function runSql(env: TestEnv, port: number, database: string, sql: string): Promise<void> {
  if (sql.trim() === "") return;
  const child = new Deno.Command("psql", {
    args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port)]
      .concat(["-U", "postgres", "-d", database, "-f", "-"]),
    env: { PGPASSFILE: env.passFile, PGCONNECT_TIMEOUT: "5" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(sql));
  await writer.close();
  const out = await child.output();
  if (out.code !== 0) {
    throw new Error(`psql in ${database}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** `pg_dump --schema-only` of `database` by the server's own pg_dump, normalised. */
async function schemaOf(s: Side, database: string): Promise<string> {
  const r = await sh("docker", [
    ...["exec", "--user", s.user, s.container],
    ...["pg_dump", "--schema-only", "-h", "/var/run/postgresql", "-U", "postgres", "-d", database],
  ]);
  if (r.code !== 0) throw new Error(`pg_dump of ${database}: ${r.stderr.trim()}`);
  return normalise(r.stdout);
}

/** Seconds from `from` to `to` (now), to a tenth. */
function secondsSince(from: number, to = Date.now()): number {
  return Math.round((to - from) / 100) / 10;
}

/**
 * A dump without what is not schema: the header, SET lines, \restrict keys, blank lines and
 * bare `--` separators (the `-- Name: …` line of each object stays, to read a diff by).
 */
function normalise(dump: string): string {
  return dump.split("\n").filter((line) =>
    line.trim() !== "" && line !== "--" &&
    !/^-- (Dumped (from|by)|PostgreSQL database dump)/.test(line) &&
    !/^SET /.test(line) &&
    !/^SELECT pg_catalog\.set_config\('search_path'/.test(line) &&
    !/^\\(un)?restrict /.test(line)
  ).join("\n") + "\n";
}

/** A unified diff of two texts (`diff -u`), for a failure message. */
async function unifiedDiff(dir: string, a: string, b: string, labels: [string, string]) {
  const fa = join(dir, "a.sql");
  const fb = join(dir, "b.sql");
  writeFileSync(fa, a);
  writeFileSync(fb, b);
  const r = await sh("diff", ["-u", "--label", labels[0], "--label", labels[1], fa, fb]);
  return r.stdout.trimEnd();
}

/** The one `error:` line of a failed command (or its whole stderr). */
function errorLine(r: CliResult): string {
  return r.stderr.split("\n").find((l) => l.startsWith("error:")) ?? r.stderr.trim();
}

/** The cases to run: all, or those `ZVPG_CORPUS_CASES` (a regex) names. */
function selectedCases(): { index: number; c: CorpusCase; database: string }[] {
  const only = Deno.env.get("ZVPG_CORPUS_CASES");
  return CORPUS.map((c, index) => ({ index, c, database: corpusDatabase(index, c) }))
    .filter(({ c }) => !only || new RegExp(only).test(c.name));
}

/**
 * The database on feat whose schema a merged case must give main: the branch's own when
 * the target changed nothing, else a replay of setup + target + branch (`<db>_ref`).
 */
function referenceDatabase(c: CorpusCase, database: string): string {
  return c.target === undefined ? database : `${database}_ref`;
}

/** A case's report before anything is known of it: not ok, for `reason`. */
function newReport(
  c: CorpusCase,
  database: string,
  outcome: CaseReport["outcome"],
  reason: string,
): CaseReport {
  return {
    name: c.name,
    kind: c.kind,
    database,
    expect: expectLabel(c.expect),
    note: c.note ?? null,
    outcome,
    ok: false,
    diffHasChanges: null,
    statements: null,
    script: null,
    schemaMatches: null,
    error: null,
    reason,
    seconds: 0,
    diffSeconds: 0,
    mergeSeconds: 0,
  };
}

/** Runs one case's diff and merge and checks the outcome against its expectation. */
async function runCase(
  env: TestEnv,
  main: Side,
  feat: Side,
  c: CorpusCase,
  database: string,
): Promise<CaseReport> {
  const started = Date.now();
  const report = newReport(c, database, "failed", "");
  const reasons: string[] = [];
  const diff = await env.zvpg(["branch", "diff", "feat", "--database", database, "-f", "json"]);
  report.diffSeconds = secondsSince(started);
  if (diff.code !== 0) reasons.push(`branch diff exited ${diff.code}: ${errorLine(diff)}`);
  else {
    report.diffHasChanges = (JSON.parse(diff.stdout) as { hasChanges: boolean }).hasChanges;
    if (!report.diffHasChanges) reasons.push("branch diff sees no change");
  }
  const before = await schemaOf(main, database);
  const merging = Date.now();
  const merge = await env.zvpg(["branch", "merge", "feat", "--database", database, "-f", "json"]);
  report.mergeSeconds = secondsSince(merging);
  report.outcome = merge.code === 0 ? "merged" : merge.code === 1 ? "refused" : "failed";
  if (merge.code !== 0) report.error = errorLine(merge);
  else {
    report.script = (JSON.parse(merge.stdout) as { statements: string[] }).statements;
    report.statements = report.script.length;
  }
  const after = await schemaOf(main, database);
  if (c.expect === "merged") {
    if (merge.code !== 0) reasons.push(`merge exited ${merge.code}: ${report.error}`);
    // the reference is compared whatever the exit, to show how far off the target is
    const refDb = referenceDatabase(c, database);
    const reference = await schemaOf(feat, refDb);
    report.schemaMatches = after === reference;
    if (merge.code === 0 && !report.schemaMatches) {
      reasons.push(
        `merged, but the schema differs from the reference:\n${await unifiedDiff(
          env.base,
          after,
          reference,
          [`main/${database} (merged)`, `feat/${refDb} (reference)`],
        )}`,
      );
    }
  } else {
    if (merge.code === 0) {
      reasons.push(
        `expected a refusal matching ${c.expect.refused}, but it merged ${report.statements} statement(s)`,
      );
    } else if (merge.code !== 1 || !c.expect.refused.test(report.error ?? "")) {
      reasons.push(`expected a refusal matching ${c.expect.refused}, got: ${report.error}`);
    }
    if (merge.code !== 0 && after !== before) {
      reasons.push(
        `refused, but main's schema changed:\n${await unifiedDiff(env.base, before, after, [
          `main/${database} (before)`,
          `main/${database} (after)`,
        ])}`,
      );
    }
  }
  report.ok = reasons.length === 0;
  report.reason = reasons.join("; ");
  report.seconds = secondsSince(started);
  return report;
}

itest(
  "branch merge corpus: every schema change merges to the branch's schema or is refused",
  async (env) => {
    const started = Date.now();
    const cases = selectedCases();
    const reports: CaseReport[] = [];
    const broken = new Set<string>();
    const setupFailed = (c: CorpusCase, database: string, error: unknown) => {
      broken.add(c.name);
      reports.push(
        newReport(c, database, "setup-failed", `setup failed: ${(error as Error).message}`),
      );
    };

    // the base: one database per case, then the fork
    const mainPort = await env.port("main");
    await runSql(
      env,
      mainPort,
      "postgres",
      CORPUS_ROLES.map((r) => `create role ${r} nologin;`).join("\n"),
    );
    for (const { c, database } of cases) {
      try {
        await runSql(env, mainPort, "postgres", `create database ${database};`);
        await runSql(env, mainPort, database, c.setup);
      } catch (error) {
        setupFailed(c, database, error);
      }
    }
    await env.ok(["snapshot", "create", "base"]);
    await env.ok(["branch", "create", "feat", "--from", "base"]);
    const origin = await env.json<{ origin: string }>(["branch", "info", "feat"]);
    if (origin.origin !== "base") throw new Error(`feat's origin is ${origin.origin}, not base`);
    const main = await side(env, "main");
    const feat = await side(env, "feat");
    const forked = Date.now();

    // each side's changes, and the reference: setup + target + branch, replayed on feat
    for (const { c, database } of cases) {
      if (broken.has(c.name)) continue;
      try {
        await runSql(env, feat.port, database, c.branch);
        await runSql(env, main.port, database, c.target ?? "");
        if (c.expect === "merged" && c.target !== undefined) {
          await runSql(env, feat.port, "postgres", `create database ${database}_ref;`);
          for (const sql of [c.setup, c.target ?? "", c.branch]) {
            await runSql(env, feat.port, `${database}_ref`, sql);
          }
        }
      } catch (error) {
        setupFailed(c, database, error);
      }
    }
    const prepared = Date.now();

    for (const { c, database } of cases) {
      if (broken.has(c.name)) continue;
      const report = await runCase(env, main, feat, c, database);
      console.error(
        `${report.ok ? "ok  " : "FAIL"} ${database} ` +
          `(diff ${report.diffSeconds}s, merge ${report.mergeSeconds}s): ${report.outcome}` +
          (report.ok ? "" : ` — ${report.reason.split("\n")[0]}`),
      );
      reports.push(report);
    }
    const order = new Map(cases.map(({ c }, i) => [c.name, i]));
    reports.sort((a, b) => order.get(a.name)! - order.get(b.name)!);

    const summary = {
      cases: reports.length,
      ok: reports.filter((r) => r.ok).length,
      seconds: {
        total: secondsSince(started),
        setup: secondsSince(started, forked),
        changes: secondsSince(forked, prepared),
        cases: secondsSince(prepared),
      },
      reports,
    };
    const reportPath = Deno.env.get("ZVPG_CORPUS_REPORT");
    if (reportPath) writeFileSync(reportPath, JSON.stringify(summary, null, 2) + "\n");
    console.error(
      `merge corpus: ${summary.ok}/${summary.cases} cases ok in ${summary.seconds.total}s ` +
        `(setup ${summary.seconds.setup}s, changes ${summary.seconds.changes}s, ` +
        `cases ${summary.seconds.cases}s)`,
    );

    const failed = reports.filter((r) => !r.ok);
    if (failed.length > 0) {
      throw new Error(
        `${failed.length} of ${reports.length} corpus case(s) failed:\n` +
          failed.map((r) => `- ${r.database} [${r.kind}; expect ${r.expect}]: ${r.reason}`)
            .join("\n"),
      );
    }
  },
  { config: { zfsPoolSize: "6G" } },
);
