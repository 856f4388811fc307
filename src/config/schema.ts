/**
 * The configuration schema: every key of `config.json`, its type, rules and default.
 *
 * @module
 */
import { z } from "zod";
import { LOG_LEVELS } from "../runtime/log.ts";
import { branchNameProblem } from "../domain/names.ts";

/** The branch-name pattern git uses, as given in the spec. */
export const GIT_BRANCH_PATTERN = String
  .raw`^(?!\/|\.|.*([\/.]\.|\/\/|\.lock$))[\p{L}\p{N}\-_\/]+$`;

/** The container runtimes zvpg can drive. */
export const RUNTIMES = ["docker", "podman", "nerdctl"] as const;

/**
 * A dataset name component that is also a directory under mountDir, bind-mounted into
 * containers: no ':' or ',' (the engines' `-v`/`--mount` separators).
 */
const component = (what: string) =>
  z.string().regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/,
    `${what} must be one path component of letters, digits, '_', '-', '.'`,
  );

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const path = z.string().min(1, "must be a non-empty path").refine(
  (p) => !CONTROL.test(p),
  "must not contain control characters (NUL, tab, newline...)",
);

/**
 * Directories that are not zvpg's alone. mountDir is made private (mode 0700), and the
 * datasets are mounted below it: none of these may be it.
 */
const SHARED_DIRS = new Set([
  "/",
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/mnt",
  "/media",
  "/opt",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/srv",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
  "/var/lib",
  "/var/log",
  "/var/tmp",
  "/dev/shm",
]);

/**
 * mountDir is a ZFS mountpoint prefix and the source of the containers' bind mounts:
 * engines split `-v` on ':' and `--mount` on ','; it becomes mode 0700, so it must be a
 * directory of zvpg's own.
 */
const mountDir = path
  .refine((p) => !p.includes(":") && !p.includes(","), {
    message: "must not contain ':' or ',' (container engines cannot bind-mount such paths)",
    abort: true,
  })
  .refine((p) => !SHARED_DIRS.has(p.replace(/\/+$/, "") || "/"), {
    message: "must be a directory of zvpg's own (it is made private, mode 0700), not a system one",
  });

/**
 * Pool names ZFS accepts (zpool(8) "Pool names"): a letter first, then letters, digits,
 * '_', '-', '.', ':'; not `log`, not starting with mirror, raidz, draid or spare, and not
 * c<digit> (it reads as a disk name).
 */
export function poolNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/.test(name)) {
    return "must start with a letter and hold only letters, digits, '_', '-', '.', ':' (at most 64)";
  }
  if (name === "log" || /^(mirror|raidz|draid|spare)/.test(name)) {
    return "is reserved by ZFS (log, or starts with mirror, raidz, draid or spare)";
  }
  if (/^c[0-9]/.test(name)) return "is refused by ZFS: c<digit>... reads as a disk name";
  return undefined;
}

/** ZFS's smallest vdev (SPA_MINDEVSIZE): a smaller pool file cannot be created. */
const MIN_POOL_BYTES = 64 * 1024 ** 2;

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/** Bytes of a size such as `10G` (or NaN). */
export function parseSize(size: string): number {
  const match = size.match(/^([1-9][0-9]*)([KMGT]?)$/);
  return match ? Number(match[1]) * SIZE_UNITS[match[2]] : NaN;
}

/** Whether `text` is an IPv4 address (dotted quad, each octet 0-255, no leading zeros). */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** Whether `text` is an IPv6 address, bare or in brackets (no zone). */
export function isIpv6(text: string): boolean {
  const bare = text.replace(/^\[(.*)\]$/, "$1");
  if (!/^[0-9a-fA-F:.]+$/.test(bare) || !bare.includes(":")) return false;
  try {
    new URL(`http://[${bare}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * A Docker/OCI image reference: `[host[:port]/]path[:tag][@digest]`, path components in
 * lower case (engines refuse upper case with "repository name must be lowercase").
 */
const IMAGE_REF = new RegExp(
  "^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*" +
    "(?::[0-9]+)?/)?" +
    "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*" +
    "(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?" +
    "(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$",
);

const port = z.number({ error: "must be a number" }).int("must be a whole number").min(
  1,
  "must be between 1 and 65535",
).max(65535, "must be between 1 and 65535");

/** A whole number of seconds from `min` to 3600, each rule with its own message. */
const seconds = (min: number) =>
  z.number({ error: "must be a number" }).int("must be a whole number of seconds")
    .min(min, `must be between ${min} and 3600`).max(3600, `must be between ${min} and 3600`);

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
  zfsPool: z.string().superRefine((name, ctx) => {
    const problem = poolNameProblem(name);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }).default("zvpg_pool"),
  zfsPoolDevice: path.nullable().default(null),
  zfsPoolSize: z.string().regex(/^[1-9][0-9]*[KMGT]?$/, {
    message: "must be a size such as 10G or 512M",
    abort: true,
  }).refine(
    (size) => parseSize(size) >= MIN_POOL_BYTES,
    "must be at least 64M (the smallest device ZFS accepts)",
  ).default("10G"),
  mountDir: mountDir.default("/var/lib/zvpg"),
  dataSubdir: component("dataSubdir").default("data"),
  clonesSubdir: component("clonesSubdir").default("clones"),
  socketSubdir: component("socketSubdir").default("sockets"),
  postgresUser: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
    message: "must be a plain SQL identifier",
    abort: true,
  }).refine(
    (u) => !u.toLowerCase().startsWith("pg_"),
    "must not start with 'pg_' (PostgreSQL reserves such role names)",
  ).default("postgres"),
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
  bindAddress: z.string().refine(
    (a) => isIpv4(a) || isIpv6(a),
    "must be an IP address such as 127.0.0.1, 0.0.0.0 or ::1 (each IPv4 part 0-255)",
  ).default("127.0.0.1"),
  branchDefault: z.string().superRefine((name, ctx) => {
    const problem = branchNameProblem(name, GIT_BRANCH_PATTERN);
    if (problem) {
      ctx.addIssue({ code: "custom", message: `is not a valid branch name: ${problem}` });
    }
  }).default("main"),
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
  walArchive: z.boolean({ error: "must be true or false" }).default(true),
  archiveTimeoutSeconds: seconds(1).default(60),
  walRetention: z.string().regex(
    /^[1-9][0-9]{0,8}[smhdw]$/,
    "must be a duration such as 7d, 48h or 2w",
  ).default("7d"),
  sshOptions: z.array(
    z.string().refine((o) => !o.includes("\0"), "must not contain a NUL character"),
    { error: 'must be a list of ssh arguments such as ["-i", "/root/.ssh/ci_key"]' },
  ).default([]),
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
