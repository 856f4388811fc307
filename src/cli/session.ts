/**
 * What one run of the command tree shares: the context (built once, by the program's
 * `preAction` hook) and the exit code the action returned; and the composition root,
 * {@link createContext}, which builds the adapters on one command runner.
 *
 * @module
 */
import { loadConfig } from "../config/config.ts";
import { log } from "../runtime/log.ts";
import type { Context } from "../context.ts";
import { createRuntime } from "../adapters/container_runtime.ts";
import { PostgresProbe } from "../adapters/postgres.ts";
import { hostZfsFlavor, Zfs } from "../adapters/zfs.ts";
import { hostMountTable } from "../adapters/mount_table.ts";
import { type CommandRunner, DenoCommandRunner } from "../runtime/runner.ts";
import { Layout } from "../domain/layout.ts";
import type { Config } from "../config/config.ts";

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

/** Builds the context from the global `-c/--config` (tests give one on a fake runner). */
export type ContextFactory = (configPath: string | undefined) => Context;

/** Loads the configuration, points the logger at it and builds the context. */
export const defaultContext: ContextFactory = (configPath) => {
  const config = loadConfig({ configPath });
  log.setLevel(config.logLevel);
  log.setLogDir(config.logDir);
  return createContext(config);
};

/** The state of one run: the context, once built, and the exit code. */
export class Session {
  #context: Context | undefined;
  /** The exit code of the action that ran (0 until one returns another). */
  exitCode = 0;

  constructor(private readonly factory: ContextFactory = defaultContext) {}

  /** Builds the context (called once, before the action). */
  open(configPath: string | undefined): void {
    this.#context = this.factory(configPath);
  }

  /** The context of this run. */
  get ctx(): Context {
    if (!this.#context) throw new Error("the context is built before any action runs");
    return this.#context;
  }

  /** Wraps an action that returns its exit code (from {@link render}). */
  action<A extends unknown[]>(
    fn: (ctx: Context, ...args: A) => Promise<number>,
  ): (...args: A) => Promise<void> {
    return async (...args: A) => {
      this.exitCode = await fn(this.ctx, ...args);
    };
  }
}
