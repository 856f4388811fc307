/**
 * The docs against the code: every field docs/json.md documents is in the command's golden
 * `-f json` output (tests/cli/golden/), every command of `--help` has a page under
 * docs/commands/, and every relative link of README.md, CONTRIBUTING.md and docs/ resolves.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { buildProgram } from "../../src/cli/app.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const GOLDEN = join(ROOT, "tests/cli/golden");
const JSON_DOC = join(ROOT, "docs/json.md");

/**
 * The command whose `-f json` output each golden file holds, as tests/cli/*_test.ts run it
 * (a few render the view directly: `branch diff`, `branch merge`).
 */
export const GOLDEN_COMMANDS: Record<string, string> = {
  "branch_archive_none.json": "zvpg branch archive feature/auth -f json",
  "branch_create.json": "zvpg branch create feature/new --from baseline -f json",
  "branch_create_exists.json": "zvpg branch create feature/auth --if-not-exists -f json",
  "branch_delete.json": "zvpg branch delete feature/auth -f json",
  "branch_diff.json": "zvpg branch diff feature/auth -f json",
  "branch_env.json": "zvpg branch env feature/auth -f json",
  "branch_expire.json": "zvpg branch expire feature/auth <time> -f json",
  "branch_info.json": "zvpg branch info feature/auth -f json",
  "branch_info_running.json": "zvpg branch show feature/auth -f json",
  "branch_list.json": "zvpg branch list -f json",
  "branch_merge.json": "zvpg branch merge feature/auth -f json",
  "branch_merge_not_proven.json": "zvpg branch merge feature/auth --allow-difference -f json",
  "branch_protect.json": "zvpg branch protect feature/auth -f json",
  "branch_reset.json": "zvpg branch reset feature/auth -f json",
  "branch_reset_in_place.json": "zvpg branch reset feature/auth -f json",
  "branch_reset_own.json": "zvpg branch reset feature/auth --to <own snapshot> -f json",
  "branch_snapshot.json": "zvpg branch snapshot feature/auth v2 -f json",
  "branch_start.json": "zvpg branch start feature/new -f json",
  "branch_stop.json": "zvpg branch stop feature/auth -f json",
  "branch_stop_stopped.json": "zvpg branch stop feature/auth -f json",
  "branch_unprotect.json": "zvpg branch unprotect feature/auth -f json",
  "branch_url.json": "zvpg branch url feature/auth -f json",
  "branch_url_password.json": "zvpg branch url feature/auth --show-password -f json",
  "commit_create.json": "zvpg commit create v2 -f json",
  "commit_remove.json": "zvpg commit remove v2 -f json",
  "gc.json": "zvpg gc -f json",
  "gc_dry_run.json": "zvpg gc --dry-run -f json",
  "gc_kept.json": "zvpg gc -f json",
  "gc_remote_base.json": "zvpg gc -f json",
  "init_check.json": "zvpg init check -f json",
  "init_env_exists.json": "zvpg init env -f json",
  "log.json": "zvpg log -f json",
  "log_branch.json": "zvpg log feature/auth -f json",
  "log_pulled.json": "zvpg log -f json",
  "pull.json": "zvpg pull usb v2 -f json",
  "pull_increment.json": "zvpg pull usb v2 -f json",
  "fetch_file.json": "zvpg fetch usb -f json",
  "fetch_ssh.json": "zvpg fetch origin -f json",
  "pull_present.json": "zvpg pull usb v2 -f json",
  "pull_ssh.json": "zvpg pull origin v2 -f json",
  "push.json": "zvpg push usb baseline -f json",
  "push_increment.json": "zvpg push usb v2 -f json",
  "push_present.json": "zvpg push usb baseline -f json",
  "push_ssh.json": "zvpg push origin v2 -f json",
  "remote_add.json": "zvpg remote add origin ssh://backup@db2.example.com:2222/tank/zvpg -f json",
  "remote_list.json": "zvpg remote list -f json",
  "remote_remove.json": "zvpg remote remove usb -f json",
  "snapshot_create.json": "zvpg snapshot create v2 -f json",
  "snapshot_delete.json": "zvpg snapshot delete v2 -f json",
  "snapshot_delete_pulled.json": "zvpg snapshot delete usb/v2 -f json",
  "snapshot_info.json": "zvpg snapshot info baseline -f json",
  "snapshot_list.json": "zvpg snapshot list -f json",
  "snapshot_list_pulled.json": "zvpg snapshot list -f json",
  "status_branches.json": "zvpg status branches -f json",
  "status_health.json": "zvpg status health -f json",
  "status_health_transfers.json": "zvpg status health -f json",
  "status_repair_transfers.json": "zvpg status health --repair -f json",
  "status_repair_nothing.json": "zvpg status health --repair -f json",
  "status_snapshots.json": "zvpg status snapshots -f json",
  "status_system.json": "zvpg status -f json",
};

/** One `## ` section of docs/json.md: its golden files and its fenced json blocks. */
interface JsonSection {
  heading: string;
  /** null for a section that says `Golden: none`. */
  golden: string[] | null;
  blocks: unknown[];
}

/** Splits docs/json.md into its sections (text before the first `## ` is not one). */
export function jsonSections(markdown: string): JsonSection[] {
  return markdown.split(/^## /m).slice(1).map((part) => {
    const heading = part.slice(0, part.indexOf("\n")).trim();
    const goldenLine = part.match(/^Golden: (.*(?:\n(?!\n).*)*)/m)?.[1];
    const golden = goldenLine === undefined
      ? []
      : /^none\b/.test(goldenLine)
      ? null
      : [...goldenLine.matchAll(/\(\.\.\/tests\/cli\/golden\/([\w.-]+\.json)\)/g)].map((m) => m[1]);
    const blocks = [...part.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => {
      try {
        return JSON.parse(m[1]);
      } catch (e) {
        throw new Error(`docs/json.md "${heading}": a json block does not parse: ${e}`);
      }
    });
    return { heading, golden, blocks };
  });
}

/** The JSON document a golden file holds on stdout (`$PORT` stands for a number there). */
export function goldenJson(name: string): unknown {
  const text = readFileSync(join(GOLDEN, name), "utf8");
  const start = text.indexOf("--- stdout\n");
  assert.ok(start >= 0, `${name} has no stdout`);
  const end = text.indexOf("\n--- stderr", start);
  const stdout = text.slice(start + "--- stdout\n".length, end < 0 ? undefined : end);
  return JSON.parse(stdout.replace(/(:\s*)\$PORT\b/g, "$10"));
}

/** Every field path of a value: `proof.differences[].object`; `[]` is any element. */
export function fieldPaths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => fieldPaths(v, `${prefix}[]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    return [path, ...fieldPaths(v, path)];
  });
}

type Presence = "yes" | "vacuous" | "no";

/**
 * Whether `path` exists in `value`. Through an empty array or a null it is "vacuous": the
 * golden file neither holds nor contradicts it.
 */
export function presence(value: unknown, path: string): Presence {
  const tokens = path.split(/\.|(?=\[\])|(?<=\[\])/).filter((t) => t !== "");
  const walk = (v: unknown, rest: string[]): Presence => {
    if (rest.length === 0) return "yes";
    const [token, ...tail] = rest;
    if (token === "[]") {
      if (!Array.isArray(v)) return "no";
      if (v.length === 0) return "vacuous";
      const found = v.map((e) => walk(e, tail));
      return found.includes("yes") ? "yes" : found.includes("vacuous") ? "vacuous" : "no";
    }
    // a nullable object that is null here: another golden file must hold its fields
    if (v === null) return "vacuous";
    if (typeof v !== "object" || Array.isArray(v) || !(token in v)) return "no";
    return walk((v as Record<string, unknown>)[token], tail);
  };
  return walk(value, tokens);
}

/** The problems of docs/json.md against the golden files, one line each. */
export function jsonDocProblems(markdown: string): string[] {
  const problems: string[] = [];
  const referenced = new Set<string>();
  for (const { heading, golden, blocks } of jsonSections(markdown)) {
    if (golden === null) continue;
    if (blocks.length > 0 && golden.length === 0) {
      problems.push(
        `docs/json.md "${heading}": a json block but no "Golden:" line naming its file`,
      );
      continue;
    }
    for (const name of golden) {
      referenced.add(name);
      if (!existsSync(join(GOLDEN, name))) {
        problems.push(`docs/json.md "${heading}": golden file ${name} does not exist`);
      }
    }
    const goldens = golden.filter((name) => existsSync(join(GOLDEN, name)))
      .map((name) => ({ name, json: goldenJson(name) }));
    for (const block of blocks) {
      for (const path of new Set(fieldPaths(block))) {
        let held = false;
        let contradicted = false;
        for (const { name, json } of goldens) {
          // a documented object checked against a list of them: the list's elements
          const where = Array.isArray(json) && !Array.isArray(block) ? `[].${path}` : path;
          const found = presence(json, where);
          if (found === "yes") held = true;
          if (found === "no") {
            contradicted = true;
            problems.push(
              `${GOLDEN_COMMANDS[name] ?? name}: field '${path}' documented in docs/json.md ` +
                `"${heading}" is missing from tests/cli/golden/${name}`,
            );
          }
        }
        if (!held && !contradicted && goldens.length > 0) {
          problems.push(
            `docs/json.md "${heading}": field '${path}' is in no golden file it names ` +
              `(only empty lists): name a golden file that holds it, or move it to the prose`,
          );
        }
      }
    }
  }
  for (const name of Object.keys(GOLDEN_COMMANDS)) {
    if (!referenced.has(name)) {
      problems.push(
        `${GOLDEN_COMMANDS[name]}: its golden file ${name} is not named in docs/json.md`,
      );
    }
  }
  return problems;
}

Deno.test("docs: the golden-file table covers every golden -f json file", () => {
  const files = readdirSync(GOLDEN).filter((f) => f.endsWith(".json")).sort();
  assert.deepEqual(files, Object.keys(GOLDEN_COMMANDS).sort());
});

Deno.test("docs: every field docs/json.md documents is in the command's golden output", () => {
  const problems = jsonDocProblems(readFileSync(JSON_DOC, "utf8"));
  assert.deepEqual(problems, [], `\n${problems.join("\n")}`);
});

Deno.test("docs: a field missing from the golden output names the command and the field", () => {
  const doc =
    "## branch stop\n\nGolden: [branch_stop.json](../tests/cli/golden/branch_stop.json)\n\n" +
    '```json\n{ "branch": "x", "wasRunning": true, "stoppedAt": "2026" }\n```\n';
  const problems = jsonDocProblems(doc).filter((p) => p.includes("stoppedAt"));
  assert.deepEqual(problems, [
    "zvpg branch stop feature/auth -f json: field 'stoppedAt' documented in docs/json.md " +
    '"branch stop" is missing from tests/cli/golden/branch_stop.json',
  ]);
});

Deno.test("docs: fieldPaths and presence walk objects and lists", () => {
  assert.deepEqual(fieldPaths({ a: 1, b: [{ c: 2 }], d: { e: null } }), [
    "a",
    "b",
    "b[].c",
    "d",
    "d.e",
  ]);
  assert.equal(presence({ b: [{ c: 2 }] }, "b[].c"), "yes");
  assert.equal(presence({ b: [] }, "b[].c"), "vacuous");
  assert.equal(presence({ b: [{}] }, "b[].c"), "no");
  assert.equal(presence([{ c: 1 }], "[].c"), "yes");
  assert.equal(presence({ s: null }, "s.v"), "vacuous");
  assert.equal(presence({ s: { v: 1 } }, "s.v"), "yes");
});

/** Every command of `--help`, as its words: ["branch", "merge"]. Hidden ones are left out. */
export function helpCommands(
  command: CommandUnknownOpts = buildProgram() as unknown as CommandUnknownOpts,
  prefix: string[] = [],
): string[][] {
  const help = command.createHelp();
  return help.visibleCommands(command)
    .filter((c) => c.name() !== "help")
    .flatMap((c) => {
      const words = [...prefix, c.name()];
      return [words, ...helpCommands(c as CommandUnknownOpts, words)];
    });
}

/** Every markdown file under `dir`, recursively. */
function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith(".md") ? [path] : [];
  });
}

Deno.test("docs: every command of --help has a page under docs/commands/ that names it", () => {
  const pages = markdownFiles(join(ROOT, "docs/commands"))
    .map((path) => ({ path, text: readFileSync(path, "utf8") }));
  const commands = helpCommands();
  assert.ok(commands.some((c) => c.join(" ") === "branch merge"), "the walk finds subcommands");
  const missing = commands.map((words) => `zvpg ${words.join(" ")}`).filter((name) => {
    const mention = new RegExp(`${name.replaceAll(" ", "\\s+")}(?![\\w-])`);
    return !pages.some(({ text }) => mention.test(text));
  });
  assert.deepEqual(missing, [], `no page under docs/commands/ mentions: ${missing.join(", ")}`);
});

/** GitHub's anchor of a heading's text. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a markdown file's headings (a repeated heading gets `-1`, `-2`, …). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of withoutCode(markdown).split("\n")) {
    const m = line.match(/^#{1,6}\s+(.*)$/);
    if (!m) continue;
    const base = slug(m[1].trim());
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** The text without fenced blocks and inline code spans (their brackets are not links). */
function withoutCode(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, "")
    .replace(/`[^`\n]*`/g, "``");
}

/** The relative links of a markdown file that do not resolve, one line each. */
export function brokenLinks(path: string): string[] {
  const text = withoutCode(readFileSync(path, "utf8"));
  const problems: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [file, anchor] = target.split("#", 2);
    const where = file === "" ? path : resolve(dirname(path), decodeURI(file));
    const from = relative(ROOT, path);
    if (!existsSync(where)) {
      problems.push(`${from}: link '${target}' points to a file that does not exist`);
      continue;
    }
    if (anchor !== undefined && where.endsWith(".md")) {
      if (!anchors(readFileSync(where, "utf8")).has(anchor)) {
        problems.push(`${from}: link '${target}' names no heading of ${relative(ROOT, where)}`);
      }
    }
  }
  return problems;
}

Deno.test("docs: every relative link of README.md, CONTRIBUTING.md and docs/ resolves", () => {
  const files = [
    join(ROOT, "README.md"),
    join(ROOT, "CONTRIBUTING.md"),
    join(ROOT, "bench/results/notebook.md"),
    ...markdownFiles(join(ROOT, "docs")),
  ];
  const problems = files.flatMap(brokenLinks);
  assert.deepEqual(problems, [], `\n${problems.join("\n")}`);
});
