/**
 * An import's source as zvpg reaches it: a `--from` value resolved into a server, a dump or
 * a data directory (never over the network), the server's password (never in argv or the
 * environment of a container: it goes to the session's private pgpass copy), and where a
 * dump is mounted in the client containers.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../errors.ts";
import {
  classifyPath,
  type DumpSource,
  effectiveTarget,
  type ImportSource,
  isConnectionString,
  parseConnectionString,
  passwordFromPgpass,
  type PathFacts,
  redactConnectionString,
  type ServerSource,
  sourcePgpass,
} from "../../domain/import_source.ts";

/** The environment an import reads its password from (replaceable in tests). */
export type Env = Record<string, string | undefined>;

/** Where a dump is mounted in client containers. */
const DUMP_MOUNT = "/run/zvpg-dump";

/** Reads what a path holds, for {@link classifyPath}. */
function pathFacts(path: string): PathFacts {
  const info = statSync(path);
  if (info.isDirectory()) return { isDirectory: true, entries: readdirSync(path) };
  const file = Deno.openSync(path, { read: true });
  try {
    const head = new Uint8Array(512);
    const n = file.readSync(head) ?? 0;
    return { isDirectory: false, head: head.slice(0, n) };
  } finally {
    file.close();
  }
}

/** Resolves a `--from` value into a source; never touches the network. */
export function resolveSource(from: string): ImportSource {
  if (isConnectionString(from)) return parseConnectionString(from);
  let path: string;
  try {
    path = realpathSync(from);
  } catch {
    throw new UsageError(`import source '${redactConnectionString(from)}' does not exist`, {
      hint:
        "pass a postgresql:// URI, 'host=… dbname=…', a dump file or directory, or a data directory",
    });
  }
  return classifyPath(path, pathFacts(path));
}

/** The source password: from the URI, else PGPASSWORD, else a passfile; or undefined. */
export function sourcePassword(source: ServerSource, env: Env): string | undefined {
  if (source.password !== undefined) return source.password;
  if (env.PGPASSWORD) return env.PGPASSWORD;
  const file = env.PGPASSFILE ?? join(env.HOME ?? homedir(), ".pgpass");
  if (!existsSync(file)) return undefined;
  return passwordFromPgpass(
    readFileSync(file, "utf8"),
    effectiveTarget(source, { user: env.PGUSER }),
  );
}

/** The session's pgpass: the server source's password, if it has one; else empty. */
export function sessionPgpass(source: ImportSource, env: Env): string {
  const password = source.kind === "server" ? sourcePassword(source, env) : undefined;
  return password === undefined || source.kind !== "server" ? "" : sourcePgpass(source, password);
}

/** The path the clients read the dump at. */
export function dumpPath(source: DumpSource): string {
  return source.format === "directory" ? DUMP_MOUNT : `${DUMP_MOUNT}/dump`;
}

/** The dump, mounted read-only at {@link dumpPath}. */
export function dumpMounts(source: DumpSource) {
  return [{ source: source.path, target: dumpPath(source), readonly: true }];
}
