/**
 * Copying a stopped (snapshot-consistent) PGDATA with `cp -a`, then a server on the copy
 * until it accepts connections. The server runs zvpg's own container specification
 * (`branchContainerSpec`: image, user, PostgreSQL arguments) with the copy mounted as its
 * data directory, on a port outside zvpg's range.
 *
 * @module
 */
import { join } from "node:path";
import type { ContainerSpec } from "../../src/adapters/container_runtime.ts";
import {
  CONTAINER_CONF_DIR,
  CONTAINER_PGDATA,
  CONTAINER_SOCKET_DIR,
} from "../../src/domain/layout.ts";
import { branchContainerSpec, dataOwner } from "../../src/ops/branch_container.ts";
import { ensurePrivateDir } from "../../src/runtime/private_fs.ts";
import { BENCH_LABEL, type BenchPool } from "../bench_pool.ts";
import { sizeProgress, type SizeRun } from "../size_run.ts";
import { timed } from "../timed.ts";
import { formatMs } from "../units.ts";

/** The port of the servers on copies (outside zvpg's range). */
export const COPY_PORT = 7690;

/** Where the copies go: a dataset of the benchmark's own beside zvpg's. */
export function copyDataset(pool: BenchPool): { dataset: string; mount: string } {
  return { dataset: `${pool.pool}/benchcopy`, mount: join(pool.mountDir, "benchcopy") };
}

/** A stopped branch of the base, then `altRuns` copies of its PGDATA, each served once. */
export async function benchPgdataCopy(run: SizeRun): Promise<void> {
  const { pool, result } = run;
  const { ctx } = pool;
  const src = `cpsrc-${run.label}`;
  await pool.zvpg(["branch", "create", src, "--from", run.base]);
  result.branchStopMs = (await pool.zvpg(["branch", "stop", src])).ms;
  const pgdata = ctx.layout.pgdata(src);
  const du = await ctx.runner.run("du", ["-s", "-B1", pgdata]);
  result.pgdataBytes = Number(du.stdout.split("\t")[0]);
  for (let i = 1; i <= run.altRuns; i++) {
    const sample = await copyAndServe(run, src, i);
    result.copy.push({ run: i, ...sample });
    sizeProgress(
      run,
      `cp -a + start #${i}: ${formatMs(sample.ms)} (cp ${formatMs(sample.cpMs)}, run ${
        formatMs(sample.containerMs)
      }, ready ${formatMs(sample.readyMs)})`,
    );
  }
  await pool.zvpg(["branch", "delete", src, "--force"]);
}

/** One copy of `src`'s PGDATA and a server on it; both removed after. */
async function copyAndServe(run: SizeRun, src: string, i: number) {
  const { pool } = run;
  const { ctx } = pool;
  const dest = join(copyDataset(pool).mount, `copy-${run.label}-${i}`);
  const cp = await timed(() =>
    ctx.runner.run("cp", ["-a", ctx.layout.pgdata(src), dest], { timeoutMs: 3_600_000 })
  );
  const spec = copyServerSpec(
    run,
    src,
    dest,
    `zvpgbench_copy_${pool.options.id}_${run.label}_${i}`,
  );
  try {
    const started = await timed(() => ctx.runtime.runDetached(spec));
    const ready = await timed(() =>
      ctx.pg.waitReady(ctx.layout.connectHost, COPY_PORT, ctx.config.postgresUser, "postgres", {
        timeoutMs: 120_000,
      })
    );
    if (ready.value !== "ready") {
      const logs = await ctx.runtime.logs(spec.name!, 5);
      throw new Error(`server on the copy did not get ready (${ready.value}): ${logs}`);
    }
    return {
      ms: cp.ms + started.ms + ready.ms,
      cpMs: cp.ms,
      containerMs: started.ms,
      readyMs: ready.ms,
    };
  } finally {
    await ctx.runtime.remove(spec.name!);
    await Deno.remove(dest, { recursive: true });
  }
}

/**
 * zvpg's container of `src` on {@link COPY_PORT}, with the copy as its data directory,
 * main's config files, a socket directory of its own, bench's label and no restart policy.
 */
function copyServerSpec(run: SizeRun, src: string, dest: string, name: string): ContainerSpec {
  const { pool } = run;
  const { ctx } = pool;
  const owner = dataOwner(ctx, src);
  const sockets = join(pool.root, "copysock");
  ensurePrivateDir(sockets, { owner });
  const conf = join(ctx.layout.runtimeDir(ctx.config.branchDefault), "conf");
  return {
    ...branchContainerSpec(ctx, src, COPY_PORT, owner),
    name,
    labels: { [BENCH_LABEL]: pool.pool },
    mounts: [
      { source: dest, target: CONTAINER_PGDATA },
      { source: sockets, target: CONTAINER_SOCKET_DIR },
      { source: conf, target: CONTAINER_CONF_DIR, readonly: true },
    ],
    restart: undefined,
  };
}
