/**
 * The checks `init check` and `status health` share, one function each, so their wording
 * and hints cannot drift apart: ZFS, pool, datasets, engine, image, config files, and the
 * default branch.
 *
 * @module
 */
import { existsSync, statSync } from "node:fs";
import type { PoolStatus } from "../adapters/zfs.ts";
import type { Check } from "../domain/check.ts";
import type { Context } from "../context.ts";
import type { Inventory } from "../domain/inventory.ts";

/** A check; the hint is kept only when it did not pass. */
export function check(
  name: string,
  status: Check["status"],
  detail: string,
  hint?: string,
): Check {
  return { name, status, detail, ...(status === "pass" || !hint ? {} : { hint }) };
}

/** The environment checks and what later checks may rely on. */
export interface EnvironmentChecks {
  checks: Check[];
  pool: PoolStatus | undefined;
  /** The data, clones and sockets datasets exist. */
  datasetsOk: boolean;
  /** The container engine answers. */
  runtimeOk: boolean;
}

/** zfs, pool, datasets, runtime, image, config — in that order. */
export async function environmentChecks(ctx: Context): Promise<EnvironmentChecks> {
  const zfs = await zfsCheck(ctx);
  const pool = zfs.status === "pass" ? await ctx.zfs.poolStatus(ctx.layout.pool) : undefined;
  const datasets = await datasetsCheck(ctx, pool);
  const runtime = await runtimeCheck(ctx);
  const runtimeOk = runtime.status === "pass";
  return {
    checks: [
      zfs,
      poolCheck(ctx, pool),
      datasets,
      runtime,
      await imageCheck(ctx, runtimeOk),
      configCheck(ctx),
    ],
    pool,
    datasetsOk: datasets.status === "pass",
    runtimeOk,
  };
}

/** The ZFS service answers. */
export async function zfsCheck(ctx: Context): Promise<Check> {
  const zfs = await ctx.zfs.available().catch((e) => ({ ok: false, detail: (e as Error).message }));
  return check(
    "zfs",
    zfs.ok ? "pass" : "fail",
    zfs.ok ? "zfs answers" : `zfs is not available: ${zfs.detail}`,
    "install ZFS and start it (the zfs module, or the zfs-fuse daemon)",
  );
}

/** The pool is imported and ONLINE. */
export function poolCheck(ctx: Context, pool: PoolStatus | undefined): Check {
  const name = ctx.layout.pool;
  return check(
    "pool",
    pool?.health === "ONLINE" ? "pass" : "fail",
    pool ? `pool ${name} is ${pool.health}` : `pool ${name} is not imported`,
    `run 'zvpg init env' (it creates or imports the pool), or 'zpool status ${name}'`,
  );
}

/** zvpg's three datasets exist. */
export async function datasetsCheck(ctx: Context, pool: PoolStatus | undefined): Promise<Check> {
  if (!pool) return check("datasets", "fail", "pool unavailable", "fix the pool first");
  const { layout } = ctx;
  const missing: string[] = [];
  for (const d of [layout.dataDataset, layout.clonesDataset, layout.socketsDataset]) {
    if (!(await ctx.zfs.exists(d))) missing.push(d);
  }
  return check(
    "datasets",
    missing.length === 0 ? "pass" : "fail",
    missing.length === 0
      ? "data, clones and sockets datasets exist"
      : `missing datasets: ${missing.join(", ")}`,
    "run 'zvpg init env'",
  );
}

/** The container engine answers. */
export async function runtimeCheck(ctx: Context): Promise<Check> {
  const name = ctx.config.containerRuntime;
  try {
    return check("runtime", "pass", `${name} ${await ctx.runtime.version()} reachable`);
  } catch (error) {
    return check(
      "runtime",
      "fail",
      `${name} is not reachable: ${(error as Error).message}`,
      "start the container engine (e.g. dockerd), or set containerRuntime",
    );
  }
}

/** The configured image is present (never pulled implicitly). */
export async function imageCheck(ctx: Context, runtimeOk: boolean): Promise<Check> {
  const image = ctx.config.pgBaseImage;
  if (!runtimeOk) {
    return check("image", "fail", "runtime unavailable", "fix the runtime first");
  }
  const present = await ctx.runtime.imageExists(image);
  return check(
    "image",
    present ? "pass" : "fail",
    `image ${image}${present ? " present" : " missing"}`,
    `pull or build ${image} (scripts/build_image.sh builds one offline), or set pgBaseImage`,
  );
}

/** The PostgreSQL config files and the password file exist; secrets are not open to others. */
export function configCheck(ctx: Context): Check {
  const { config, layout } = ctx;
  const files = [config.pgConfPath, config.pgHbaPath, config.pgIdentPath, layout.passFile];
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    return check(
      "config",
      "fail",
      `missing: ${missing.join(", ")}`,
      "run 'zvpg init env' to write the defaults",
    );
  }
  const open = [layout.passFile, ...(config.configFileExists ? [config.configFile] : [])]
    .filter((f) => (statSync(f).mode & 0o077) !== 0);
  if (open.length > 0) {
    return check(
      "config",
      "warn",
      `readable by others: ${open.join(", ")}`,
      `chmod 600 ${open.join(" ")}`,
    );
  }
  return check("config", "pass", `config valid (${config.configFile})`);
}

/** The default branch runs and accepts connections. */
export async function defaultBranchCheck(ctx: Context, inventory: Inventory): Promise<Check> {
  const { config, layout } = ctx;
  const name = config.branchDefault;
  const main = inventory.branches.find((b) => b.isDefault);
  const port = main?.port ?? null;
  const ready = port !== null &&
    await ctx.pg.isReady(layout.connectHost, port, config.postgresUser, config.postgresDb);
  return check(
    "default-branch",
    ready ? "pass" : "fail",
    ready
      ? `'${name}' accepts connections on port ${port}`
      : port !== null
      ? `'${name}' runs but does not accept connections`
      : `'${name}' is not running`,
    `run 'zvpg branch start ${name}' or 'zvpg init env'`,
  );
}
