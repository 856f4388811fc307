/**
 * A masking rules file (docs/masking.md): per table, `keep`, `empty`, or a row filter and
 * a rule per column — keep, null, a constant, a deterministic fake (email, name, phone,
 * text, hash, number in a range, date shift) or an SQL expression. Parsed and validated
 * here into one-line errors naming the file, the line, the table and the column. Pure: the
 * caller reads the file.
 *
 * @module
 */
import { z } from "zod";
import { UsageError } from "../errors.ts";

/** The fakes that take no parameter, usable as a plain string. */
export const SIMPLE_FAKES = ["email", "name", "phone", "text", "hash"] as const;

/** A rule for one column. */
export type ColumnRule =
  | { kind: "keep" }
  | { kind: "null" }
  | { kind: "const"; value: string | number | boolean }
  | { kind: "fake"; fake: typeof SIMPLE_FAKES[number] }
  | { kind: "number"; min: number; max: number }
  | { kind: "date"; days: number }
  | { kind: "sql"; sql: string; injective: boolean };

/** A rule for one table. */
export type TableRule =
  | { kind: "keep" }
  | { kind: "empty" }
  | { kind: "mask"; where?: string; columns: Record<string, ColumnRule> };

/** A validated rules file. */
export interface MaskRules {
  /** `schema.table` → its rule (applies in every copied database holding that table). */
  tables: Record<string, TableRule>;
}

/** A rules file that cannot be read, parsed or validated. */
export class MaskRulesError extends UsageError {}

const simpleColumn = z.enum(["keep", "null", ...SIMPLE_FAKES]);
const columnObject = z.union([
  z.strictObject({ const: z.union([z.string(), z.number(), z.boolean()]) }),
  z.strictObject({ fake: z.enum(SIMPLE_FAKES) }),
  z.strictObject({
    fake: z.literal("number"),
    min: z.number().int(),
    max: z.number().int(),
  }).refine((r) => r.min <= r.max, { message: "min must not be above max" }),
  z.strictObject({ fake: z.literal("date"), days: z.number().int().min(1).max(36500) }),
  z.strictObject({ sql: z.string().min(1), injective: z.boolean().optional() }),
]);
const columnSchema = z.union([simpleColumn, columnObject]);
const tableSchema = z.union([
  z.enum(["keep", "empty"]),
  z.strictObject({
    where: z.string().min(1).optional(),
    columns: z.record(z.string().min(1), columnSchema),
  }),
]);
const TABLE_KEY = /^[^."]+\.[^."]+$/;
const fileSchema = z.strictObject({
  version: z.literal(1),
  tables: z.record(
    z.string().regex(TABLE_KEY, "a table is named 'schema.table'"),
    tableSchema,
  ),
});

/**
 * Parses the rules file `text` (JSON) read from `file`; throws a {@link MaskRulesError}
 * naming the file, the line, and the table and column the problem is in.
 */
export function parseMaskRules(text: string, file: string): MaskRules {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const at = /position (\d+)/.exec(message);
    const line = at ? lineAt(text, Number(at[1])) : undefined;
    throw new MaskRulesError(
      `${file}${line ? `:${line}` : ""}: not valid JSON (${message.split("\n")[0]})`,
      { hint: "fix the rules file (docs/masking.md)" },
    );
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const { issue, path } = deepest(parsed.error.issues[0], []);
    const where = describePath(path);
    const line = lineOfPath(text, path);
    throw new MaskRulesError(
      `${file}${line ? `:${line}` : ""}: ${where}${where ? ": " : ""}${issueText(issue, path)}`,
      { hint: "fix the rules file (docs/masking.md)" },
    );
  }
  const tables: Record<string, TableRule> = {};
  for (const [name, rule] of Object.entries(parsed.data.tables)) {
    if (rule === "keep" || rule === "empty") {
      tables[name] = { kind: rule };
      continue;
    }
    const columns: Record<string, ColumnRule> = {};
    for (const [column, c] of Object.entries(rule.columns)) columns[column] = toColumnRule(c);
    tables[name] = { kind: "mask", where: rule.where, columns };
  }
  return { tables };
}

function toColumnRule(c: z.infer<typeof columnSchema>): ColumnRule {
  if (typeof c === "string") {
    if (c === "keep" || c === "null") return { kind: c };
    return { kind: "fake", fake: c };
  }
  if ("const" in c) return { kind: "const", value: c.const };
  if ("sql" in c) return { kind: "sql", sql: c.sql, injective: c.injective === true };
  if (c.fake === "number") return { kind: "number", min: c.min, max: c.max };
  if (c.fake === "date") return { kind: "date", days: c.days };
  return { kind: "fake", fake: c.fake };
}

/**
 * The issue a union failure comes from: the branch that got deepest into the value (a
 * table object whose column rule is wrong is a column problem, not a table one).
 */
function deepest(
  issue: z.core.$ZodIssue,
  base: string[],
): { issue: z.core.$ZodIssue; path: string[] } {
  const path = [...base, ...issue.path.map(String)];
  let best = { issue, path };
  if (issue.code === "invalid_union") {
    for (const branch of issue.errors) {
      for (const sub of branch) {
        const found = deepest(sub, path);
        if (found.path.length > best.path.length) best = found;
      }
    }
  }
  return best;
}

function issueText(issue: z.core.$ZodIssue, path: string[]): string {
  if (issue.code === "invalid_union" || issue.code === "invalid_value") {
    if (path.length === 4) {
      return "a column rule is one of keep, null, email, name, phone, text, hash, " +
        `{"const": v}, {"fake": "number", "min": a, "max": b}, {"fake": "date", "days": n}, ` +
        `{"sql": "..."}`;
    }
    if (path.length === 2) {
      return `a table rule is "keep", "empty" or {"where"?: "...", "columns": {...}}`;
    }
  }
  if (issue.code === "unrecognized_keys") return `unknown key(s) ${issue.keys.join(", ")}`;
  if (issue.code === "invalid_key") return issue.issues[0]?.message ?? issue.message;
  return issue.message;
}

/** "table public.users, column email" from a zod path. */
function describePath(path: string[]): string {
  if (path[0] !== "tables" || path.length < 2) return path.join(".");
  const table = `table ${path[1]}`;
  if (path[2] === "columns" && path.length >= 4) return `${table}, column ${path[3]}`;
  return table;
}

/** The 1-based line of the character at `offset`. */
function lineAt(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

/** The line where the key path `path` appears (each key searched after the previous one). */
export function lineOfPath(text: string, path: string[]): number | undefined {
  let from = 0;
  let found = -1;
  for (const key of path) {
    const at = text.indexOf(JSON.stringify(key), from);
    if (at < 0) break;
    found = at;
    from = at + 1;
  }
  return found < 0 ? undefined : lineAt(text, found);
}
