/**
 * The configuration schema: every key of `config.json`, its type, rules and default.
 *
 * @module
 */
import { z } from "zod";
import { LOG_LEVELS } from "../log.ts";

/** The branch-name pattern git uses, as given in the spec. */
export const GIT_BRANCH_PATTERN = String
  .raw`^(?!\/|\.|.*([\/.]\.|\/\/|\.lock$))[\p{L}\p{N}\-_\/]+$`;

/** The container runtimes zvpg can drive. */
export const RUNTIMES = ["docker", "podman", "nerdctl"] as const;

const component = (what: string) =>
  z.string().regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/,
    `${what} must be one path component of letters, digits, '_', '-', '.', ':'`,
  );

const path = z.string().min(1, "must be a non-empty path").refine(
  (p) => !p.includes("\0"),
  "must not contain NUL",
);

const port = z.number({ error: "must be a number" }).int("must be a whole number").min(
  1,
  "must be between 1 and 65535",
).max(65535, "must be between 1 and 65535");

/** A whole number of seconds from `min` to 3600, each rule with its own message. */
const seconds = (min: number) =>
  z.number({ error: "must be a number" }).int("must be a whole number of seconds")
    .min(min, `must be between ${min} and 3600`).max(3600, `must be between ${min} and 3600`);

/** Characters a container image reference may hold (registry/name:tag@digest). */
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._\/:@-]{0,254}$/;

/** Runtime name or an absolute path to one of the supported binaries. */
const runtime = z.string().refine(
  (r) =>
    (RUNTIMES as readonly string[]).includes(r) ||
    (r.startsWith("/") && runtimeFlavor(r) !== undefined),
  "must be docker, podman, nerdctl, or an absolute path to one of them",
);

/** The flavor (docker, podman, nerdctl) of a runtime name or absolute path. */
export function runtimeFlavor(runtime: string): typeof RUNTIMES[number] | undefined {
  const base = runtime.slice(runtime.lastIndexOf("/") + 1);
  return (RUNTIMES as readonly string[]).includes(base)
    ? base as typeof RUNTIMES[number]
    : undefined;
}

/** The schema of config.json. Unknown keys are refused (they are almost always typos). */
export const configSchema = z.strictObject({
  zfsPool: z.string().regex(
    /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/,
    "must start with a letter and hold only letters, digits, '_', '-', '.', ':'",
  ).default("zvpg_pool"),
  zfsPoolDevice: path.nullable().default(null),
  zfsPoolSize: z.string().regex(/^[1-9][0-9]*[KMGT]?$/, "must be a size such as 10G or 512M")
    .default("10G"),
  mountDir: path.default("/var/lib/zvpg"),
  dataSubdir: component("dataSubdir").default("data"),
  clonesSubdir: component("clonesSubdir").default("clones"),
  socketSubdir: component("socketSubdir").default("sockets"),
  postgresUser: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be a plain SQL identifier")
    .default("postgres"),
  postgresDb: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be a plain SQL identifier")
    .default("postgres"),
  containerRuntime: runtime.default("docker"),
  pgBaseImage: z.string().regex(IMAGE_REF, "must be an image reference such as postgres:17")
    .default("postgres:17"),
  pgConfigDir: path.optional(),
  pgHbaPath: path.optional(),
  pgIdentPath: path.optional(),
  pgConfPath: path.optional(),
  branchPortStart: port.default(6001),
  branchPortEnd: port.default(6099),
  bindAddress: z.string().regex(
    /^(\d{1,3}(\.\d{1,3}){3}|::1?|\[[0-9a-fA-F:]+\])$/,
    "must be an IP address such as 127.0.0.1 or 0.0.0.0",
  ).default("127.0.0.1"),
  branchDefault: z.string().min(1).default("main"),
  branchNamingPattern: z.string().refine((p) => {
    try {
      new RegExp(p, "u");
      return true;
    } catch {
      return false;
    }
  }, "must be a valid regular expression").default(GIT_BRANCH_PATTERN),
  readyTimeoutSeconds: seconds(1).default(60),
  stopTimeoutSeconds: seconds(0).default(30),
  logLevel: z.preprocess(
    (v) => typeof v === "string" ? v.toUpperCase() : v,
    z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }),
  ).default("INFO"),
  logDir: path.default("/var/log/zvpg"),
}).superRefine((c, ctx) => {
  // issues about several keys have an empty path: the message names the keys and values
  if (c.branchPortStart > c.branchPortEnd) {
    ctx.addIssue({
      code: "custom",
      path: [],
      message:
        `branchPortStart (${c.branchPortStart}) must not be greater than branchPortEnd (${c.branchPortEnd})`,
    });
  }
  if (new Set([c.dataSubdir, c.clonesSubdir, c.socketSubdir]).size !== 3) {
    ctx.addIssue({
      code: "custom",
      path: [],
      message: `dataSubdir, clonesSubdir and socketSubdir must differ (got ${
        JSON.stringify([c.dataSubdir, c.clonesSubdir, c.socketSubdir])
      })`,
    });
  }
});

/** config.json as written by the user (all keys optional). */
export type ConfigInput = z.input<typeof configSchema>;
