/**
 * The layers of src/, checked on its imports (as denoland/std checks its package graph):
 * cli → workflows → ops → domain → adapters → runtime. Every `import … from`, `export …
 * from`, bare `import "…"` and `import("…")` of a relative path counts, type-only ones
 * included: a type import couples two files as much as a value import does when one is
 * read or changed, and it makes circles too. It fails on
 *
 * - a file of `src/workflows/` importing another one (workflows are leaves: a shared step
 *   goes to `src/ops/`, a pure plan to `src/domain/`);
 * - `src/runtime/` importing anything outside it but `src/errors.ts` or `src/version.ts`;
 * - `src/domain/` importing `ops/`, `workflows/` or `cli/`, or a value of `runtime/` (the
 *   process-wide machinery acts: runner, log, lock); a type of it is allowed;
 * - any import circle between files of `src/`.
 *
 * Each failure names the file, the line and the import.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

/** One relative import of a file of src/. */
export interface Import {
  /** The importing file, relative to the repository (`src/ops/x.ts`). */
  from: string;
  /** The imported file, relative to the repository. */
  to: string;
  /** The specifier as written. */
  spec: string;
  line: number;
  typeOnly: boolean;
}

const IMPORT_RE =
  /(?:^|[\n;])[ \t]*(?:(import|export)[ \t]+(type[ \t]+)?(?:([^;"'`]*?)[ \t\n]+from[ \t]+)?["']([^"']+)["']|[^\n]*?\bimport\(\s*["']([^"']+)["']\s*\))/g;

/** The relative imports of `text` (the file `from`), comments left out. */
export function parseImports(from: string, text: string): Import[] {
  // block comments and whole-line comments only: `//` inside a string is no comment
  const code = text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/^[ \t]*\/\/.*$/gm, "");
  const imports: Import[] = [];
  for (const m of code.matchAll(IMPORT_RE)) {
    const spec = m[4] ?? m[5];
    if (!spec?.startsWith(".")) continue;
    const clause = m[3] ?? "";
    // `export { a } from` and `export * from` re-export; a bare `export …` without from is
    // no import (the regex needs a string right after it, so it never matches one)
    const names = clause.replace(/^\{|\}$/g, "").split(",").map((n) => n.trim()).filter(Boolean);
    const typeOnly = m[2] !== undefined ||
      (clause.startsWith("{") && names.length > 0 && names.every((n) => n.startsWith("type ")));
    const line = code.slice(0, m.index! + m[0].length).split("\n").length;
    imports.push({
      from,
      to: normalize(join(dirname(from), spec)),
      spec,
      line,
      typeOnly,
    });
  }
  return imports;
}

/** The top folder of a file of src/ (`ops`), or the file itself for one at the root. */
function layer(path: string): string {
  return path.split("/")[1];
}

function describe(i: Import): string {
  return `${i.from}:${i.line} imports ${i.to} ("${i.spec}"${i.typeOnly ? ", type-only" : ""})`;
}

/** Every broken rule (see the module header), one line each. */
export function layeringProblems(imports: Import[]): string[] {
  const problems: string[] = [];
  for (const i of imports) {
    const [from, to] = [layer(i.from), layer(i.to)];
    if (from === "workflows" && to === "workflows") {
      problems.push(`${describe(i)}: a workflow imports a workflow (move the shared step to ops/)`);
    }
    if (from === "runtime" && to !== "runtime" && to !== "errors.ts" && to !== "version.ts") {
      problems.push(`${describe(i)}: runtime/ imports a layer above it`);
    }
    if (from === "domain" && ["ops", "workflows", "cli"].includes(to)) {
      problems.push(`${describe(i)}: domain/ imports ${to}/ (domain is pure)`);
    }
    if (from === "domain" && to === "runtime" && !i.typeOnly) {
      problems.push(`${describe(i)}: domain/ imports a value of runtime/, which acts`);
    }
  }
  return [...problems, ...circles(imports)];
}

/** Each import circle, named by its files and the import that closes it. */
function circles(imports: Import[]): string[] {
  const edges = new Map<string, Import[]>();
  for (const i of imports) edges.set(i.from, [...(edges.get(i.from) ?? []), i]);
  const found: string[] = [];
  const seen = new Set<string>();
  const done = new Set<string>();
  const stack: Import[] = [];
  const visit = (file: string) => {
    seen.add(file);
    for (const i of edges.get(file) ?? []) {
      if (!seen.has(i.to)) {
        stack.push(i);
        visit(i.to);
        stack.pop();
      } else if (!done.has(i.to)) {
        // i.to is on the current path: the circle runs from it back to it
        const start = stack.findIndex((s) => s.from === i.to);
        const path = [...stack.slice(start), i];
        found.push(`import circle: ${path.map(describe).join(", then ")}`);
      }
    }
    done.add(file);
  };
  for (const file of [...edges.keys()].sort()) if (!seen.has(file)) visit(file);
  return found;
}

/** The relative imports of every .ts file under `dir` (paths relative to `root`). */
export function importsUnder(root: string, dir = "src"): Import[] {
  const imports: Import[] = [];
  const walk = (path: string) => {
    for (
      const entry of [...Deno.readDirSync(join(root, path))].sort((a, b) =>
        a.name < b.name ? -1 : 1
      )
    ) {
      const child = `${path}/${entry.name}`;
      if (entry.isDirectory) walk(child);
      else if (child.endsWith(".ts")) {
        imports.push(...parseImports(child, Deno.readTextFileSync(join(root, child))));
      }
    }
  };
  walk(dir);
  return imports;
}

const ROOT = relative(Deno.cwd(), new URL("../..", import.meta.url).pathname) || ".";

Deno.test("layering: src/ keeps its layers and has no import circle", () => {
  const imports = importsUnder(ROOT);
  assert.ok(imports.length > 300, `only ${imports.length} imports found: the parser is broken`);
  assert.deepEqual(layeringProblems(imports), []);
});

Deno.test("layering: parseImports reads multi-line, type-only, re-export and dynamic imports", () => {
  const text = [
    `/** import { x } from "./commented.ts"; */`,
    `// import { y } from "./commented_too.ts";`,
    `import {`,
    `  a,`,
    `  type B,`,
    `} from "../ops/a.ts";`,
    `import type { C } from "./c.ts";`,
    `import { type D } from "./d.ts";`,
    `export { e } from "./e.ts";`,
    `export * from "./f.ts";`,
    `import "./g.ts";`,
    `const h = await import("./h.ts");`,
    `import { join } from "node:path";`,
    `const url = "postgresql://x"; // import { z } from "./not.ts"`,
  ].join("\n");
  const got = parseImports("src/workflows/w.ts", text).map((i) =>
    `${i.line} ${i.to}${i.typeOnly ? " type" : ""}`
  );
  assert.deepEqual(got, [
    "6 src/ops/a.ts",
    "7 src/workflows/c.ts type",
    "8 src/workflows/d.ts type",
    "9 src/workflows/e.ts",
    "10 src/workflows/f.ts",
    "11 src/workflows/g.ts",
    "12 src/workflows/h.ts",
  ]);
});

Deno.test("layering: each broken rule is named with its file, line and import", () => {
  const files: Record<string, string> = {
    "src/workflows/a_service.ts": `import { b } from "./b_service.ts";`,
    "src/workflows/b_service.ts": `import { c } from "../ops/c.ts";`,
    "src/ops/c.ts": `import { d } from "../domain/d.ts";`,
    "src/domain/d.ts":
      `\nimport { run } from "../ops/run.ts";\nimport type { T } from "../runtime/t.ts";`,
    "src/domain/e.ts": `import { log } from "../runtime/log.ts";`,
    "src/runtime/log.ts":
      `import type { Zfs } from "../adapters/zfs.ts";\nimport { E } from "../errors.ts";`,
    "src/ops/run.ts": `import { c } from "./c.ts";`,
  };
  const problems = layeringProblems(
    Object.entries(files).flatMap(([path, text]) => parseImports(path, text)),
  );
  assert.deepEqual(problems, [
    `src/workflows/a_service.ts:1 imports src/workflows/b_service.ts ("./b_service.ts"): a workflow imports a workflow (move the shared step to ops/)`,
    `src/domain/d.ts:2 imports src/ops/run.ts ("../ops/run.ts"): domain/ imports ops/ (domain is pure)`,
    `src/domain/e.ts:1 imports src/runtime/log.ts ("../runtime/log.ts"): domain/ imports a value of runtime/, which acts`,
    `src/runtime/log.ts:1 imports src/adapters/zfs.ts ("../adapters/zfs.ts", type-only): runtime/ imports a layer above it`,
    `import circle: src/domain/d.ts:2 imports src/ops/run.ts ("../ops/run.ts"), then src/ops/run.ts:1 imports src/ops/c.ts ("./c.ts"), then src/ops/c.ts:1 imports src/domain/d.ts ("../domain/d.ts")`,
  ]);
});
