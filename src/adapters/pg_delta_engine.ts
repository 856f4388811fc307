/**
 * A second way to plan a three-way merge: `@supabase/pg-delta` (pinned
 * 1.0.0-alpha.34), which has no merge of its own, on its primitives. Each side is
 * extracted into a fact base; the branch's changes are `diff(base, branch)`, the target's
 * `diff(base, target)`; a fact changed on both sides and not now the same on both is a
 * conflict; otherwise the desired schema is the target's facts with the branch's deltas
 * applied, and the script is `plan(target, desired)`.
 *
 * It stands beside {@link import("./schema_diff.ts").SchemaDiffEngine} (migra), not behind
 * it: its inspection is a fact base, not per-object SQL. A merge can try it when migra's
 * script is not proven; the proof (`pg_dump`, src/domain/schema_proof.ts) judges both.
 *
 * The password stays in this process (a `pg.Pool`, never argv, env or logs).
 *
 * @module
 */
import pg from "pg";
import { extract } from "@supabase/pg-delta/extract";
import { plan } from "@supabase/pg-delta/plan";
import {
  buildFactBase,
  type Delta,
  type DependencyEdge,
  diff,
  encodeId,
  type Fact,
  type FactBase,
  type StableId,
} from "@supabase/pg-delta/core";
import type { PgEndpoint } from "./schema_diff.ts";

export type { FactBase };

/** What a three-way plan found: conflicts (the merge refuses), or the script. */
export interface ThreeWayPlan {
  /** The engine's name for the conflicting objects (`column:public.t.c`); empty if none. */
  conflicts: string[];
  /** The statements that give the target the branch's changes (none when conflicts). */
  statements: string[];
  /** Those of {@link statements} the engine itself marks as losing data. */
  destructive: string[];
}

/** A three-way merge planner over live databases. */
export interface ThreeWayEngine {
  readonly name: string;
  threeWayPlan(base: PgEndpoint, branch: PgEndpoint, target: PgEndpoint): Promise<ThreeWayPlan>;
}

/** The fact a delta is about (pg-delta's `subjectOf`, which its package does not export). */
function subjectOf(d: Delta): StableId {
  if (d.verb === "add" || d.verb === "remove") return d.fact.id;
  if (d.verb === "set") return d.id;
  return d.edge.from;
}

const keyOf = (d: Delta) => encodeId(subjectOf(d));
const edgeKey = (e: DependencyEdge) => `${encodeId(e.from)}|${e.kind}|${encodeId(e.to)}`;

/** Whether fact `key` is the same on both sides (both absent, or equal payload and edges). */
function sameOnBoth(a: FactBase, b: FactBase, key: string): boolean {
  const fa = a.getByEncoded(key);
  const fb = b.getByEncoded(key);
  if (!fa || !fb) return !fa && !fb;
  if (a.hashOf(fa.id) !== b.hashOf(fb.id)) return false;
  const edges = (f: FactBase, id: StableId) => f.outgoingEdges(id).map(edgeKey).sort().join("\n");
  return edges(a, fa.id) === edges(b, fb.id);
}

/** `fb` with `deltas` applied: the facts and edges of a new fact base. */
function applyDeltas(fb: FactBase, deltas: Delta[]): FactBase {
  const facts = new Map<string, Fact>(fb.facts().map((f) => [encodeId(f.id), structuredClone(f)]));
  const edges = new Map(fb.edges.map((e) => [edgeKey(e), e]));
  for (const d of deltas) {
    if (d.verb === "add") facts.set(encodeId(d.fact.id), structuredClone(d.fact));
    else if (d.verb === "remove") facts.delete(encodeId(d.fact.id));
    else if (d.verb === "link") edges.set(edgeKey(d.edge), d.edge);
    else if (d.verb === "unlink") edges.delete(edgeKey(d.edge));
    else {
      const fact = facts.get(encodeId(d.id));
      if (!fact) continue;
      const payload = fact.payload as Record<string, unknown>;
      if (d.to === undefined) delete payload[d.attr];
      else payload[d.attr] = structuredClone(d.to);
    }
  }
  return buildFactBase([...facts.values()], [...edges.values()], fb.source);
}

/**
 * One database's schema as pg-delta sees it (its fact base), extracted over a pool of its
 * own, closed after. Extract the fork's base while its snapshot is open.
 */
export async function extractFacts(endpoint: PgEndpoint): Promise<FactBase> {
  const pool = new pg.Pool({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database: endpoint.database,
    max: 2,
  });
  try {
    return (await extract(pool)).factBase;
  } finally {
    await pool.end().catch(() => {});
  }
}

/**
 * The three-way plan from fact bases already extracted (pure, no I/O): conflicts are facts
 * both sides changed since `base` that are not now the same on both; else the script that
 * gives `target` the branch's changes not already there.
 */
export function threeWayFromFacts(
  base: FactBase,
  branch: FactBase,
  target: FactBase,
): ThreeWayPlan {
  const theirs = diff(base, branch);
  const ours = new Set(diff(base, target).map(keyOf));
  const both = [...new Set(theirs.map(keyOf))].filter((k) => ours.has(k));
  const conflicts = both.filter((k) => !sameOnBoth(branch, target, k)).sort();
  if (conflicts.length > 0) return { conflicts, statements: [], destructive: [] };
  // a change already on the target is not made again
  const already = new Set(both);
  const desired = applyDeltas(target, theirs.filter((d) => !already.has(keyOf(d))));
  const actions = plan(target, desired).actions;
  const sql = (a: { sql: string }) => a.sql.trim();
  return {
    conflicts,
    statements: actions.map(sql),
    destructive: actions.filter((a) => a.dataLoss === "destructive").map(sql),
  };
}

/** The `@supabase/pg-delta` three-way planner. */
export const pgDeltaThreeWay: ThreeWayEngine = {
  name: "pg-delta",
  async threeWayPlan(base, branch, target) {
    const b = await extractFacts(base);
    const ours = await extractFacts(branch);
    const theirs = await extractFacts(target);
    return threeWayFromFacts(b, ours, theirs);
  },
};
