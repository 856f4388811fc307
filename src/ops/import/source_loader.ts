/**
 * The one interface every kind of source is loaded through (load_logical.ts,
 * load_physical.ts, load_dump.ts, load_datadir.ts), and what each is given.
 *
 * @module
 */
import type { Context } from "../../context.ts";
import type { ImportSecrets, LoaderServer, PgClient } from "../pg_client.ts";
import type { ImportPlan } from "./plan.ts";
import type { ImportProgress } from "./progress.ts";

/** What the steps of one import share. */
export interface ImportRun {
  ctx: Context;
  plan: ImportPlan;
  /** Runs the image's client programs in containers, as its postgres uid. */
  client: PgClient;
  /** The private directory only the client's uid reads: the pgpass copy and SQL scripts. */
  secrets: ImportSecrets;
  progress: ImportProgress;
}

/**
 * How one kind of source is loaded into an empty data directory. The session calls `begin`
 * before the directory is made, then `make`, then `load` with a loader server running on
 * the directory. After a failure it calls `cancel` (which ends what `begin` started), then
 * discards the loader server.
 */
export interface SourceLoader {
  /** The loader server runs on an empty cluster `make` initialised, not on a copy. */
  readonly fresh: boolean;
  /** Starts reading the source while the data directory is made. */
  begin?(): void;
  /** Fills the empty `pgdata`: a copy of the source's cluster, or `initdb` run. */
  make(pgdata: string, initdb: () => Promise<void>): Promise<void>;
  /** Loads the source's data and roles through the running `loader`. */
  load(loader: LoaderServer, socketDir: string): Promise<void>;
  /** Cancels what `begin` started and waits for it to end. */
  cancel?(): Promise<void>;
}
