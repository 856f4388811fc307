/**
 * The context every service works in: configuration, adapters and layout. Only the type
 * lives here; the composition root that builds it is `createContext` (src/cli/session.ts).
 *
 * @module
 */
import type { Config } from "./config/config.ts";
import type { ContainerRuntime } from "./adapters/container_runtime.ts";
import type { PostgresProbe } from "./adapters/postgres.ts";
import type { Zfs } from "./adapters/zfs.ts";
import type { MountTable } from "./adapters/mount_table.ts";
import type { CommandRunner } from "./runtime/runner.ts";
import type { Layout } from "./domain/layout.ts";

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
