/**
 * What every command shares: loading the configuration and building the context.
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { loadConfig } from "../config/config.ts";
import { log } from "../log.ts";
import { type Context, createContext } from "../services/context.ts";

/** Loads the configuration named by the global `-c/--config` and builds the context. */
export function contextFor(command: CommandUnknownOpts): Context {
  const globals = command.optsWithGlobals() as { config?: string };
  const config = loadConfig({ configPath: globals.config });
  log.setLevel(config.logLevel);
  log.setLogDir(config.logDir);
  return createContext(config);
}
