/**
 * The steps of a branch reset that swap datasets, shared by `branch reset` (its normal
 * path and its clean-up) and `status health --repair` (a reset whose process died).
 *
 * A reset of branch B (dataset D) clones the target snapshot as `D.reset-new` (T, marked
 * `zvpg:reset-of`), then swaps: D unmounted and renamed `D.reset-old` (O), T renamed D and
 * mounted where D was. Once the new data runs (or is ready, for a stopped branch), O is
 * destroyed and the mark `zvpg:reset-of` removed.
 *
 * Invariants: while O exists (or D is still the old data) the reset is undone by
 * {@link undoReset}: the branch comes back exactly as it was; once O is destroyed it is
 * finished by {@link finishReset}. Each step looks at what exists, so either can be run
 * again after a crash at any point. The caller holds the lock.
 *
 * @module
 */
import { log } from "../runtime/log.ts";
import { faultPoint } from "../runtime/fault.ts";
import type { Context } from "../context.ts";
import { PROPS } from "../domain/layout.ts";
import { markRunning, markStopped } from "../domain/lifecycle.ts";
import { branchContainers, stopBranchContainer, waitBranchReady } from "./branch_container.ts";
import { record } from "./store/record.ts";
import { startOnPort, type StartOnPortOptions } from "./start_on_port.ts";
import { servesNothing } from "./server_control.ts";
import { ensureTreeMounted } from "./mounts.ts";

/** What exists of a reset: the branch's dataset (old or new data) and the two beside it. */
interface ResetDatasets {
  /** The branch's dataset, and whether it holds the reset's new data. */
  branch: {
    exists: boolean;
    isNew: boolean;
    mountpoint: string;
    /** The recorded state to return to (none when the reset's mark was not written). */
    resume: string | undefined;
    port: number | null;
  };
  oldExists: boolean;
  newExists: boolean;
}

async function readResetDatasets(ctx: Context, name: string): Promise<ResetDatasets> {
  const { layout } = ctx;
  const d = layout.branchDataset(name);
  const entries = await ctx.zfs.get(
    [d, layout.resetDataset(name, "old"), layout.resetDataset(name, "new")],
    ["mountpoint", PROPS.resetOf, PROPS.resume, PROPS.port],
  );
  const entry = (n: string) => entries.find((e) => e.name === n);
  const own = entry(d);
  const port = Number(own?.props[PROPS.port]);
  return {
    branch: {
      exists: own !== undefined,
      isNew: own?.props[PROPS.resetOf] !== undefined,
      mountpoint: own?.props.mountpoint ?? "",
      resume: own?.props[PROPS.resume],
      port: Number.isInteger(port) && port > 0 ? port : null,
    },
    oldExists: entry(layout.resetDataset(name, "old")) !== undefined,
    newExists: entry(layout.resetDataset(name, "new")) !== undefined,
  };
}

/**
 * Kills and removes every container of the branch, without a shutdown: the data it serves
 * is being thrown away. Should the reset be undone, that data starts with crash recovery,
 * as every branch cloned from a snapshot of a running server does; nothing committed is
 * lost.
 */
export async function killBranch(ctx: Context, name: string): Promise<void> {
  for (const c of await branchContainers(ctx, name)) await ctx.runtime.remove(c.name);
}

/**
 * The swap: the branch's old dataset out (unmounted, renamed `.reset-old`), the new clone
 * in (renamed to the branch's dataset, mounted where the old one was). Its container must
 * be stopped.
 */
export async function swapIn(ctx: Context, name: string): Promise<void> {
  const { layout } = ctx;
  const d = layout.branchDataset(name);
  // the new data mounts below the clones dataset: never into the directory under it
  await ensureTreeMounted(ctx);
  await ctx.zfs.set(d, { mountpoint: "none" });
  await ctx.zfs.rename(d, layout.resetDataset(name, "old"));
  faultPoint("branch.reset.mid-swap");
  await ctx.zfs.rename(layout.resetDataset(name, "new"), d);
  await ctx.zfs.set(d, { mountpoint: layout.branchMount(name) });
}

/**
 * Puts the branch back as it was before the reset: its old data under its name and
 * mountpoint, the new clone destroyed, running again on its port if it ran (else
 * stopped). Safe to run again after a crash at any point. `before` is how it ran, for
 * when the reset's mark (which records it) was not written.
 */
export async function undoReset(
  ctx: Context,
  name: string,
  before?: { resume: string; port: number | null },
): Promise<void> {
  const { layout } = ctx;
  const d = layout.branchDataset(name);
  let state = await readResetDatasets(ctx, name);
  // the old data still in place keeps its server; anything else runs on the new data
  if (!state.branch.exists || state.branch.isNew) await killBranch(ctx, name);
  if (state.branch.exists && state.branch.isNew) {
    if (!state.oldExists) throw new Error(`reset of '${name}': the old data is gone, cannot undo`);
    await ctx.zfs.set(d, { mountpoint: "none" });
    await ctx.zfs.rename(d, layout.resetDataset(name, "new"));
  }
  state = await readResetDatasets(ctx, name);
  if (!state.branch.exists && state.oldExists) {
    await ctx.zfs.rename(layout.resetDataset(name, "old"), d);
  }
  state = await readResetDatasets(ctx, name);
  if (state.branch.mountpoint !== layout.branchMount(name)) {
    await ctx.zfs.set(d, { mountpoint: layout.branchMount(name) });
  }
  if (state.newExists) await ctx.zfs.destroy(layout.resetDataset(name, "new"), { recursive: true });
  await resume(
    ctx,
    name,
    state.branch.resume ?? before?.resume ?? "stopped",
    state.branch.port ?? before?.port ?? null,
  );
  log.info(`reset of branch '${name}' undone: it is as it was`);
}

/**
 * Finishes a reset whose new data is in place: destroys the old data, removes the reset
 * mark and returns the branch to the state it had (running again on its port if it ran).
 */
export async function finishReset(ctx: Context, name: string): Promise<void> {
  const { layout } = ctx;
  const d = layout.branchDataset(name);
  const state = await readResetDatasets(ctx, name);
  if (state.oldExists) await ctx.zfs.destroy(layout.resetDataset(name, "old"), { recursive: true });
  if (state.branch.mountpoint !== layout.branchMount(name)) {
    await ctx.zfs.set(d, { mountpoint: layout.branchMount(name) });
  }
  await ctx.zfs.inherit(d, PROPS.resetOf);
  await resume(ctx, name, state.branch.resume ?? "stopped", state.branch.port);
}

/**
 * Returns the branch to `how`: running (its server kept if it runs, else started on
 * `port`) and recorded running, or recorded stopped.
 */
async function resume(ctx: Context, name: string, how: string, port: number | null) {
  const d = ctx.layout.branchDataset(name);
  const live = (await branchContainers(ctx, name)).filter((c) => c.state === "running");
  // a container whose supervisor was left paused (its reset died) serves nothing
  const serving = live.length > 0 && !servesNothing(ctx, name);
  if (how === "running" && serving) return await record(ctx, d, markRunning());
  for (const c of live) await stopBranchContainer(ctx, c.name);
  await record(ctx, d, markStopped());
  if (how !== "running" || port === null) return;
  await startRequested(ctx, name, port);
  await record(ctx, d, markRunning());
}

/**
 * Starts the branch's container on exactly `port` (a reset keeps the port: the URI must
 * not change) and waits until PostgreSQL accepts connections; `recorded` is what the
 * dataset already records of port and engine. Returns the container.
 */
export async function startRequested(
  ctx: Context,
  name: string,
  port: number,
  recorded?: StartOnPortOptions["recorded"],
): Promise<string> {
  const { container } = await startOnPort(ctx, { branches: [] }, name, port, {
    requested: true,
    recorded,
  });
  try {
    await waitBranchReady(ctx, name, container, port);
  } catch (error) {
    await ctx.runtime.remove(container).catch(() => {});
    throw error;
  }
  return container;
}
