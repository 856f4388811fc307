/**
 * In-process runs of the CLI: `main(args)` on a context whose runner is the strict fake,
 * with stdout, stderr and the exit code captured and compared with golden files.
 *
 * Regenerate the golden files with `ZVPG_UPDATE_GOLDEN=1 deno test -A tests/cli/`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../main.ts";
import { terminal } from "../../src/cli/render.ts";
import type { Config } from "../../src/config/config.ts";
import type { MountTable } from "../../src/adapters/mount_table.ts";
import { type ExpectedCall, FakeRunner } from "../../src/runtime/fake_runner.ts";
import type { Context } from "../../src/context.ts";
import { createContext } from "../../src/cli/session.ts";
import { PostgresProbe } from "../../src/adapters/postgres.ts";
import { NOW, testConfig, treeMounted, withTempDir } from "../unit/helpers.ts";

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "golden");

/** What one run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The context the run used (its layout gives paths). */
  ctx: Context;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** The calls the command must make, in order (built once the context exists). */
  calls?: (ctx: Context) => ExpectedCall[];
  /** Changes to the test configuration. */
  config?: Partial<Config>;
  /** The mount table the run sees (default: the host's, with clones and sockets mounted). */
  mounts?: MountTable;
  /** Extra replacements that make the output deterministic (e.g. a port found free). */
  replace?: [string, string][];
  /** Prepares files of the run's directories before it (e.g. the remotes file). */
  setUp?: (ctx: Context) => void;
  /** Looks at the run's directories after it, before they are removed. */
  after?: (ctx: Context) => void;
}

/**
 * Runs `zvpg <args>` in process on a fresh temp directory configuration and a strict
 * fake runner; fails when an expected call was not made. Paths under the temp directory
 * print as `$TMP`.
 */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  return await withTempDir(async (dir) => {
    const fake = new FakeRunner();
    const ctx = createContext(testConfig(dir, options.config), fake);
    ctx.now = () => NOW;
    ctx.mounts = options.mounts ?? treeMounted(ctx.layout);
    ctx.pg = new PostgresProbe(() => Promise.resolve("ready"));
    fake.expect(...(options.calls?.(ctx) ?? []));
    options.setUp?.(ctx);
    const { code, stdout, stderr } = await captured(() => main(args, { context: () => ctx }));
    options.after?.(ctx);
    try {
      fake.assertDone();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n(exit ${code}; stderr: ${stderr.trim()})`);
    }
    const clean = (s: string) =>
      [[dir, "$TMP"], [encodeURIComponent(dir), "$TMP"], ...(options.replace ?? [])].reduce(
        (t, [a, b]) => t.replaceAll(a, b),
        s,
      );
    return { code, stdout: clean(stdout), stderr: clean(stderr), ctx };
  });
}

/** Runs `fn` with stdout and stderr (terminal and console) captured. */
async function captured(
  fn: () => Promise<number>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const saved = { out: terminal.out, err: terminal.err, log: console.log, error: console.error };
  terminal.out = (s) => void (stdout += s);
  terminal.err = (s) => void (stderr += s);
  console.log = (...a: unknown[]) => void (stdout += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => void (stderr += a.join(" ") + "\n");
  try {
    return { code: await fn(), stdout, stderr };
  } finally {
    Object.assign(terminal, { out: saved.out, err: saved.err });
    console.log = saved.log;
    console.error = saved.error;
  }
}

/**
 * Compares a run with `golden/<name>`: the exit code, then stdout, then stderr when there
 * is any. `ZVPG_UPDATE_GOLDEN=1` rewrites the file instead.
 */
export function assertGolden(name: string, run: CliRun): void {
  // a call the fixture did not expect is a broken test, never an output to keep
  assert.doesNotMatch(run.stderr + run.stdout, /unexpected call|expected \[/);
  const actual = [
    `exit ${run.code}`,
    "--- stdout",
    run.stdout.trimEnd(),
    ...(run.stderr === "" ? [] : ["--- stderr", run.stderr.trimEnd()]),
  ].join("\n") + "\n";
  const file = join(GOLDEN_DIR, name);
  if (Deno.env.get("ZVPG_UPDATE_GOLDEN") === "1" || !existsSync(file)) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    if (Deno.env.get("ZVPG_UPDATE_GOLDEN") !== "1") {
      throw new Error(`golden file ${name} was missing: written, check it and run again`);
    }
    return;
  }
  assert.equal(actual, readFileSync(file, "utf8"), `golden/${name} differs`);
}

/** For JSON runs: stdout parses as one JSON document. */
export function assertJsonOnly(run: CliRun): unknown {
  return JSON.parse(run.stdout);
}
