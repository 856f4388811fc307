/**
 * `branch diff` and `branch merge`: schema comparison through a {@link SchemaDiffEngine},
 * and the three-way merge of a branch's schema changes into its parent (or another target).
 *
 * A side that is a snapshot (a branch's origin) is read through a temporary branch cloned
 * from it; the throwaway clone a merge proves its script on is one too. Each is marked
 * with {@link TEMPORARY_PROP} (this pid) when it is cloned, removed when the command ends,
 * also on failure and Ctrl-C, and, if this process dies, at the start of the next diff or
 * merge (see {@link sweepTemporaryBranches}).
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import type { InspectedSchema, PgEndpoint, SchemaDiffEngine } from "../adapters/schema_diff.ts";
import type { FactBase } from "../adapters/pg_delta_engine.ts";
import {
  classifyDataLoss,
  type Conflict,
  type DataLoss,
  dropsGeneratedColumn,
  findConflicts,
  idsToMerge,
  type ObjectChange,
  objectChanges,
} from "../domain/schema_merge.ts";
import type { BranchRecord } from "../domain/inventory.ts";
import {
  changedSince,
  describeDifferences,
  type ProofDumps,
  type ProofResult,
  proveMerge,
  type SchemaDump,
} from "../domain/schema_proof.ts";
import { PROPS, TEMPORARY_PROP } from "../domain/layout.ts";
import { validateBranchName } from "../domain/names.ts";
import { operationAlive } from "../ops/operation_alive.ts";
import { dumpSchema } from "../ops/schema_dump.ts";
import {
  BranchNotFoundError,
  DataLossError,
  MergeConflictError,
  MergeProofError,
  StateError,
  UsageError,
  ZvpgError,
} from "../errors.ts";
import type { Context } from "../context.ts";
import { faultPoint } from "../runtime/fault.ts";
import { shielded, throwIfInterrupted } from "../runtime/interrupt.ts";
import { log } from "../runtime/log.ts";
import { createBranch } from "../ops/create_branch.ts";
import { deleteBranch } from "../ops/delete_branch.ts";
import { loadBranch } from "../ops/store/load_branch.ts";
import { readPassword } from "../ops/credentials.ts";
import { snapshotBranch } from "../ops/take_snapshot.ts";

/** Options of `branch diff`. */
export interface DiffOptions {
  other?: string;
  database?: string;
  data?: boolean;
  exact?: boolean;
}

/** One table's data change (`--data`). */
export interface TableDataChange {
  table: string;
  /** Rows on the base side: estimated (`reltuples`), or counted with `--exact`; null if unknown. */
  rowsBase: number | null;
  rowsCompare: number | null;
  /** Estimated from the compare side's statistics counters (since its last start). */
  inserted: number | null;
  updated: number | null;
  deleted: number | null;
  changed: boolean;
  method: "estimate" | "exact";
}

/** What `branch diff` found. */
export interface DiffResult {
  base: { branch: string; snapshot: string | null };
  compare: { branch: string };
  database: string;
  engine: string;
  hasChanges: boolean;
  objects: ObjectChange[];
  /** The SQL that turns base into compare. */
  statements: string[];
  data: TableDataChange[] | null;
  /** The objects pg_dump sees changed, independently of the engine. */
  dumpChanges: string[];
}

/** Options of `branch merge`. */
export interface MergeOptions {
  into?: string;
  dryRun?: boolean;
  output?: string;
  allowDataLoss?: boolean;
  /** Merge even where the proof finds the result unlike the branch (named in a warning). */
  allowDifference?: boolean;
  database?: string;
}

/** What `branch merge` did (or would do). */
export interface MergeResult {
  branch: string;
  into: string;
  base: string;
  database: string;
  engine: string;
  /** The branch's changes since the fork that the target does not have yet. */
  objects: ObjectChange[];
  statements: string[];
  dataLoss: DataLoss[];
  dryRun: boolean;
  applied: boolean;
  /** The snapshot of the target taken before the merge (undoes it), if applied. */
  preMergeSnapshot: string | null;
  output: string | null;
  /** What the proof compared on a throwaway clone of the target with the script applied. */
  proof: ProofResult;
}

/** One engine's script for a merge, and what its proof found (or why it failed). */
interface Candidate {
  engine: string;
  statements: string[];
  dataLoss: DataLoss[];
  outcome: { proof: ProofResult } | { failure: MergeProofError };
}

/** Whether a candidate's script ran on the clone and gave the three-way merge. */
function proven(c: Candidate): boolean {
  return "proof" in c.outcome && c.outcome.proof.differences.length === 0;
}

/**
 * Of two candidates, the one nearer the three-way merge: proven, else one whose script ran
 * with the fewest differences (each nameable, and acceptable with --allow-difference), else
 * the first.
 */
function closer(first: Candidate, second: Candidate): Candidate {
  const score = (c: Candidate) =>
    "proof" in c.outcome ? c.outcome.proof.differences.length : Number.POSITIVE_INFINITY;
  return score(second) < score(first) ? second : first;
}

/** The second engine, loaded only when the first one's script is not proven. */
function pgDelta() {
  return import("../adapters/pg_delta_engine.ts");
}

/**
 * The fork's base as the second engine reads it, taken while the base's temporary clone
 * runs; undefined when that engine cannot read it (the merge then relies on the first).
 */
async function alternativeFacts(base: PgEndpoint): Promise<FactBase | undefined> {
  try {
    return await (await pgDelta()).extractFacts(base);
  } catch (error) {
    log.debug(`pg-delta could not read the fork's base: ${(error as Error).message}`);
    return undefined;
  }
}

function firstLine(sql: string): string {
  return sql.split("\n")[0].slice(0, 120);
}

/** A database zvpg opened for a comparison, and how to let it go. */
interface OpenSide {
  endpoint: PgEndpoint;
  /** The branch and container serving it. */
  branch: string;
  container: string;
  close(): Promise<void>;
}

/**
 * The engine's module, loaded on first use: its npm dependency tree is large, and every
 * other command starts faster without it.
 */
function adapter() {
  return import("../adapters/schema_diff.ts");
}

/** The innermost message of an error, without the password. */
export function engineMessage(error: unknown, password: string): string {
  let e = error as { message?: string; cause?: unknown } | undefined;
  while (e?.cause && typeof e.cause === "object") e = e.cause as typeof e;
  const message = String(e?.message ?? error).split("\n")[0];
  return password ? message.replaceAll(password, "***") : message;
}

/** Diff and merge workflows. */
export class DiffMergeService {
  private readonly temporaries: string[] = [];

  private engine!: SchemaDiffEngine;

  /** `engine` replaces the default one (`@pgkit/migra`), e.g. in tests. */
  constructor(private readonly ctx: Context, engine?: SchemaDiffEngine) {
    if (engine) this.engine = engine;
  }

  private async loadEngine(): Promise<void> {
    this.engine ??= (await adapter()).migraEngine;
  }

  /** `branch diff <branch> [<other>]`. */
  async diff(branchName: string, options: DiffOptions = {}): Promise<DiffResult> {
    const database = options.database ?? this.ctx.config.postgresDb;
    const branch = await this.branch(branchName);
    await this.loadEngine();
    const sides: OpenSide[] = [];
    try {
      let baseLabel: DiffResult["base"];
      let baseSide: OpenSide;
      let compareSide: OpenSide;
      if (options.other === undefined) {
        const origin = this.originOf(branch);
        baseLabel = { branch: branch.parent ?? "", snapshot: origin };
        compareSide = this.openRunning(branch, database);
        await this.sweep();
        baseSide = await this.openSnapshot(origin, database);
        sides.push(baseSide);
      } else {
        const other = await this.branch(options.other);
        baseLabel = { branch: branch.name, snapshot: null };
        baseSide = this.openRunning(branch, database);
        compareSide = this.openRunning(other, database);
      }
      const base = await this.inspect(baseSide.endpoint);
      const compare = await this.inspect(compareSide.endpoint);
      const objects = objectChanges(base.objects, compare.objects);
      const statements = await this.engine.plan(base, compare);
      const dumpChanges = changedSince(await this.dump(baseSide), await this.dump(compareSide));
      const data = options.data || options.exact
        ? await tableDataChanges(baseSide.endpoint, compareSide.endpoint, {
          exact: options.exact ?? false,
          counters: options.other === undefined,
        })
        : null;
      return {
        base: baseLabel,
        compare: { branch: options.other ?? branch.name },
        database,
        engine: this.engine.name,
        hasChanges: objects.length > 0 || statements.length > 0 || dumpChanges.length > 0 ||
          (data?.some((t) => t.changed) ?? false),
        objects,
        statements,
        data,
        dumpChanges,
      };
    } finally {
      await shielded(() => this.closeAll(sides));
    }
  }

  /** `branch merge <branch> [--into <target>]`. */
  async merge(branchName: string, options: MergeOptions = {}): Promise<MergeResult> {
    const { ctx } = this;
    const database = options.database ?? ctx.config.postgresDb;
    const branch = await this.branch(branchName);
    const origin = this.originOf(branch);
    const into = options.into ?? branch.parent;
    if (!into) {
      throw new UsageError(`branch '${branch.name}' has no parent to merge into`, {
        hint: "name the target with --into",
      });
    }
    if (into === branch.name) {
      throw new UsageError(`cannot merge branch '${into}' into itself`, {
        hint: "name another target with --into",
      });
    }
    const target = await this.branch(into);
    await this.loadEngine();
    const ourSide = this.openRunning(branch, database);
    const theirSide = this.openRunning(target, database);
    const targetEp = theirSide.endpoint;
    await this.sweep();
    const sides: OpenSide[] = [];
    try {
      const baseSide = await this.openSnapshot(origin, database);
      sides.push(baseSide);
      const base = await this.inspect(baseSide.endpoint);
      const baseDump = await this.dump(baseSide);
      const baseFacts = await alternativeFacts(baseSide.endpoint);
      await shielded(() => this.closeAll(sides.splice(0)));
      const ours = await this.inspect(ourSide.endpoint);
      const theirs = await this.inspect(targetEp);
      const dumps = {
        base: baseDump,
        branch: await this.dump(ourSide),
        target: await this.dump(theirSide),
      };
      const branchChanges = objectChanges(base.objects, ours.objects);
      const targetChanges = objectChanges(base.objects, theirs.objects);
      const conflicts = findConflicts(branchChanges, targetChanges);
      if (conflicts.length > 0) throw conflictError(branch.name, into, conflicts);
      const ids = idsToMerge(branchChanges, targetChanges);
      const desired = this.engine.overlay(await this.inspect(targetEp), ours, ids);
      const statements = await this.engine.plan(theirs, desired);
      const dataLoss = classifyDataLoss(statements, theirs.facts);
      if (dataLoss.length > 0 && !options.allowDataLoss && !options.dryRun) {
        throw dataLossError(branch.name, into, dataLoss);
      }
      let chosen = await this.tryScript(target, database, dumps, {
        engine: this.engine.name,
        statements,
        dataLoss,
      });
      if (!proven(chosen) && baseFacts) {
        const other = await this.alternativePlan(baseFacts, ourSide, theirSide, theirs);
        const tried = other && await this.tryScript(target, database, dumps, other);
        if (tried) chosen = closer(chosen, tried);
      }
      if ("failure" in chosen.outcome) throw chosen.outcome.failure;
      const { proof } = chosen.outcome;
      if (proof.differences.length > 0) {
        if (!options.allowDifference) {
          throw proofError(branch.name, into, chosen.statements, proof);
        }
        log.warn(
          `merging knowingly, unlike '${branch.name}': ${describeDifferences(proof.differences)}`,
        );
      }
      if (chosen.dataLoss.length > 0 && !options.allowDataLoss && !options.dryRun) {
        throw dataLossError(branch.name, into, chosen.dataLoss);
      }
      const result: MergeResult = {
        branch: branch.name,
        into,
        base: origin,
        database,
        engine: chosen.engine,
        objects: branchChanges.filter((c) => ids.has(c.id)),
        statements: chosen.statements,
        dataLoss: chosen.dataLoss,
        dryRun: options.dryRun ?? false,
        applied: false,
        preMergeSnapshot: null,
        output: null,
        proof,
      };
      if (result.statements.length === 0) return result;
      if (options.dryRun) return this.writeOutput(result, options.output);
      this.writeOutput(result, options.output);
      await this.apply(result, theirSide, dumps.target);
      return result;
    } finally {
      await shielded(() => this.closeAll(sides));
    }
  }

  /**
   * Applies a proven script to the target, after snapshotting it; refuses if the target
   * changed since it was read (the script was made and proven for that state).
   */
  private async apply(result: MergeResult, target: OpenSide, targetDump: SchemaDump) {
    const { branch, into, statements } = result;
    throwIfInterrupted();
    const drift = changedSince(targetDump, await this.dump(target));
    if (drift.length > 0) {
      throw new StateError(
        `branch '${into}' changed during the merge (${drift.join(", ")}); nothing was applied`,
        { hint: "run the merge again" },
      );
    }
    result.preMergeSnapshot = await this.preMergeSnapshot(branch, into);
    faultPoint("branch.merge.before-apply");
    throwIfInterrupted();
    try {
      await (await adapter()).applyInTransaction(target.endpoint, statements);
    } catch (error) {
      throw new ZvpgError(
        `the merge script failed on branch '${into}' and was rolled back: ${
          engineMessage(error, target.endpoint.password)
        }`,
        { hint: `'${into}' is unchanged; snapshot '${result.preMergeSnapshot}' can be deleted` },
      );
    }
    result.applied = true;
    log.info(`merged ${statements.length} statement(s) from '${branch}' into '${into}'`);
  }

  /**
   * Runs a candidate script on a throwaway clone of the target (none when it is empty) and
   * proves the clone's schema against the three-way merge.
   */
  private async tryScript(
    target: BranchRecord,
    database: string,
    dumps: Omit<ProofDumps, "merged">,
    script: Omit<Candidate, "outcome">,
  ): Promise<Candidate> {
    if (script.statements.length === 0) {
      return { ...script, outcome: { proof: proveMerge({ ...dumps, merged: dumps.target }) } };
    }
    try {
      const merged = await this.prove(target, script.statements, database);
      return { ...script, outcome: { proof: proveMerge({ ...dumps, merged }) } };
    } catch (error) {
      if (!(error instanceof MergeProofError)) throw error;
      return { ...script, outcome: { failure: error } };
    }
  }

  /**
   * The second engine's script (`@supabase/pg-delta`), tried when the first one's is not
   * proven; undefined when it finds a conflict or cannot read a side.
   */
  private async alternativePlan(
    baseFacts: FactBase,
    branch: OpenSide,
    target: OpenSide,
    theirs: InspectedSchema,
  ): Promise<Omit<Candidate, "outcome"> | undefined> {
    const delta = await pgDelta();
    log.info(`${this.engine.name}'s script is not proven: trying ${delta.pgDeltaThreeWay.name}…`);
    try {
      const plan = delta.threeWayFromFacts(
        baseFacts,
        await delta.extractFacts(branch.endpoint),
        await delta.extractFacts(target.endpoint),
      );
      if (plan.conflicts.length > 0) return undefined;
      const dataLoss = classifyDataLoss(plan.statements, theirs.facts);
      for (const statement of plan.destructive) {
        if (dropsGeneratedColumn(statement, theirs.facts)) continue;
        if (!dataLoss.some((l) => l.statement === statement)) {
          dataLoss.push({
            statement,
            reason: `${firstLine(statement)} (destructive, says pg-delta)`,
          });
        }
      }
      return { engine: delta.pgDeltaThreeWay.name, statements: plan.statements, dataLoss };
    } catch (error) {
      log.debug(
        `${delta.pgDeltaThreeWay.name} could not plan the merge: ${(error as Error).message}`,
      );
      return undefined;
    }
  }

  /**
   * Runs the script on a throwaway clone of the target's current state and returns the
   * clone's schema as pg_dump sees it.
   */
  private async prove(
    target: BranchRecord,
    statements: string[],
    database: string,
  ): Promise<SchemaDump> {
    const side = await this.openTemporary({ parent: target.name }, database);
    try {
      faultPoint("branch.merge.before-proof");
      await (await adapter()).applyInTransaction(side.endpoint, statements);
      return await this.dump(side);
    } catch (error) {
      if (error instanceof ZvpgError) throw error;
      throw new MergeProofError(
        `the merge script failed on a throwaway clone of '${target.name}': ${
          engineMessage(error, side.endpoint.password)
        }`,
        {
          hint:
            `nothing was changed; 'zvpg branch diff' shows the changes to make in '${target.name}' by hand`,
        },
      );
    } finally {
      await shielded(() => side.close());
    }
  }

  private writeOutput(result: MergeResult, output: string | undefined): MergeResult {
    if (output === undefined) return result;
    try {
      writeFileSync(output, migrationFile(result));
    } catch (error) {
      throw new ZvpgError(
        `could not write the migration to ${output}: ${(error as Error).message}`,
        {
          hint: "check that its directory exists and is writable",
        },
      );
    }
    result.output = output;
    return result;
  }

  private async preMergeSnapshot(branch: string, into: string): Promise<string> {
    const stamp = this.ctx.now().toISOString().replace(/[-:.]/g, "");
    const safe = branch.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 32);
    const name = `pre-merge-${safe}-${stamp}`;
    await snapshotBranch(this.ctx, name, {
      branch: into,
      message: `before merging '${branch}' into '${into}'`,
    });
    return name;
  }

  private async branch(name: string): Promise<BranchRecord> {
    validateBranchName(name, this.ctx.config.branchNamingPattern);
    return await loadBranch(this.ctx, "branch info", name);
  }

  private originOf(branch: BranchRecord): string {
    if (!branch.origin) {
      throw new UsageError(`branch '${branch.name}' has no origin snapshot to compare with`, {
        hint: `compare it with another branch: 'zvpg branch diff ${branch.name} <other>'`,
      });
    }
    return branch.origin;
  }

  private async inspect(endpoint: PgEndpoint): Promise<InspectedSchema> {
    throwIfInterrupted();
    try {
      return await this.engine.inspect(endpoint);
    } catch (error) {
      throw new ZvpgError(
        `could not read the schema of database '${endpoint.database}' on port ${endpoint.port}: ${
          engineMessage(error, endpoint.password)
        }`,
        { hint: "check that the database exists (--database) and the branch is running" },
      );
    }
  }

  private openRunning(branch: BranchRecord, database: string): OpenSide {
    if (branch.container?.state !== "running" || branch.port === null) {
      throw new StateError(`branch '${branch.name}' is not running`, {
        hint: `start it with 'zvpg branch start ${branch.name}'`,
      });
    }
    return {
      endpoint: this.endpoint(branch.port, database),
      branch: branch.name,
      container: branch.container.name,
      close: async () => {},
    };
  }

  private openSnapshot(snapshot: string, database: string): Promise<OpenSide> {
    return this.openTemporary({ from: snapshot }, database);
  }

  /** A temporary branch (from a snapshot, or of a branch's current state), started. */
  private async openTemporary(
    source: { from?: string; parent?: string },
    database: string,
  ): Promise<OpenSide> {
    const name = `zvpg-tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    this.temporaries.push(name);
    log.info(`starting a temporary clone '${name}'…`);
    const made = await createBranch(this.ctx, name, {
      ...source,
      props: { [TEMPORARY_PROP]: String(Deno.pid) },
    });
    faultPoint("branch.diff.after-temporary");
    // a Ctrl-C here leaves it in `temporaries`: closeAll() removes it
    throwIfInterrupted();
    return {
      endpoint: this.endpoint(made.port!, database),
      branch: name,
      container: made.container!.name,
      close: () => this.removeTemporary(name),
    };
  }

  /** The schema of a side's database, as its own pg_dump writes it. */
  private dump(side: OpenSide): Promise<SchemaDump> {
    throwIfInterrupted();
    return dumpSchema(this.ctx, {
      branch: side.branch,
      container: side.container,
      database: side.endpoint.database,
    });
  }

  private async removeTemporary(name: string): Promise<void> {
    const i = this.temporaries.indexOf(name);
    if (i >= 0) this.temporaries.splice(i, 1);
    await deleteBranch(this.ctx, name, { force: true }).catch((e) => {
      // a create stopped by Ctrl-C has rolled itself back already
      if (e instanceof BranchNotFoundError) return;
      log.error(`could not remove temporary branch '${name}': ${e.message}`);
    });
  }

  private async closeAll(sides: OpenSide[]): Promise<void> {
    for (const side of sides) await side.close();
    // a create stopped half-way (Ctrl-C) rolls itself back; anything left goes here
    for (const name of [...this.temporaries]) await this.removeTemporary(name);
  }

  /** Removes temporary branches whose zvpg process is dead (a crash or kill -9). */
  private async sweep(): Promise<void> {
    for (const name of await staleTemporaryBranches(this.ctx)) {
      log.warn(`removing temporary branch '${name}' left by a dead zvpg process`);
      await deleteBranch(this.ctx, name, { force: true });
    }
  }

  private endpoint(port: number, database: string): PgEndpoint {
    const { config, layout } = this.ctx;
    return {
      host: layout.connectHost,
      port,
      user: config.postgresUser,
      password: readPassword(layout.passFile),
      database,
    };
  }
}

/** Temporary branches (marked {@link TEMPORARY_PROP}) whose process is no longer alive. */
export async function staleTemporaryBranches(ctx: Context): Promise<string[]> {
  const tree = await ctx.zfs.get([ctx.layout.clonesDataset], [TEMPORARY_PROP, PROPS.branch], 1)
    .catch(() => []);
  return tree.filter((e) => {
    if (e.name.includes("@")) return false;
    const pid = Number(e.props[TEMPORARY_PROP]);
    return Number.isInteger(pid) && pid > 0 && e.props[PROPS.branch] &&
      !operationAlive(pid);
  }).map((e) => e.props[PROPS.branch]);
}

function conflictError(branch: string, into: string, conflicts: Conflict[]): MergeConflictError {
  const named = conflicts.map((c) =>
    `${c.kind} ${c.name} (${c.branch} on '${branch}', ${c.target} on '${into}')`
  );
  return new MergeConflictError(
    `cannot merge '${branch}' into '${into}': changed on both since the fork: ${named.join(", ")}`,
    { hint: `make those objects the same on both, or change them by hand in '${into}'` },
  );
}

function proofError(
  branch: string,
  into: string,
  statements: string[],
  proof: ProofResult,
): MergeProofError {
  const what = statements.length === 0
    ? `the engine writes no statement for what '${branch}' changed`
    : `the merge script, run on a throwaway clone of '${into}', leaves a schema unlike the three-way merge`;
  return new MergeProofError(
    `cannot merge '${branch}' into '${into}': ${what}: ${describeDifferences(proof.differences)}`,
    {
      hint:
        `nothing was changed; make these changes in '${into}' by hand, or rerun with --allow-difference to accept them`,
    },
  );
}

function dataLossError(branch: string, into: string, losses: DataLoss[]): DataLossError {
  return new DataLossError(
    `merging '${branch}' into '${into}' would lose data: ${losses.map((l) => l.reason).join("; ")}`,
    { hint: "review it with --dry-run, then rerun with --allow-data-loss" },
  );
}

/** The migration file `--output` writes. */
export function migrationFile(r: MergeResult): string {
  return [
    `-- zvpg: schema changes of branch '${r.branch}' since snapshot '${r.base}', for '${r.into}'`,
    `-- engine: ${r.engine}; rows are not included`,
    r.proof.differences.length === 0
      ? `-- proven: run on a throwaway clone of '${r.into}', pg_dump matches the three-way merge (${r.proof.objectsChecked} objects)`
      : `-- NOT PROVEN (accepted with --allow-difference): ${
        describeDifferences(r.proof.differences)
      }`,
    ...r.dataLoss.map((l) => `-- DATA LOSS: ${l.reason}`),
    "begin;",
    ...r.statements.map((s) => s.endsWith(";") ? s : `${s};`),
    "commit;",
    "",
  ].join("\n");
}

interface TableStats {
  table: string;
  reltuples: number;
  ins: string;
  upd: string;
  del: string;
}

const STATS_SQL = `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as "table",
  c.reltuples::float8 as reltuples, coalesce(s.n_tup_ins, 0)::text as ins,
  coalesce(s.n_tup_upd, 0)::text as upd, coalesce(s.n_tup_del, 0)::text as del
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  left join pg_stat_user_tables s on s.relid = c.oid
  where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg_toast%' order by 1`;

async function tableDataChanges(
  base: PgEndpoint,
  compare: PgEndpoint,
  options: { exact: boolean; counters: boolean },
): Promise<TableDataChange[]> {
  const before = new Map(
    (await (await adapter()).queryRows<TableStats>(base, STATS_SQL)).map((r) => [r.table, r]),
  );
  const after = await (await adapter()).queryRows<TableStats>(compare, STATS_SQL);
  const out: TableDataChange[] = [];
  for (const t of after) {
    const b = before.get(t.table);
    const estimate = (n: number | undefined) => (n === undefined || n < 0 ? null : Math.round(n));
    let rowsBase = estimate(b?.reltuples);
    let rowsCompare = estimate(t.reltuples);
    if (options.exact) {
      rowsBase = b ? await countRows(base, t.table) : null;
      rowsCompare = await countRows(compare, t.table);
    }
    const inserted = options.counters ? Number(t.ins) : null;
    const updated = options.counters ? Number(t.upd) : null;
    const deleted = options.counters ? Number(t.del) : null;
    out.push({
      table: t.table,
      rowsBase,
      rowsCompare,
      inserted,
      updated,
      deleted,
      changed: rowsBase !== rowsCompare || (inserted ?? 0) + (updated ?? 0) + (deleted ?? 0) > 0,
      method: options.exact ? "exact" : "estimate",
    });
  }
  return out;
}

async function countRows(endpoint: PgEndpoint, table: string): Promise<number> {
  // `table` is quote_ident()ed by the server
  const rows = await (await adapter()).queryRows<{ n: string }>(
    endpoint,
    `select count(*)::text as n from ${table}`,
  );
  return Number(rows[0].n);
}
