/**
 * The pure part of `branch diff` and `branch merge`: which objects changed between two
 * inspected schemas, which changed on both sides of a fork (conflicts), and which
 * statements of a plan lose data.
 *
 * @module
 */

/** One schema object as an engine inspected it. */
export interface SchemaObject {
  /** Unique within a database: category and the engine's key. */
  id: string;
  /** table, view, function, index, enum, … */
  kind: string;
  /** Qualified name, unquoted (`public.users`, `public.f(a integer)`). */
  name: string;
  /** Its defining SQL: two objects with the same definition are the same. */
  definition: string;
}

/** How one object differs between two schemas. */
export interface ObjectChange {
  id: string;
  kind: string;
  name: string;
  change: "added" | "removed" | "modified";
  /** The definition on the base side (absent when added). */
  before?: string;
  /** The definition on the compare side (absent when removed). */
  after?: string;
}

/** Column types (`"s"."t"."c"` → type) and enum values, of the schema a plan runs on. */
export interface ColumnFacts {
  columns: Record<string, string>;
  enums: Record<string, string[]>;
  /** The generated (stored) columns: their values are computed, so dropping one loses none. */
  generated?: string[];
}

/** The objects that differ between `base` and `compare`, ordered by kind then name. */
export function objectChanges(base: SchemaObject[], compare: SchemaObject[]): ObjectChange[] {
  const before = new Map(base.map((o) => [o.id, o]));
  const after = new Map(compare.map((o) => [o.id, o]));
  const changes: ObjectChange[] = [];
  for (const [id, a] of after) {
    const b = before.get(id);
    if (!b) changes.push({ id, kind: a.kind, name: a.name, change: "added", after: a.definition });
    else if (b.definition !== a.definition) {
      changes.push({
        id,
        kind: a.kind,
        name: a.name,
        change: "modified",
        before: b.definition,
        after: a.definition,
      });
    }
  }
  for (const [id, b] of before) {
    if (!after.has(id)) {
      changes.push({ id, kind: b.kind, name: b.name, change: "removed", before: b.definition });
    }
  }
  return changes.sort((x, y) => x.kind.localeCompare(y.kind) || x.name.localeCompare(y.name));
}

/** An object changed on both sides of a fork, differently. */
export interface Conflict {
  kind: string;
  name: string;
  /** What the branch did to it since the fork. */
  branch: ObjectChange["change"];
  /** What the target did to it since the fork. */
  target: ObjectChange["change"];
}

/**
 * The conflicts of a three-way merge: objects the branch and the target both changed since
 * their common base, and that are not now the same on both (the same change made on both
 * sides is no conflict).
 */
export function findConflicts(
  branchChanges: ObjectChange[],
  targetChanges: ObjectChange[],
): Conflict[] {
  const onTarget = new Map(targetChanges.map((c) => [c.id, c]));
  const conflicts: Conflict[] = [];
  for (const b of branchChanges) {
    const t = onTarget.get(b.id);
    if (!t || t.after === b.after) continue;
    conflicts.push({ kind: b.kind, name: b.name, branch: b.change, target: t.change });
  }
  return conflicts;
}

/** The ids a merge carries to the target: the branch's changes not already there. */
export function idsToMerge(branchChanges: ObjectChange[], targetChanges: ObjectChange[]) {
  const same = new Set(
    targetChanges.filter((t) => branchChanges.some((b) => b.id === t.id && b.after === t.after))
      .map((t) => t.id),
  );
  return new Set(branchChanges.map((c) => c.id).filter((id) => !same.has(id)));
}

/** A statement that loses data, and why. */
export interface DataLoss {
  statement: string;
  reason: string;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const QNAME = String.raw`(${IDENT}(?:\.${IDENT})*)`;

const DROP_COLUMN = new RegExp(
  `^alter\\s+table\\s+(?:only\\s+)?${QNAME}\\s+drop\\s+column\\s+(?:if\\s+exists\\s+)?(${IDENT})`,
  "i",
);

/** Casts that keep every value (from → to), by the types' base names. */
const WIDENINGS: Record<string, string[]> = {
  smallint: ["integer", "bigint", "numeric", "real", "double precision", "text"],
  integer: ["bigint", "numeric", "double precision", "text"],
  bigint: ["numeric", "text"],
  real: ["double precision", "text"],
  "character varying": ["text"],
  character: ["character varying", "text"],
  "timestamp without time zone": ["timestamp with time zone"],
  date: ["timestamp without time zone", "timestamp with time zone", "text"],
};

/** Whether every value of type `from` survives a change to `to`. */
export function isWidening(from: string, to: string): boolean {
  const f = from.trim().toLowerCase();
  const t = to.trim().toLowerCase();
  if (f === t) return true;
  const base = (s: string) => s.replace(/\(.*\)$/, "").trim();
  const args = (s: string) => (s.match(/\(([^)]*)\)$/)?.[1] ?? "").split(",").map(Number);
  if (base(f) === base(t)) {
    if (!/\(/.test(t)) return true; // unbounded: varchar, numeric, …
    if (!/\(/.test(f)) return false;
    const [fa, fb = 0] = args(f);
    const [ta, tb = 0] = args(t);
    return ta >= fa && tb >= fb && ta - tb >= fa - fb;
  }
  return (WIDENINGS[base(f)] ?? []).includes(base(t));
}

/**
 * The statements of a plan that lose data, each with the reason: dropped tables, columns,
 * schemas, sequences and materialized views; column type changes that are not a widening;
 * enums recreated without some of their values. `facts` describes the schema the plan runs
 * on (its column types and enum values).
 */
export function classifyDataLoss(statements: string[], facts: ColumnFacts): DataLoss[] {
  const losses: DataLoss[] = [];
  for (const statement of statements) {
    const reason = lossOf(statement, statements, facts);
    if (reason) losses.push({ statement, reason });
  }
  return losses;
}

function lossOf(statement: string, all: string[], facts: ColumnFacts): string | undefined {
  const s = statement.trim();
  let m = s.match(new RegExp(`^drop\\s+table\\s+(?:if\\s+exists\\s+)?${QNAME}`, "i"));
  if (m) return `drops table ${unquote(m[1])} and its rows`;
  m = s.match(
    new RegExp(
      `^drop\\s+(schema|sequence|materialized\\s+view)\\s+(?:if\\s+exists\\s+)?${QNAME}`,
      "i",
    ),
  );
  if (m) return `drops ${m[1].toLowerCase().replace(/\s+/, " ")} ${unquote(m[2])}`;
  m = s.match(DROP_COLUMN);
  if (m) {
    if (dropsGeneratedColumn(s, facts)) return undefined;
    return `drops column ${unquote(m[1])}.${unquote(m[2])} and its values`;
  }
  // migra quotes identifiers only where needed: compare in the quoted form
  m = s.match(
    new RegExp(
      `^alter\\s+table\\s+(?:only\\s+)?${QNAME}\\s+alter\\s+column\\s+(${IDENT})\\s+(?:set\\s+data\\s+)?type\\s+(.+?)(?:\\s+using\\s+.*)?;?$`,
      "is",
    ),
  );
  if (m) {
    const column = `${quoteAll(m[1])}.${quoteAll(m[2])}`;
    const from = facts.columns[column];
    const to = m[3].trim();
    if (from === undefined) return `changes the type of ${unquote(column)} to ${to}`;
    if (enumSuperset(from, to, all, facts)) return undefined;
    if (!isWidening(from, to)) {
      return `changes the type of ${
        unquote(column)
      } from ${from} to ${to}, which may not keep every value`;
    }
    return undefined;
  }
  m = s.match(/^drop\s+type\s+(\S+?)__old_version_to_be_dropped"?\s*;?$/i);
  if (m) {
    const name = `${m[1]}${m[1].startsWith('"') ? '"' : ""}`;
    const removed = removedEnumValues(name, all, facts);
    if (removed.length > 0) {
      return `recreates enum ${unquote(name)} without value(s) ${removed.join(", ")}`;
    }
  }
  return undefined;
}

/**
 * Whether `statement` drops a generated (stored) column: its values are computed from the
 * row's other columns, so dropping it (to add it back with another expression) loses none.
 */
export function dropsGeneratedColumn(statement: string, facts: ColumnFacts): boolean {
  const m = statement.trim().match(DROP_COLUMN);
  return !!m && (facts.generated ?? []).includes(`${quoteAll(m[1])}.${quoteAll(m[2])}`);
}

/** The values of enum `name` (quoted key) that its recreation in `all` leaves out. */
function removedEnumValues(name: string, all: string[], facts: ColumnFacts): string[] {
  const old = facts.enums[name];
  if (!old) return [];
  const created = newEnumValues(name, all);
  if (!created) return [];
  return old.filter((v) => !created.includes(v));
}

function newEnumValues(name: string, all: string[]): string[] | undefined {
  for (const s of all) {
    const m = s.match(/^create\s+type\s+(\S+)\s+as\s+enum\s*\((.*)\)\s*;?$/is);
    if (m && m[1] === name) {
      return [...m[2].matchAll(/'((?:[^']|'')*)'/g)].map((v) => v[1].replaceAll("''", "'"));
    }
  }
  return undefined;
}

/** A column moved from an enum to the same enum recreated with every old value. */
function enumSuperset(from: string, to: string, all: string[], facts: ColumnFacts): boolean {
  const key = Object.keys(facts.enums).find((k) => unquote(k) === from || k === from) ??
    Object.keys(facts.enums).find((k) => unquote(k).endsWith(`.${from}`));
  if (!key || (unquote(to) !== unquote(key) && !unquote(key).endsWith(`.${unquote(to)}`))) {
    return false;
  }
  const created = newEnumValues(key, all);
  return created !== undefined && facts.enums[key].every((v) => created.includes(v));
}

/** A (qualified) name with every part double-quoted, as engines key objects. */
function quoteAll(name: string): string {
  return [...name.matchAll(new RegExp(IDENT, "g"))].map((p) =>
    p[0].startsWith('"') ? p[0] : `"${p[0]}"`
  ).join(".");
}

function unquote(name: string): string {
  return name.replaceAll('"', "");
}

/** A unified diff of two definitions, line by line (`-` before, `+` after, ` ` both). */
export function definitionDiff(before: string | undefined, after: string | undefined): string[] {
  const a = before === undefined ? [] : before.split("\n");
  const b = after === undefined ? [] : after.split("\n");
  // longest common subsequence, fine for definitions of a few hundred lines
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(` ${a[i]}`);
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push(`-${a[i++]}`);
    } else {
      out.push(`+${b[j++]}`);
    }
  }
  return out;
}
