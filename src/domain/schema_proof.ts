/**
 * The proof of a merge, independent of the diff engine: `pg_dump --schema-only` of the
 * fork's base, the branch, the target and the merged result, split into its objects (one
 * per entry of the dump's table of contents), and compared object by object.
 *
 * An object the branch changed since the base must come out as the branch has it; any
 * other object as the target has it. Whatever the engine models or misses (sequence
 * options, ownership, column order, grants, comments), a merged schema that differs from
 * that is a {@link ProofDifference}, and the merge is refused.
 *
 * @module
 */
import { definitionDiff } from "./schema_merge.ts";

/** One entry of a schema dump: `-- Name: …; Type: …; Schema: …` and its SQL. */
export interface DumpedObject {
  /** `TYPE schema.name`, unique within a dump (`SEQUENCE OWNED BY public.s`, `ACL -.SCHEMA public`). */
  key: string;
  /** The SQL of the entry, without the session settings pg_dump interleaves. */
  sql: string;
}

/** A schema dump, by object key. */
export type SchemaDump = Map<string, string>;

const HEADER = /^-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*?);(?: Owner: .*)?$/;

/** Lines that are session state or framing, not a definition. */
function isNoise(line: string): boolean {
  return line === "" || line === "--" || /^SET [a-z_]+ = /.test(line) ||
    line.startsWith("SELECT pg_catalog.set_config(") || /^\\(un)?restrict /.test(line) ||
    line.startsWith("-- Dumped ") || line.startsWith("-- PostgreSQL database dump");
}

/**
 * A dump entry's key: `TABLE public.users`; for entries about another object (a comment,
 * a grant) `COMMENT ON TABLE public.users`, `ACL ON SCHEMA public`.
 */
function objectKey(name: string, type: string, schema: string): string {
  const qualify = (n: string) => schema === "-" ? n : `${schema}.${n}`;
  const about = name.match(/^((?:[A-Z]+ )+)(.+)$/);
  if (about && ["ACL", "COMMENT", "SECURITY LABEL"].includes(type)) {
    return `${type} ON ${about[1]}${qualify(about[2])}`;
  }
  return `${type} ${qualify(name)}`;
}

/** Splits `pg_dump --schema-only` output (plain format) into its objects. */
export function parseSchemaDump(text: string): SchemaDump {
  const dump: SchemaDump = new Map();
  let key: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (key === undefined) return;
    let unique = key;
    for (let n = 2; dump.has(unique); n++) unique = `${key} #${n}`;
    dump.set(unique, lines.join("\n"));
  };
  const all = text.split("\n");
  for (let i = 0; i < all.length; i++) {
    const m = all[i].match(HEADER);
    if (m && all[i - 1] === "--" && all[i + 1] === "--") {
      flush();
      key = objectKey(m[1], m[2], m[3]);
      lines = [];
      i++;
      continue;
    }
    if (key !== undefined && !isNoise(all[i])) lines.push(all[i]);
  }
  flush();
  return dump;
}

/** Where the proof expected an object's definition to come from. */
export type ProofSide = "branch" | "target";

/** One object whose merged definition is not what the branch or the target has. */
export interface ProofDifference {
  /** The dump's name for it: `TABLE public.users`, `SEQUENCE OWNED BY public.s`. */
  object: string;
  /** Whose definition the merged one should equal. */
  expected: ProofSide;
  problem: "missing" | "unexpected" | "differs" | "column order" | "changed on both";
  /** The first differing lines, `-` expected and `+` merged. */
  detail: string;
}

/** The four dumps a merge is proven with. */
export interface ProofDumps {
  base: SchemaDump;
  branch: SchemaDump;
  target: SchemaDump;
  merged: SchemaDump;
}

/** What a merge's proof found: how many objects it compared, and each difference. */
export interface ProofResult {
  objectsChecked: number;
  differences: ProofDifference[];
}

/** The objects (dump keys) whose definition on `side` is not the base's. */
export function changedSince(base: SchemaDump, side: SchemaDump): string[] {
  const keys = new Set([...base.keys(), ...side.keys()]);
  return [...keys].filter((k) => base.get(k) !== side.get(k)).sort();
}

/**
 * Compares the merged schema with what a three-way merge must give: for each object, the
 * branch's definition where the branch changed it since the base, else the target's.
 */
export function proveMerge(d: ProofDumps): ProofResult {
  const keys = [
    ...new Set([...d.base.keys(), ...d.branch.keys(), ...d.target.keys(), ...d.merged.keys()]),
  ]
    .sort();
  const differences: ProofDifference[] = [];
  for (const key of keys) {
    const base = d.base.get(key);
    const branch = d.branch.get(key);
    const target = d.target.get(key);
    const merged = d.merged.get(key);
    const branchChanged = branch !== base;
    if (branchChanged && target !== base && target !== branch) {
      differences.push({
        object: key,
        expected: "branch",
        problem: "changed on both",
        detail: firstDifference(target, branch),
      });
      continue;
    }
    const expected = branchChanged ? branch : target;
    if (merged === expected) continue;
    differences.push({
      object: key,
      expected: branchChanged ? "branch" : "target",
      problem: problemOf(expected, merged),
      detail: firstDifference(expected, merged),
    });
  }
  return { objectsChecked: keys.length, differences };
}

function problemOf(expected: string | undefined, merged: string | undefined) {
  if (expected === undefined) return "unexpected" as const;
  if (merged === undefined) return "missing" as const;
  const sorted = (s: string) => s.split("\n").map((l) => l.replace(/,$/, "")).sort().join("\n");
  return sorted(expected) === sorted(merged) ? "column order" as const : "differs" as const;
}

/** The first lines that differ, as `-expected` / `+merged`, at most two of each. */
function firstDifference(expected: string | undefined, merged: string | undefined): string {
  const changed = definitionDiff(expected, merged).filter((l) => !l.startsWith(" "));
  const minus = changed.filter((l) => l.startsWith("-")).slice(0, 2);
  const plus = changed.filter((l) => l.startsWith("+")).slice(0, 2);
  return [...minus, ...plus].map((l) => `${l[0]}${l.slice(1).trim()}`).join(" ");
}

/** One line naming each difference, for an error or a log. */
export function describeDifferences(differences: ProofDifference[]): string {
  return differences.map((d) => {
    const what = d.problem === "changed on both"
      ? "changed differently on the branch and the target"
      : d.problem === "missing"
      ? `missing (the ${d.expected} has it)`
      : d.problem === "unexpected"
      ? `present (the ${d.expected} has no such object)`
      : d.problem === "column order"
      ? `its columns in another order than the ${d.expected}'s`
      : `unlike the ${d.expected}'s`;
    return `${d.object} ${what}${d.detail ? ` [${d.detail}]` : ""}`;
  }).join("; ");
}
