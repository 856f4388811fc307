/**
 * The context every service works in: configuration, adapters and layout.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { type ContainerRuntime, createRuntime } from "../adapters/container_runtime.ts";
import { PostgresProbe } from "../adapters/postgres.ts";
import { hostZfsFlavor, Zfs } from "../adapters/zfs.ts";
import { hostMountTable, type MountTable } from "../adapters/mount_table.ts";
import { type CommandRunner, DenoCommandRunner } from "./runner.ts";
import { Layout } from "../domain/layout.ts";

/** Configuration plus the adapters built on one command runner. */
export interface Context {
  config: Config;
  runner: CommandRunner;
  zfs: Zfs;
  runtime: ContainerRuntime;
  pg: PostgresProbe;
  layout: Layout;
  /** The mount table and `stat` (the host's; replaceable in tests). */
  mounts: MountTable;
  /** Current time (replaceable in tests). */
  now: () => Date;
}

/** Builds a context; tests pass a fake runner. */
export function createContext(
  config: Config,
  runner: CommandRunner = new DenoCommandRunner(),
): Context {
  return {
    config,
    runner,
    // a fake runner answers as the fixtures' zfs-fuse does, whatever this host runs
    zfs: new Zfs(runner, runner instanceof DenoCommandRunner ? hostZfsFlavor() : "zfs-fuse"),
    runtime: createRuntime(runner, config.containerRuntime, config.runtimeFlavor),
    pg: new PostgresProbe(),
    layout: new Layout(config),
    mounts: hostMountTable,
    now: () => new Date(),
  };
}
