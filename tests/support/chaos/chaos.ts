/**
 * The randomized chaos run of issue 11: random create, start, stop, delete, snapshot,
 * snapshot delete and writes through the real CLI, with random faults, and every
 * invariant of invariants.ts checked after every step. Reproducible from its seed: the
 * same seed makes the same choices as long as commands have the same outcomes (the
 * moment a SIGINT lands, and so what it interrupts, depends on timing).
 *
 * @module
 */
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { sh, type TestEnv } from "../itest.ts";
import { PROPS } from "../../../src/domain/layout.ts";
import { failing, type HealthCheck } from "../fault_support.ts";
import {
  checkLogin,
  checkOrphans,
  checkPerms,
  checkPorts,
  checkRows,
  checkServers,
  checkStalePorts,
  checkTreeMounted,
  containersOf,
  type Invariant,
  INVARIANTS,
  type Listing,
  listing,
  probe,
  type Violation,
} from "./invariants.ts";
import {
  DISRUPTIVE_FAULTS,
  type Fault,
  faultPointsOf,
  FAULTS,
  pauseSupervisor,
  remountOthers,
  RESET_DONE_POINTS,
  resetFaultPoints,
} from "./faults.ts";
import {
  commitTxg,
  dockerAnswers,
  startDockerd,
  startZfs,
  stopDockerd,
  stopZfs,
  zfsAnswers,
} from "../engines.ts";
import type { BranchJson } from "./model.ts";
import { type BranchState, Model } from "./model.ts";
import type { BranchResetJson } from "../../../src/cli/views.ts";
import { Prng } from "./prng.ts";
import { type ChaosResult, parseJson, type RunOptions, runZvpg } from "./runner.ts";

/** Settings of one run, read from the environment by {@link chaosOptions}. */
export interface ChaosOptions {
  seed: number;
  /** Stop starting steps after this many seconds (ZVPG_CHAOS_SECONDS, default 150). */
  seconds: number;
  /** And after this many steps (ZVPG_CHAOS_STEPS, default 400). */
  maxSteps: number;
  /** Engine and zfs-fuse restarts are on (ZVPG_CHAOS_DISRUPTIVE=1). */
  disruptive: boolean;
  /** Invariants and faults not checked or injected (ZVPG_CHAOS_SKIP, dev runs only). */
  skip: Set<string>;
  /** Record violations and go on, failing at the end (ZVPG_CHAOS_KEEP_GOING=1, dev runs). */
  keepGoing: boolean;
  /** Operations chosen 4 times as often (ZVPG_CHAOS_FOCUS, dev runs only). */
  focus: Set<string>;
}

/** Reads the run's settings; unknown names in ZVPG_CHAOS_SKIP are refused loudly. */
export function chaosOptions(seed: number): ChaosOptions {
  const skip = new Set(
    (Deno.env.get("ZVPG_CHAOS_SKIP") ?? "").split(",").map((s) => s.trim()).filter((s) => s),
  );
  const known = new Set<string>([...INVARIANTS, ...FAULTS]);
  const unknown = [...skip].filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw new Error(
      `ZVPG_CHAOS_SKIP names unknown invariants or faults: ${unknown.join(", ")} ` +
        `(known: ${[...known].join(", ")})`,
    );
  }
  const focus = new Set(
    (Deno.env.get("ZVPG_CHAOS_FOCUS") ?? "").split(",").map((s) => s.trim()).filter((s) => s),
  );
  const unknownOps = [...focus].filter((o) => !(OPS as readonly string[]).includes(o));
  if (unknownOps.length > 0) {
    throw new Error(
      `ZVPG_CHAOS_FOCUS names unknown operations: ${unknownOps.join(", ")} (known: ${OPS})`,
    );
  }
  const number = (name: string, fallback: number) => {
    const value = Number(Deno.env.get(name) ?? fallback);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
    return value;
  };
  return {
    seed,
    seconds: number("ZVPG_CHAOS_SECONDS", 150),
    maxSteps: number("ZVPG_CHAOS_STEPS", 400),
    disruptive: Deno.env.get("ZVPG_CHAOS_DISRUPTIVE") === "1",
    skip,
    keepGoing: Deno.env.get("ZVPG_CHAOS_KEEP_GOING") === "1",
    focus,
  };
}

/** At most this many branches besides the default one (the env has 20 ports). */
const MAX_BRANCHES = 4;
/** Snapshots beyond this make snapshot steps rare. */
const MANY_SNAPSHOTS = 8;
/** Each disruptive fault at most this many times per run (each costs 10-30 s). */
const MAX_DISRUPTIVE = 2;

/** What one step did and what it allows to change. */
interface Outcome {
  line: string;
  /** A fault was injected: one `status health --repair` may be needed. */
  faulty: boolean;
  /** Branch and snapshot names that may legitimately be gone after this step. */
  mayVanish: { branches: Set<string>; snapshots: Set<string> };
  violations: Violation[];
  /**
   * Branches that ran before the step and must run again, on the same port, once it is
   * checked (after its repair: it starts a branch again on the port it served on).
   */
  mustRun?: { name: string; port: number | null }[];
}

/** The operations a step runs. */
const OPS = [
  "create",
  "start",
  "stop",
  "delete",
  "snapshot",
  "snapshot-delete",
  "reset",
  "write",
] as const;
type Op = typeof OPS[number];

/** Operations run by {@link ChaosRun.#cli} (a write and a reset have their own). */
type CliOp = Exclude<Op, "write" | "reset">;

/**
 * A `branch reset` the suite chose, and what it must do: which path it takes (a rollback
 * in place to the origin or one of the branch's own snapshots, else a clone swap), what
 * it throws away and whether it must be refused.
 */
interface ResetPlan {
  branch: BranchJson;
  /** `reset <name> [--to S | --parent] [--force]`. */
  args: string[];
  mode: "origin" | "own" | "to" | "parent";
  /** The snapshot it resets to (none for `--parent`: a new one of the parent). */
  target?: string;
  inPlace: boolean;
  force: boolean;
  /** The branch's snapshots it throws away and the branches made from them. */
  lost: { branches: Set<string>; snapshots: Set<string> };
  /** Why zvpg must refuse it (exit 1, nothing changed), if it must. */
  refusal?: string;
}

/** How a reset must leave its branch: running on the same port, or stopped. */
interface KeptExpectation {
  name: string;
  running: boolean;
  port: number | null;
  after: string;
}

/** One chaos run against a fresh, initialised {@link TestEnv}. */
export class ChaosRun {
  readonly prng: Prng;
  readonly model = new Model("main");
  readonly steps: string[] = [];
  readonly found: { step: number; violation: Violation }[] = [];
  readonly used = new Map<string, number>();
  last: Listing = { branches: [], snapshots: [] };
  #dirty = false;
  /** Checked after this step: how a reset left its branch (see {@link KeptExpectation}). */
  #kept: KeptExpectation | undefined;

  constructor(readonly env: TestEnv, readonly options: ChaosOptions) {
    this.prng = new Prng(options.seed);
  }

  /** The command that replays this run. */
  get replay(): string {
    const o = this.options;
    return `ZVPG_CHAOS_SEED=${o.seed} ZVPG_CHAOS_SECONDS=${o.seconds}` +
      (o.disruptive ? " ZVPG_CHAOS_DISRUPTIVE=1" : "") +
      (o.skip.size > 0 ? ` ZVPG_CHAOS_SKIP=${[...o.skip].join(",")}` : "") +
      (o.focus.size > 0 ? ` ZVPG_CHAOS_FOCUS=${[...o.focus].join(",")}` : "") +
      " deno test -A tests/integration/chaos_test.ts";
  }

  /** Runs steps until the time or step bound; throws a replayable report on a violation. */
  async run(): Promise<void> {
    await this.setUp();
    const started = Date.now();
    const deadline = started + this.options.seconds * 1000;
    for (let i = 1; i <= this.options.maxSteps && Date.now() < deadline; i++) {
      let outcome: Outcome;
      let violations: Violation[];
      try {
        outcome = await this.step(i, (Date.now() - started) / (deadline - started));
        const checking = Date.now();
        violations = [...outcome.violations, ...await this.check(outcome)]
          .filter((v) => !this.options.skip.has(v.invariant));
        outcome.line += ` [checks ${Date.now() - checking} ms]`;
      } catch (e) {
        // the system could not even be looked at: report with the seed, then stop
        this.steps.push(`#${i} (threw)`);
        this.found.push({
          step: i,
          violation: { invariant: "observable", evidence: [String((e as Error).stack ?? e)] },
        });
        throw new Error(this.report());
      }
      this.steps.push(`#${i} ${outcome.line}`);
      console.log(`chaos #${i} ${outcome.line}${violations.length ? "  ** VIOLATION" : ""}`);
      this.#dirty = violations.length > 0;
      for (const violation of violations) this.found.push({ step: i, violation });
      if (violations.length > 0 && !this.options.keepGoing) throw new Error(this.report());
    }
    console.log(`chaos: ${this.steps.length} steps; used ${JSON.stringify([...this.used])}`);
    if (this.found.length > 0) throw new Error(this.report());
  }

  /** The failure report: seed, replay command, steps, violations with evidence. */
  report(): string {
    const lines = [
      `chaos seed: ${this.options.seed}`,
      `replay: ${this.replay}`,
      "steps:",
      ...this.steps.map((s) => `  ${s}`),
      "violations:",
    ];
    for (const { step, violation } of this.found) {
      lines.push(`  step #${step} [${violation.invariant}]`);
      for (const e of violation.evidence.slice(0, 12)) lines.push(`    ${e}`);
    }
    return lines.join("\n");
  }

  /** Tables every branch inherits: its marker and the rows the suite committed. */
  async setUp(): Promise<void> {
    // config.json was written by the test harness (0644), not by zvpg
    chmodSync(this.env.configFile, 0o600);
    const port = await this.env.port("main");
    await this.env.psql(
      port,
      "create table chaos_marker (branch text not null);" +
        "insert into chaos_marker values ('main');" +
        "create table chaos_rows (v text primary key)",
    );
    this.model.branches.get("main")!.marker = "main";
    this.last = await listing(this.env);
  }

  #count(what: string): number {
    return this.used.get(what) ?? 0;
  }

  #use(what: string): void {
    this.used.set(what, this.#count(what) + 1);
  }

  #running(): BranchJson[] {
    return this.last.branches.filter((b) => b.status === "running" && b.port !== null);
  }

  /** Picks and runs one step. `progress` is the share of the time bound used so far. */
  async step(index: number, progress: number): Promise<Outcome> {
    void index;
    const due = this.#dueDisruptive(progress);
    if (due) {
      this.#use(due);
      return await this.#standalone(due);
    }
    const faults = this.#standaloneFaults(progress);
    if (Object.keys(faults).length > 0 && this.prng.chance(0.25)) {
      const fault = this.prng.weighted(faults);
      this.#use(fault);
      return await this.#standalone(fault);
    }
    const op = this.prng.weighted(this.#opWeights());
    this.#use(op);
    return await this.#op(op);
  }

  /**
   * A disruptive run restarts each service at least once: the k-th of n enabled
   * disruptive faults is due at k/(n+1) of the time bound if chance has not picked it.
   */
  #dueDisruptive(progress: number): Fault | undefined {
    if (!this.options.disruptive) return undefined;
    const enabled = DISRUPTIVE_FAULTS.filter((f) => !this.options.skip.has(f));
    return enabled.find((f, k) =>
      this.#count(f) === 0 && progress >= (k + 1) / (enabled.length + 1)
    );
  }

  #opWeights(): Partial<Record<Op, number>> {
    const others = this.last.branches.filter((b) => !b.default).length;
    const notRunning = this.last.branches.filter((b) => b.status !== "running").length;
    const snaps = this.model.snapshots.size;
    const weights: Partial<Record<Op, number>> = {
      create: others < MAX_BRANCHES ? 3 : 0,
      start: notRunning > 0 ? 2 : 0,
      stop: this.#running().length > 0 ? 2 : 0,
      delete: others > 0 ? 2 : 0,
      snapshot: snaps < MANY_SNAPSHOTS ? 2.5 : 0.5,
      "snapshot-delete": snaps > 0 ? 1.5 : 0,
      reset: this.#resettable().length > 0 ? 2 : 0,
      write: this.#running().length > 0 ? 1.5 : 0,
    };
    for (const op of this.options.focus) weights[op as Op] = (weights[op as Op] ?? 0) * 4;
    return weights;
  }

  /** Applicable standalone faults; those not used yet weigh more after 30 % of the run. */
  #standaloneFaults(progress: number): Partial<Record<Fault, number>> {
    const running = this.#running().length > 0;
    const withContainer = this.#running().some((b) => b.container);
    const weights: Partial<Record<Fault, number>> = {
      "container-kill": withContainer ? 2 : 0,
      "container-rm": withContainer ? 1.5 : 0,
      "supervisor-pause": withContainer ? 1.5 : 0,
      override: running ? 1.5 : 0,
    };
    if (this.options.disruptive) {
      for (const f of DISRUPTIVE_FAULTS) weights[f] = this.#count(f) < MAX_DISRUPTIVE ? 1 : 0;
    }
    for (const f of Object.keys(weights) as Fault[]) {
      if (this.options.skip.has(f)) delete weights[f];
      else if (progress > 0.3 && this.#count(f) === 0) weights[f] = weights[f]! * 4;
    }
    for (const f of Object.keys(weights) as Fault[]) if (!weights[f]) delete weights[f];
    return weights;
  }

  /** Runs a CLI operation, perhaps killed at a fault point or interrupted by SIGINT. */
  async #op(op: Op): Promise<Outcome> {
    if (op === "write") return await this.#write();
    const plan = op === "reset" ? this.#planReset() : undefined;
    const points = plan
      ? resetFaultPoints(plan.inPlace, plan.branch.status === "running")
      : faultPointsOf(op);
    const run: RunOptions = {};
    let fault = "";
    const roll = this.prng.next();
    if (roll < 0.2 && points.length > 0 && !this.options.skip.has("kill")) {
      const point = this.prng.pick(points);
      run.env = { ZVPG_FAULT: point };
      fault = ` [SIGKILL at ${point}]`;
      this.#use("kill");
    } else if (roll < 0.35 && !this.options.skip.has("sigint")) {
      run.sigintAfterMs = this.prng.int(50, 1500);
      fault = ` [SIGINT after ${run.sigintAfterMs} ms]`;
      this.#use("sigint");
    }
    const outcome = plan ? await this.#reset(plan, run) : await this.#cli(op as CliOp, run);
    outcome.line = outcome.line.replace(/^(\S+ .*?)( →)/, `$1${fault}$2`);
    outcome.faulty = fault !== "";
    if (run.sigintAfterMs !== undefined) outcome.violations.push(...this.#sigintExit(outcome));
    return outcome;
  }

  /** A Ctrl-C ends in 0 (finished first) or 130, never in a child's "failed (exit 130)". */
  #sigintExit(outcome: Outcome & { result?: ChaosResult }): Violation[] {
    const r = outcome.result;
    if (!r || !r.interrupted || r.code === 0 || r.code === 130) return [];
    if (!/exit 130|SIGINT|interrupt/i.test(r.stderr)) return [];
    return [{
      invariant: "exit-code",
      evidence: [`Ctrl-C ended in exit ${r.code}: ${firstError(r.stderr)}`],
    }];
  }

  async #cli(
    op: CliOp,
    run: RunOptions,
  ): Promise<Outcome & { result?: ChaosResult }> {
    switch (op) {
      case "create":
        return await this.#create(run);
      case "start": {
        const b = this.prng.pick(this.last.branches.filter((b) => b.status !== "running"));
        return await this.#simple(["branch", "start", b.name], run);
      }
      case "stop": {
        const running = this.#running();
        const others = running.filter((b) => !b.default);
        const pool = others.length > 0 && this.prng.chance(0.85) ? others : running;
        return await this.#simple(["branch", "stop", this.prng.pick(pool).name], run);
      }
      case "delete":
        return await this.#delete(run);
      case "snapshot":
        return await this.#snapshot(run);
      case "snapshot-delete":
        return await this.#snapshotDelete(run);
    }
  }

  /** Runs zvpg with `-f json`, with the step's fault, and describes the result. */
  async #exec(args: string[], run: RunOptions): Promise<{ r: ChaosResult; line: string }> {
    const r = await runZvpg(this.env, [...args, "-f", "json"], run);
    const tail = r.code === 0 ? "" : ` ${firstError(r.stderr)}`;
    return {
      r,
      line: `${args.join(" ")} → exit ${r.code}${r.timedOut ? " (TIMED OUT)" : ""} ` +
        `(${r.ms} ms)${tail}`,
    };
  }

  #outcome(line: string, r?: ChaosResult): Outcome & { result?: ChaosResult } {
    const violations: Violation[] = r?.timedOut
      ? [{ invariant: "hang", evidence: [`${line}: killed after its time limit`] }]
      : [];
    return {
      line,
      faulty: false,
      mayVanish: { branches: new Set(), snapshots: new Set() },
      violations,
      result: r,
    };
  }

  async #simple(args: string[], run: RunOptions) {
    const { r, line } = await this.#exec(args, run);
    return this.#outcome(line, r);
  }

  async #create(run: RunOptions) {
    const name = this.model.freshName(this.prng.chance(0.3) ? "f/b" : "b");
    const args = ["branch", "create", name];
    let parent = "main";
    const snaps = [...this.model.snapshots.keys()];
    if (snaps.length > 0 && this.prng.chance(0.7)) {
      args.push("--from", this.prng.pick(snaps));
    } else {
      parent = this.prng.pick(this.last.branches).name;
      if (parent !== "main") args.push("--parent", parent);
    }
    const { r, line } = await this.#exec(args, run);
    const outcome = this.#outcome(line, r);
    outcome.mayVanish.branches.add(name);
    const info = r.code === 0 ? parseJson<BranchJson>(r) : undefined;
    if (!info) {
      this.model.pending.push({ kind: "branch", name, source: parent });
      return outcome;
    }
    this.#adoptBranch(info);
    if (info.status === "running" && info.port !== null) {
      outcome.violations.push(...await this.#mark(name, info.port));
    }
    return outcome;
  }

  /** Records a branch zvpg reports, with the snapshot it was made from. */
  #adoptBranch(info: BranchJson): void {
    if (info.origin && !this.model.snapshots.has(info.origin)) {
      // an automatic snapshot of the parent's state, taken by this create
      this.model.addSnapshot(info.origin, info.parent ?? "main");
    }
    this.model.addBranch(info.name, info.origin, info.parent);
  }

  /** Writes the branch's own name into its marker (it inherited its snapshot's). */
  async #mark(name: string, port: number): Promise<Violation[]> {
    const b = this.model.branches.get(name);
    if (!b || b.marker === name || b.marker === "") return [];
    let out: string;
    try {
      out = await this.env.psql(
        port,
        `update chaos_marker set branch = '${name}' where branch = '${b.marker}' returning branch`,
      );
    } catch {
      return []; // not reachable now: the ports check reports it; marked on a later step
    }
    // psql prints the command tag ("UPDATE 1") after the returned rows
    if (out.split("\n")[0] === name) {
      b.marker = name;
      return [];
    }
    const seen = await this.env.psql(port, "select string_agg(branch, ',') from chaos_marker")
      .catch((e) => `(${e.message.trim()})`);
    return [{
      invariant: "ports",
      evidence: [
        `port ${port} of new branch '${name}' serves a database marked '${seen}', ` +
        `expected the inherited '${b.marker}'`,
      ],
    }];
  }

  /** Inserts a row into a marked running branch; records it only once committed there. */
  async #insertRow(branch: BranchJson): Promise<{ note: string; violations: Violation[] }> {
    const b = this.model.branches.get(branch.name);
    if (!b || b.marker !== branch.name || branch.port === null) {
      return { note: "not marked yet", violations: [] };
    }
    const v = this.model.freshName("r");
    try {
      const out = await this.env.psql(
        branch.port,
        `insert into chaos_rows (v) select '${v}' where exists ` +
          `(select 1 from chaos_marker where branch = '${b.marker}') returning v`,
      );
      if (out.split("\n")[0] === v) {
        this.model.addRow(branch.name, v);
        return { note: `row ${v}`, violations: [] };
      }
      return {
        note: `row ${v} refused`,
        violations: [{
          invariant: "ports",
          evidence: [`port ${branch.port} of '${branch.name}' serves a database not marked so`],
        }],
      };
    } catch (e) {
      return {
        note: `row ${v} failed: ${(e as Error).message.trim().split("\n")[0]}`,
        violations: [],
      };
    }
  }

  async #write() {
    const target = this.prng.pick(this.#running());
    const { note, violations } = await this.#insertRow(target);
    const outcome = this.#outcome(`write '${target.name}' (port ${target.port}): ${note}`);
    outcome.violations.push(...violations);
    return outcome;
  }

  async #delete(run: RunOptions) {
    const target = this.prng.pick(this.last.branches.filter((b) => !b.default)).name;
    const force = this.prng.chance(0.25);
    const named = [...this.model.snapshots.values()].filter((s) =>
      s.branch === target && !s.name.startsWith("auto-")
    ).map((s) => s.name);
    const { r, line } = await this.#exec(
      ["branch", "delete", target, ...(force ? ["--force"] : [])],
      run,
    );
    const outcome = this.#outcome(line, r);
    if (r.code === 0 && !force && named.length > 0) {
      outcome.violations.push({
        invariant: "unasked",
        evidence: [`'branch delete ${target}' (no --force) destroyed its snapshots ${named}`],
      });
    }
    outcome.mayVanish = this.model.closure([target], [], this.last.branches);
    // the automatic snapshot a branch was made from goes with the last branch made from it
    for (const b of this.last.branches) {
      if (outcome.mayVanish.branches.has(b.name) && b.origin?.startsWith("auto-")) {
        outcome.mayVanish.snapshots.add(b.origin);
      }
    }
    this.#doom(outcome.mayVanish);
    if (r.code === 0) {
      const result = parseJson<{ removedBranches?: string[]; removedSnapshots?: string[] }>(r);
      for (const name of [target, ...(result?.removedBranches ?? [])]) {
        this.model.removeBranch(name);
      }
      for (const name of result?.removedSnapshots ?? []) this.model.snapshots.delete(name);
    }
    return outcome;
  }

  async #snapshot(run: RunOptions) {
    const running = this.#running();
    const source = running.length > 0 && this.prng.chance(0.8)
      ? this.prng.pick(running)
      : this.prng.pick(this.last.branches);
    const note = source.status === "running" ? (await this.#insertRow(source)) : undefined;
    const name = this.model.freshName("s");
    const args = this.prng.chance(0.5)
      ? ["branch", "snapshot", source.name, name]
      : ["snapshot", "create", name, "-b", source.name, "-m", "chaos"];
    const { r, line } = await this.#exec(args, run);
    const outcome = this.#outcome(note ? `${line} (after ${note.note})` : line, r);
    outcome.violations.push(...(note?.violations ?? []));
    if (r.code === 0) this.model.addSnapshot(name, source.name);
    else this.model.pending.push({ kind: "snapshot", name, source: source.name });
    return outcome;
  }

  /** Remembers what a delete may remove, now or when a later repair completes it. */
  #doom(what: { branches: Set<string>; snapshots: Set<string> }): void {
    for (const b of what.branches) this.model.doomed.branches.add(b);
    for (const s of what.snapshots) this.model.doomed.snapshots.add(s);
  }

  async #snapshotDelete(run: RunOptions) {
    const target = this.prng.pick([...this.model.snapshots.keys()]);
    const force = this.prng.chance(0.3);
    const { r, line } = await this.#exec(
      ["snapshot", "delete", target, ...(force ? ["--force"] : [])],
      run,
    );
    const outcome = this.#outcome(line, r);
    outcome.mayVanish = this.model.closure([], [target], this.last.branches);
    this.#doom(outcome.mayVanish);
    if (r.code === 0) {
      const result = parseJson<{ removedBranches?: string[]; removedSnapshots?: string[] }>(r);
      this.model.snapshots.delete(target);
      for (const name of result?.removedBranches ?? []) this.model.removeBranch(name);
      for (const name of result?.removedSnapshots ?? []) this.model.snapshots.delete(name);
    }
    return outcome;
  }

  /** Branches a reset may be asked for: every other one, the default one with snapshots. */
  #resettable(): BranchJson[] {
    return this.last.branches.filter((b) =>
      !b.default || this.last.snapshots.some((s) => s.branch === b.name)
    );
  }

  /**
   * Chooses a reset: mostly of a branch other than the default one, back to its origin
   * (plain), `--to` its origin or a snapshot of another branch, `--to` one of its own
   * snapshots (the only reset of the default branch), or `--parent`; with `--force`
   * sometimes. Computes what it throws away and whether it must be refused, from the
   * last listing.
   */
  #planReset(chosen?: BranchJson, chosenMode?: ResetPlan["mode"]): ResetPlan {
    const { branches, snapshots } = this.last;
    const resettable = this.#resettable();
    const others = resettable.filter((b) => !b.default);
    const branch = chosen ??
      (others.length > 0 && this.prng.chance(0.85)
        ? this.prng.pick(others)
        : this.prng.pick(resettable));
    const own = snapshots.filter((s) => s.branch === branch.name);
    // a clone swap throws all of them away: their branches' snapshots are no target
    const swapLost = this.model.closure([], own.map((s) => s.name), branches);
    const toTargets = snapshots.filter((s) =>
      s.name === branch.origin ||
      (s.branch !== branch.name && !swapLost.branches.has(s.branch))
    );
    const mode: ResetPlan["mode"] = chosenMode ?? (branch.default ? "own" : this.prng.weighted({
      origin: 4,
      own: own.length > 0 ? 1.5 : 0,
      to: toTargets.length > 0 ? 2 : 0,
      parent: 2,
    }));
    const force = this.prng.chance(0.35);
    const args = [branch.name];
    let target: string | undefined;
    let later = own;
    let refusal: string | undefined;
    if (mode === "own") {
      const i = this.prng.int(0, own.length - 1);
      target = own[i].name;
      later = own.slice(i + 1);
      args.push("--to", target);
    } else if (mode === "to") {
      target = this.prng.pick(toTargets).name;
      args.push("--to", target);
    } else if (mode === "parent") {
      args.push("--parent");
    } else {
      target = branch.origin ?? undefined;
      if (!target || !snapshots.some((s) => s.name === target)) {
        refusal = "it has no origin snapshot";
      }
    }
    const inPlace = mode === "own" || (mode !== "parent" && target === branch.origin);
    const lost = this.model.closure([], later.map((s) => s.name), branches);
    const named = later.filter((s) => !s.auto).map((s) => s.name);
    if (!force && !refusal && (named.length > 0 || lost.branches.size > 0)) {
      refusal = `it holds named snapshots [${named}] or branches made from its snapshots ` +
        `[${[...lost.branches]}] and --force was not given`;
    }
    if (force) args.push("--force");
    return { branch, args, mode, target, inPlace, force, lost, refusal };
  }

  /** The states the branch is in once the reset is done (its target's). */
  #resetTarget(plan: ResetPlan): BranchState[] {
    if (plan.mode === "parent") return this.model.statesOf(plan.branch.parent ?? "main");
    const state = plan.target ? this.model.snapshotState(plan.target) : undefined;
    return [state ?? { rows: new Set(), marker: "" }];
  }

  /**
   * Runs a reset and updates the model: done, the branch holds its target's rows and
   * marker, and what it threw away is gone; refused, nothing changed; killed at a fault
   * point, it is as before or (past the point of no return) reset; interrupted, either.
   */
  async #reset(plan: ResetPlan, run: RunOptions) {
    const name = plan.branch.name;
    const { r, line } = await this.#exec(["branch", "reset", ...plan.args], run);
    const outcome = this.#outcome(line + (plan.refusal ? " (must refuse)" : ""), r);
    const before = this.model.statesOf(name);
    const after = this.#resetTarget(plan);
    const point = run.env?.ZVPG_FAULT;
    const killed = point !== undefined && r.stderr.includes(`fault point '${point}' reached`);
    const faulted = killed || r.interrupted || r.timedOut;
    const expected = (evidence: string) =>
      outcome.violations.push({ invariant: "expected", evidence: [`${line}: ${evidence}`] });
    if (plan.refusal && r.code !== 0) {
      // refused (or interrupted before it could be): nothing changed
      if (r.code !== 1 && !faulted) expected(`must be refused with exit 1 (${plan.refusal})`);
      return outcome;
    }
    outcome.mayVanish = {
      branches: new Set(plan.lost.branches),
      snapshots: new Set(plan.lost.snapshots),
    };
    // a swap drops the automatic snapshot the branch was made from, when nothing else uses it
    const origin = this.last.snapshots.find((s) => s.name === plan.branch.origin);
    if (!plan.inPlace && origin?.auto) outcome.mayVanish.snapshots.add(origin.name);
    this.#kept = {
      name,
      running: plan.branch.status === "running",
      port: plan.branch.port,
      after: line,
    };
    if (r.code !== 0) {
      if (!faulted) expected("failed without a fault (it must succeed)");
      this.#doom(outcome.mayVanish);
      const done = killed && RESET_DONE_POINTS.includes(point!);
      this.model.setStates(name, killed ? (done ? after : before) : [...before, ...after]);
      if (done && plan.inPlace) this.model.resetInPlace(name, before, plan.target!);
      return outcome;
    }
    if (plan.refusal) {
      outcome.violations.push({
        invariant: "unasked",
        evidence: [`${line}: done although it must be refused (${plan.refusal})`],
      });
    }
    const result = parseJson<BranchResetJson>(r);
    if (!result) {
      expected("printed no JSON");
      this.model.setStates(name, [...before, ...after]);
      return outcome;
    }
    if (plan.target !== undefined && result.resetTo !== plan.target) {
      expected(`reset to '${result.resetTo}', asked for '${plan.target}'`);
    }
    if (plan.mode === "parent" && !this.model.snapshots.has(result.resetTo)) {
      this.model.addSnapshot(result.resetTo, plan.branch.parent ?? "main");
    }
    for (const b of result.removedBranches ?? []) this.model.removeBranch(b);
    for (const s of result.removedSnapshots ?? []) this.model.snapshots.delete(s);
    this.model.setStates(name, after);
    if (plan.inPlace) this.model.resetInPlace(name, before, plan.target!);
    outcome.violations.push(...this.#keptBy(result));
    return outcome;
  }

  /** A reset keeps its branch's name and port, and leaves it running if it ran. */
  #keptBy(b: BranchJson | undefined): Violation[] {
    const kept = this.#kept;
    this.#kept = undefined;
    if (!kept) return [];
    const how = (x: { running: boolean; port: number | null }) =>
      x.running ? `running on port ${x.port}` : "not running";
    const now = b ? { running: b.status === "running", port: b.port } : undefined;
    if (now && now.running === kept.running && (!kept.running || now.port === kept.port)) {
      return [];
    }
    return [{
      invariant: "kept",
      evidence: [
        `after '${kept.after}': '${kept.name}' was ${how(kept)}, now ` +
        (b ? `${b.status}${b.port !== null ? ` on port ${b.port}` : ""}` : "gone"),
      ],
    }];
  }

  /** Injects a fault from outside zvpg. */
  async #standalone(fault: Fault): Promise<Outcome> {
    let outcome: Outcome;
    switch (fault) {
      case "container-kill":
      case "container-rm": {
        const b = this.prng.pick(this.#running().filter((b) => b.container));
        const args = fault === "container-kill"
          ? ["kill", b.container!]
          : ["rm", "-f", b.container!];
        const r = await runDocker(args);
        outcome = this.#outcome(`docker ${args.join(" ")} ('${b.name}') → exit ${r}`);
        break;
      }
      case "supervisor-pause":
        outcome = await this.#supervisorPause();
        break;
      case "override":
        outcome = await this.#override();
        break;
      case "engine-restart":
        outcome = await this.#engineRestart();
        break;
      case "zfs-restart":
        outcome = await this.#zfsRestart();
        break;
      default:
        throw new Error(`fault '${fault}' is not a standalone fault`);
    }
    outcome.faulty = true;
    return outcome;
  }

  /**
   * A running branch's server stopped inside its container by hand (its supervisor waits,
   * the container runs on, the branch is recorded as it was: running, or stopped by a
   * killed start): repair must serve it again on its port. Half the time a plain reset of that branch follows at once, which must find no
   * server to stop, and still leave the branch running on its port.
   */
  async #supervisorPause(): Promise<Outcome> {
    const b = this.prng.pick(this.#running().filter((b) => b.container));
    // also on a branch a killed start left recorded stopped (its container runs): the
    // repair restarts it all the same (seeds 11 and 14 of the first reset runs)
    const recorded = await recordedState(b.dataset);
    const paused = await pauseSupervisor(join(b.mountpoint, "pgdata"));
    const line = `pause the supervisor of '${b.name}' (${paused}; recorded ${recorded})`;
    if (b.default || !b.origin || !this.prng.chance(0.5)) {
      const outcome = this.#outcome(line);
      outcome.mustRun = [{ name: b.name, port: b.port }];
      return outcome;
    }
    const reset = await this.#reset(this.#planReset(b, "origin"), {});
    reset.line = `${line}, then ${reset.line}`;
    return reset;
  }

  /** ZVPG_CONTAINER_RUNTIME=podman on this docker-made pool: must be refused. */
  async #override(): Promise<Outcome> {
    const b = this.prng.pick(this.#running());
    const args = this.prng.chance(0.6)
      ? ["branch", "start", b.name]
      : ["status", "health", "--repair"];
    const { r, line } = await this.#exec(args, { env: { ZVPG_CONTAINER_RUNTIME: "podman" } });
    return this.#outcome(`ZVPG_CONTAINER_RUNTIME=podman ${line}`, r);
  }

  /** dockerd stopped and started again (a package upgrade, a reboot of the engine). */
  async #engineRestart(): Promise<Outcome> {
    const wasRunning = this.#running().map((b) => b.name);
    const violations: Violation[] = [];
    let down = "";
    try {
      await stopDockerd();
      const r = await runZvpg(this.env, ["branch", "list"], { timeoutMs: 60_000 });
      down = `branch list while down → exit ${r.code} ${firstError(r.stderr)}`;
      if (r.code === 0 || !/not reachable/.test(r.stderr) || r.stderr.includes("'docker ps")) {
        violations.push({ invariant: "engine-down", evidence: [down] });
      }
    } finally {
      await startDockerd();
    }
    const back = await this.#waitRunning(wasRunning, 20_000);
    if (back.length > 0) {
      violations.push({
        invariant: "restart-survival",
        evidence: [`20 s after dockerd came back, not running (no repair yet): ${back.join(", ")}`],
      });
    }
    const outcome = this.#outcome(`restart dockerd (${down})`);
    outcome.violations.push(...violations);
    return outcome;
  }

  /** Names in `names` still not running after `ms` (polling `branch list`). */
  async #waitRunning(names: string[], ms: number): Promise<string[]> {
    const deadline = Date.now() + ms;
    let missing = names;
    while (true) {
      const r = await runZvpg(this.env, ["branch", "list", "-f", "json"], { timeoutMs: 60_000 });
      const list = parseJson<BranchJson[]>(r) ?? [];
      missing = names.filter((n) => !list.some((b) => b.name === n && b.status === "running"));
      if (missing.length === 0 || Date.now() > deadline) return missing;
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  /**
   * The zfs-fuse daemon stopped and started (as `systemctl restart` or an upgrade does).
   * The pool's open transaction group is committed first: zfs-fuse loses (zero-fills)
   * writes that PostgreSQL had fsync'd but that were not yet committed when its daemon
   * dies — reproduced as `pg_logical/replorigin_checkpoint` read back as zeros — which no
   * tool above the file system can repair. The suite tests what zvpg owns after such a
   * restart: dead mounts, remounting, restarting the servers.
   */
  async #zfsRestart(): Promise<Outcome> {
    const wasRunning = this.#running().map((b) => ({ name: b.name, port: b.port }));
    await commitTxg(this.env.pool);
    try {
      await stopZfs();
    } finally {
      await startZfs();
      await remountOthers(this.env.base, this.env.pool);
    }
    const outcome = this.#outcome("restart zfs-fuse");
    // what ran is served again after the repair (the engine brings back a dockerd
    // restart's by itself; a stale mount needs the repair)
    outcome.mustRun = wasRunning;
    return outcome;
  }

  /** Evidence for each of `ran` still listed but not running on its port after the repair. */
  #notBack(ran: { name: string; port: number | null }[]): string[] {
    return ran.flatMap(({ name, port }) => {
      const b = this.last.branches.find((b) => b.name === name);
      if (!b || (b.status === "running" && b.port === port)) return [];
      return [
        `'${name}' ran on port ${port} before and is ${b.status}` +
        `${b.port !== null ? ` on port ${b.port}` : ""} after the repair`,
      ];
    });
  }

  /**
   * After a step: health (after one repair when a fault was injected), then every
   * invariant, with the model brought up to date from zvpg's listings.
   */
  async check(outcome: Outcome): Promise<Violation[]> {
    const violations: Violation[] = [];
    const add = (invariant: Invariant, evidence: string[]) => {
      if (evidence.length > 0 && !this.options.skip.has(invariant)) {
        violations.push({ invariant, evidence });
      }
    };
    const health = await this.#health(outcome);
    for (const v of health.interrupted) add(v.invariant, v.evidence);
    add("health", health.evidence);
    if (!health.list) return violations;
    this.last = health.list;
    add("lost", this.#resync(outcome));
    add("restart-survival", this.#notBack(outcome.mustRun ?? []));
    if (this.#kept) {
      const name = this.#kept.name;
      for (const v of this.#keptBy(this.last.branches.find((b) => b.name === name))) {
        add(v.invariant, v.evidence);
      }
    }
    add("rows", await this.#resolveResets());
    for (const b of this.last.branches) {
      if (b.status === "running" && b.port !== null) {
        for (const v of await this.#mark(b.name, b.port)) add(v.invariant, v.evidence);
      }
    }
    const containers = await containersOf(this.env);
    const stopped = this.last.branches.filter((b) => b.status === "stopped");
    // the text form costs one more zvpg run: looked at on a third of the steps
    const textProbe = stopped.length > 0 && this.prng.chance(0.33)
      ? this.prng.pick(stopped).name
      : undefined;
    // independent read-only checks run side by side to keep steps short
    const [servers, ports, stale, orphans, login, tree] = await Promise.all([
      checkServers(this.env, containers),
      checkPorts(this.env, this.model, this.last.branches),
      checkStalePorts(this.env, this.last.branches, textProbe),
      checkOrphans(this.env, this.last, containers),
      checkLogin(this.env, this.last.branches),
      checkTreeMounted(this.env),
    ]);
    add("mounts", tree);
    add("servers", servers);
    add("ports", ports.evidence);
    add("stale-port", stale);
    add("rows", checkRows(this.model, ports.probes));
    add("orphans", orphans);
    add("perms", checkPerms(this.env));
    add("login", login);
    return violations;
  }

  /**
   * For a branch an interrupted reset left as it was or reset (the model holds both),
   * reads its database once it runs and keeps the state it shows; evidence when it shows
   * neither.
   */
  async #resolveResets(): Promise<string[]> {
    const evidence: string[] = [];
    for (const b of this.last.branches) {
      const candidates = this.model.branches.get(b.name)?.candidates;
      if (!candidates || b.status !== "running" || b.port === null) continue;
      const seen = await probe(this.env, b.port);
      if (seen.error || seen.marker === undefined || !seen.rows) continue;
      if (this.model.resolve(b.name, { marker: seen.marker, rows: seen.rows })) continue;
      const show = (s: BranchState) => `marker '${s.marker}' rows [${[...s.rows].sort()}]`;
      evidence.push(
        `'${b.name}' holds ${show({ marker: seen.marker, rows: seen.rows })}: neither as ` +
          `before its interrupted reset nor reset (${candidates.map(show).join(" / ")})`,
      );
    }
    return evidence;
  }

  /**
   * What holds even while an interrupted operation waits for its repair (a reset killed
   * with its branch's server stopped inside the container, its supervisor waiting): at
   * most one server per data directory, every port reported for a running branch served
   * by it with its rows, no port for any other, nothing open to other uids, no login
   * for uid 65534.
   */
  async #checkInterrupted(list: Listing): Promise<Violation[]> {
    const containers = await containersOf(this.env);
    const [servers, ports, stale, login] = await Promise.all([
      checkServers(this.env, containers),
      checkPorts(this.env, this.model, list.branches, { unreachableOk: true }),
      checkStalePorts(this.env, list.branches, undefined),
      checkLogin(this.env, list.branches),
    ]);
    const found: Violation[] = [];
    const add = (invariant: Invariant, evidence: string[]) => {
      if (evidence.length > 0) {
        found.push({ invariant, evidence: evidence.map((e) => `before the repair: ${e}`) });
      }
    };
    add("servers", servers);
    add("ports", ports.evidence);
    add("stale-port", stale);
    add("rows", checkRows(this.model, ports.probes));
    add("perms", checkPerms(this.env, { staleOk: true }));
    add("login", login);
    return found;
  }

  /**
   * `status health` passes, after one `--repair` when the step was a fault; returns the
   * evidence and zvpg's listings (read alongside health, again after a repair), and what
   * {@link #checkInterrupted} found before the repair.
   */
  async #health(
    outcome: Outcome,
  ): Promise<{ evidence: string[]; list?: Listing; interrupted: Violation[] }> {
    const [first, list] = await Promise.all([healthOf(this.env), tryListing(this.env)]);
    // after a fault, drift health only warns of is repaired too (then no orphan may stay)
    if (first.ok && !(outcome.faulty && first.driftWarning)) {
      return { evidence: list.error ? [list.error] : [], list: list.list, interrupted: [] };
    }
    if (!outcome.faulty && !this.#dirty) {
      return {
        evidence: [
          "health fails after a clean step:",
          ...first.detail,
          ...(list.error ? [list.error] : []),
        ],
        list: list.list,
        interrupted: [],
      };
    }
    const interrupted = list.list ? await this.#checkInterrupted(list.list) : [];
    const r = await runZvpg(this.env, ["status", "health", "--repair", "-f", "json"], {
      timeoutMs: 300_000,
    });
    const repairs = parseJson<
      { repairs?: { target: string; action: string; ok: boolean; detail?: string }[] }
    >(r)?.repairs ?? [];
    outcome.line += `; repair → exit ${r.code}: ${
      repairs.map((x) =>
        x.ok ? `${x.target} ${x.action}` : `FAILED ${x.target} ${x.action} (${x.detail ?? "?"})`
      ).join("; ") ||
      firstError(r.stderr)
    }`;
    const [h, again] = await Promise.all([healthOf(this.env), tryListing(this.env)]);
    const evidence = h.ok ? [] : [
      `health fails after one 'status health --repair' (exit ${r.code}${
        r.timedOut ? ", timed out" : ""
      }):`,
      ...h.detail,
      `before the repair: ${[...first.detail, first.driftWarning ?? ""].join(" / ")}`,
    ];
    if (again.error) evidence.push(again.error);
    return { evidence, list: again.list, interrupted };
  }

  /** Brings the model up to date; returns evidence of branches or snapshots lost. */
  #resync(outcome: Outcome): string[] {
    const evidence: string[] = [];
    const { branches, snapshots } = this.last;
    const listedSnaps = new Set(snapshots.map((s) => s.name));
    const listed = new Set(branches.map((b) => b.name));
    for (const name of [...this.model.branches.keys()]) {
      if (listed.has(name)) continue;
      const allowed = outcome.mayVanish.branches.has(name) || this.model.doomed.branches.has(name);
      if (!allowed) evidence.push(`branch '${name}' vanished`);
      this.model.removeBranch(name);
    }
    for (const [name, s] of this.model.snapshots) {
      if (listedSnaps.has(name)) continue;
      const allowed = outcome.mayVanish.snapshots.has(name) ||
        outcome.mayVanish.branches.has(s.branch) || this.model.doomed.snapshots.has(name) ||
        this.model.doomed.branches.has(s.branch);
      if (!allowed) evidence.push(`snapshot '${name}' of '${s.branch}' vanished`);
      this.model.snapshots.delete(name);
    }
    for (const s of snapshots) {
      if (!this.model.snapshots.has(s.name)) this.model.addSnapshot(s.name, s.branch);
    }
    const pending = new Set(this.model.pending.map((p) => p.name));
    for (const b of branches) {
      if (this.model.branches.has(b.name)) continue;
      if (!pending.has(b.name)) evidence.push(`branch '${b.name}' appeared from nowhere`);
      this.#adoptBranch(b);
    }
    this.model.pending = [];
    return evidence;
  }
}

/**
 * `status health -f json`: whether it passes, the failing checks, and the drift it only
 * warns of (a runtime directory a killed delete left: `--repair` removes it).
 */
async function healthOf(
  env: TestEnv,
): Promise<{ ok: boolean; detail: string[]; driftWarning?: string }> {
  const r = await runZvpg(env, ["status", "health", "-f", "json"], { timeoutMs: 120_000 });
  const parsed = parseJson<{ ok: boolean; checks: HealthCheck[] }>(r);
  if (!parsed) {
    return { ok: false, detail: [`no JSON (exit ${r.code}): ${firstError(r.stderr)}`] };
  }
  const ok = r.code === 0 && parsed.ok;
  const drift = parsed.checks.find((c) => c.name === "drift" && c.status === "warn");
  return {
    ok,
    detail: ok ? [] : failing(parsed.checks).split("\n"),
    driftWarning: drift?.detail,
  };
}

/** zvpg's listings, or why they could not be read (a finding in itself). */
async function tryListing(env: TestEnv): Promise<{ list?: Listing; error?: string }> {
  try {
    return { list: await listing(env) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The first `error:` line of stderr, else its last line. */
function firstError(stderr: string): string {
  const lines = stderr.trim().split("\n").filter((l) => l.trim() !== "");
  return (lines.find((l) => l.startsWith("error:")) ?? lines.at(-1) ?? "").slice(0, 300);
}

/** The lifecycle state zvpg recorded on a branch's dataset (`zvpg:state`). */
async function recordedState(dataset: string): Promise<string> {
  const r = await sh("zfs", ["get", "-H", "-o", "value", PROPS.state, dataset]);
  return r.code === 0 ? r.stdout.trim() : `unreadable (${r.stderr.trim()})`;
}

async function runDocker(args: string[]): Promise<number> {
  const out = await new Deno.Command("docker", { args, stdout: "null", stderr: "null" }).output();
  return out.code;
}

/** Makes sure dockerd and zfs-fuse answer again (after a run that restarted them). */
export async function restoreServices(): Promise<void> {
  if (!(await zfsAnswers())) await startZfs();
  if (!(await dockerAnswers())) await startDockerd();
}
