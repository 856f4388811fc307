/**
 * Loading and resolving the configuration: the file, then environment overrides, then
 * defaults, with every path made absolute.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { z } from "zod";
import { ConfigError } from "../errors.ts";
import type { LogLevel } from "../runtime/log.ts";
import { configSchema, runtimeFlavor, type RUNTIMES } from "./schema.ts";

/** The resolved configuration every service works from. All paths are absolute. */
export interface Config {
  zfsPool: string;
  zfsPoolDevice: string | null;
  zfsPoolSize: string;
  mountDir: string;
  dataSubdir: string;
  clonesSubdir: string;
  socketSubdir: string;
  postgresUser: string;
  postgresDb: string;
  containerRuntime: string;
  runtimeFlavor: typeof RUNTIMES[number];
  pgBaseImage: string;
  pgConfigDir: string;
  pgHbaPath: string;
  pgIdentPath: string;
  pgConfPath: string;
  branchPortStart: number;
  branchPortEnd: number;
  bindAddress: string;
  branchDefault: string;
  branchNamingPattern: string;
  readyTimeoutSeconds: number;
  stopTimeoutSeconds: number;
  logLevel: LogLevel;
  logDir: string;
  /** Whether the default branch archives its WAL (point-in-time branches); default true. */
  walArchive?: boolean;
  /** `archive_timeout` of archiving branches, in seconds (default 60). */
  archiveTimeoutSeconds?: number;
  /** How long archived WAL is kept (`gc`), a duration such as `7d`. */
  walRetention?: string;
  /** Arguments every ssh to a remote gets before the host (a key, a known_hosts file). */
  sshOptions: string[];
  /** The config file this was read from (it may not exist yet). */
  configFile: string;
  /** The directory of zvpg's own files (config, password). */
  configDir: string;
  /** Whether {@link configFile} existed. */
  configFileExists: boolean;
  /**
   * Whether {@link configDir} is zvpg's own directory (`$ZVPG_CONFIG_DIR` or `~/.zvpg`),
   * which zvpg keeps at mode 0700; not so for the directory of a file given with `-c`.
   */
  configDirIsOwn: boolean;
}

/** Where to read the configuration from. */
export interface LoadOptions {
  /** `-c/--config`: an explicit file, which must exist. */
  configPath?: string;
  /** The environment (defaults to `Deno.env`). */
  env?: Record<string, string | undefined>;
}

/** Reads, validates and resolves the configuration. Throws {@link ConfigError}. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? Deno.env.toObject();
  const home = env.HOME ?? "/root";
  const configDir = resolve(expandHome(env.ZVPG_CONFIG_DIR || "~/.zvpg", home));
  let configFile = join(configDir, "config.json");
  if (options.configPath !== undefined) {
    configFile = resolve(expandHome(options.configPath, home));
    if (!existsSync(configFile)) {
      throw new ConfigError(`config file ${configFile} does not exist`, {
        hint: "check the -c/--config path, or omit it to use ~/.zvpg/config.json",
      });
    }
  }
  const configFileExists = existsSync(configFile);
  const raw = configFileExists ? readJsonObject(configFile) : {};
  for (const [key, variable] of Object.entries(ENV_OVERRIDES)) {
    if (env[variable]) raw[key] = env[variable];
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = envSource(issue, env);
    throw new ConfigError(describeIssue(configFile, raw, issue, env), {
      hint: variable
        ? `unset the environment variable ${variable} or give it a valid value (it overrides ${
          String(issue!.path[0])
        })`
        : `fix ${configFile} (see 'Configuration' in the README)`,
    });
  }
  const c = parsed.data;
  const base = dirname(configFile);
  const abs = (p: string) => {
    const expanded = expandHome(p, home);
    return isAbsolute(expanded) ? expanded : resolve(base, expanded);
  };
  const ownDir = options.configPath !== undefined ? dirname(configFile) : configDir;
  const pgConfigDir = abs(c.pgConfigDir ?? ownDir);
  return {
    ...c,
    zfsPoolDevice: c.zfsPoolDevice === null ? null : abs(c.zfsPoolDevice),
    mountDir: abs(c.mountDir),
    logDir: abs(c.logDir),
    runtimeFlavor: runtimeFlavor(c.containerRuntime)!,
    pgConfigDir,
    pgConfPath: abs(c.pgConfPath ?? join(pgConfigDir, "postgresql.conf")),
    pgHbaPath: abs(c.pgHbaPath ?? join(pgConfigDir, "pg_hba.conf")),
    pgIdentPath: abs(c.pgIdentPath ?? join(pgConfigDir, "pg_ident.conf")),
    configFile,
    configDir: ownDir,
    configFileExists,
    configDirIsOwn: options.configPath === undefined,
  };
}

/** Expands a leading `~` to the home directory. */
export function expandHome(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return join(home, path.slice(2));
  return path;
}

function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseJsonLenient(text);
  } catch (error) {
    const reason = (error as Error).message.replace(/\s+/g, " ");
    throw new ConfigError(`config file ${file} is not valid JSON: ${reason}`, {
      hint: "fix the syntax (a JSON object of settings, see the README)",
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${file} must hold a JSON object of settings`);
  }
  return value as Record<string, unknown>;
}

/**
 * Parses JSON, also accepting trailing commas before `}` or `]` (as in one of the spec's
 * own examples). Anything else that is not JSON is still an error.
 */
export function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (strictError) {
    const relaxed = stripTrailingCommas(text);
    if (relaxed === text) throw strictError;
    try {
      return JSON.parse(relaxed);
    } catch {
      throw strictError;
    }
  }
}

function stripTrailingCommas(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    if (ch === ",") {
      const rest = text.slice(i + 1).trimStart();
      if (rest.startsWith("}") || rest.startsWith("]")) continue;
    }
    out += ch;
  }
  return out;
}

function describeIssue(
  file: string,
  raw: Record<string, unknown>,
  issue: z.core.$ZodIssue | undefined,
  env: Record<string, string | undefined>,
): string {
  if (!issue) return `invalid config in ${file}`;
  if (issue.code === "unrecognized_keys") {
    return `config ${file}: unknown key ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
  }
  const key = issue.path.map(String).join(".");
  const variable = envSource(issue, env);
  const source = variable ? `environment ${variable}` : `config ${file}`;
  const value = issue.path.length > 0 ? raw[String(issue.path[0])] : undefined;
  const shown = value === undefined ? "" : ` (got ${truncate(JSON.stringify(value))})`;
  return `${source}: ${key === "" ? "" : `${key} `}${issue.message}${shown}`;
}

/** Environment variables that override a config key. */
const ENV_OVERRIDES: Record<string, string> = {
  logLevel: "ZVPG_LOG_LEVEL",
  containerRuntime: "ZVPG_CONTAINER_RUNTIME",
};

/** The environment variable an issue's value came from, if it came from one. */
function envSource(
  issue: z.core.$ZodIssue | undefined,
  env: Record<string, string | undefined>,
): string | undefined {
  const variable = issue && issue.path.length > 0
    ? ENV_OVERRIDES[String(issue.path[0])]
    : undefined;
  return variable && env[variable] ? variable : undefined;
}

function truncate(text: string, max = 80): string {
  return text.length > max ? text.slice(0, max) + "…" : text;
}
