/**
 * The floor under issue 17's 200 ms: the physical work of a create and of a reset, done
 * directly by this process through zvpg's own adapters (no CLI, no inventory, no records,
 * no locks), and the two start-up costs every CLI call pays, measured in the same run as
 * the CLI figures they are compared with.
 *
 * - Reset floor (per size): on a running branch of the size's base snapshot, the
 *   supervisor stops the server (`pauseServer`), `zfs rollback` to the birth snapshot,
 *   the supervisor starts it again (`resumeServer`), and the server is polled every 2 ms
 *   with zvpg's own probe until it accepts connections.
 * - Clone floor (per size): `zfs clone` of the base snapshot plus the birth snapshot, as
 *   a create makes them. A create's floor is that plus the server's start on data just
 *   put there (the reset floor's start, the same data), with no container engine at all.
 * - Start-up (once): `deno run` of an empty script, beside `zvpg --version` (module
 *   loading: commander, zod and Deno's Node compatibility layer they pull in).
 * - Engine (once): `docker run -d` of a container that only sleeps, publishing a port as
 *   zvpg does, beside the same with `--network host` (no network namespace).
 *
 * @module
 */
import { join } from "node:path";
import { pauseServer, resumeServer } from "../../src/ops/server_control.ts";
import type { BenchPool } from "../bench_pool.ts";
import { BENCH_LABEL, IMAGE } from "../bench_pool.ts";
import type { BranchJson } from "./branch_json.ts";
import { sizeProgress, type SizeRun } from "../size_run.ts";
import { progress, timed } from "../timed.ts";
import { formatMs } from "../units.ts";
import { median as med } from "../summarize.ts";

/** One round of the reset floor and of the clone floor at one size. */
export interface FloorRound {
  run: number;
  /** SIGUSR1 to the server gone from the data directory. */
  stopMs: number;
  rollbackMs: number;
  /** SIGUSR2 to the first accepted connection (2 ms polling). */
  startReadyMs: number;
  /** `zfs clone` + the birth snapshot. */
  cloneMs: number;
}

/** The start-up and engine costs, once per run. */
export interface FloorOnce {
  denoEmptyMs: number[];
  zvpgVersionMs: number[];
  runPublishMs: number[];
  runHostMs: number[];
}

/** How often the floor polls the server (zvpg itself polls every 25 ms). */
const POLL_MS = 2;

/** `runs` rounds of the reset and clone floors at this size. */
export async function benchFloor(run: SizeRun): Promise<void> {
  const { pool } = run;
  const { ctx } = pool;
  const name = `fl-${run.label}`;
  const created = await pool.zvpgJson<BranchJson>(["branch", "create", name, "--from", run.base]);
  const port = created.value.port!;
  const dataset = ctx.layout.branchDataset(name);
  const base = `${ctx.layout.branchDataset(ctx.config.branchDefault)}@${run.base}`;
  run.result.floor = [];
  try {
    for (let i = 1; i <= run.opts.runs; i++) {
      const stop = await timed(() => pauseServer(ctx, name));
      if (!stop.value) throw new Error(`no supervisor serves ${name}`);
      const rollback = await timed(() => ctx.zfs.rollback(ctx.layout.birthSnapshot(dataset)));
      const start = await timed(async () => {
        resumeServer(ctx, name, stop.value!);
        await untilReady(pool, port);
      });
      const copy = `${ctx.layout.clonesDataset}/floor-${run.label}-${i}`;
      const clone = await timed(async () => {
        await ctx.zfs.clone(base, copy, { mountpoint: "none" });
        await ctx.zfs.snapshot(ctx.layout.birthSnapshot(copy));
      });
      await ctx.zfs.destroy(copy, { recursive: true });
      const round = {
        run: i,
        stopMs: stop.ms,
        rollbackMs: rollback.ms,
        startReadyMs: start.ms,
        cloneMs: clone.ms,
      };
      run.result.floor.push(round);
      sizeProgress(
        run,
        `floor #${i}: stop ${formatMs(stop.ms)}, rollback ${formatMs(rollback.ms)}, ` +
          `start→ready ${formatMs(start.ms)}, clone+birth ${formatMs(clone.ms)}`,
      );
    }
  } finally {
    await pool.zvpg(["branch", "delete", name, "--force"]);
  }
}

/** zvpg's own readiness wait, polling every {@link POLL_MS} (30 s at most). */
async function untilReady(pool: BenchPool, port: number): Promise<void> {
  const { ctx } = pool;
  const { layout, config } = ctx;
  const outcome = await ctx.pg.waitReady(
    layout.connectHost,
    port,
    config.postgresUser,
    config.postgresDb,
    { timeoutMs: 30_000, intervalMs: POLL_MS },
  );
  if (outcome !== "ready") throw new Error(`the server on port ${port} did not come back`);
}

/** Start-up and engine costs, `runs` of each, interleaved so both see the same load. */
export async function benchFloorOnce(pool: BenchPool, runs: number): Promise<FloorOnce> {
  const empty = join(pool.root, "empty.ts");
  Deno.writeTextFileSync(empty, "// nothing: the cost of starting Deno itself\n");
  const once: FloorOnce = { denoEmptyMs: [], zvpgVersionMs: [], runPublishMs: [], runHostMs: [] };
  const docker = pool.ctx.runtime.program;
  for (let i = 1; i <= runs; i++) {
    once.denoEmptyMs.push((await timed(() => pool.runner.run("deno", ["run", "-A", empty]))).ms);
    once.zvpgVersionMs.push((await pool.zvpg(["--version"])).ms);
    for (const [key, network] of [["runPublishMs", "publish"], ["runHostMs", "host"]] as const) {
      const name = `zvpgbench_floor_${pool.options.id}_${network}_${i}`;
      const args = [
        ...["run", "-d", "--pull=never", "--name", name, "--label", `${BENCH_LABEL}=${pool.pool}`],
        ...(network === "host"
          ? ["--network", "host"]
          : ["-p", `${pool.ctx.config.bindAddress}:${pool.options.portEnd}:5432`]),
        ...["--entrypoint", "sleep", IMAGE, "600"],
      ];
      once[key].push((await timed(() => pool.runner.run(docker, args))).ms);
      await pool.runner.run(docker, ["rm", "-f", name]);
    }
  }
  progress(
    `floor: deno empty ${formatMs(med(once.denoEmptyMs))}, zvpg --version ${
      formatMs(med(once.zvpgVersionMs))
    }, ${docker} run publish ${formatMs(med(once.runPublishMs))}, host ${
      formatMs(med(once.runHostMs))
    }`,
  );
  return once;
}
