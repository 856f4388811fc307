/**
 * The one place where zvpg runs other programs. Every program gets an argv array:
 * no shell is ever involved, so no input can be interpreted as shell syntax.
 *
 * @module
 */
import { CommandFailedError, CommandTimeoutError, ProgramNotFoundError } from "../errors.ts";
import { log } from "../log.ts";

/** Options for {@link CommandRunner.run}. */
export interface RunOptions {
  /** Bytes or text written to the program's stdin. */
  stdin?: string | Uint8Array;
  /** Extra environment variables (merged over the current environment). */
  env?: Record<string, string>;
  /** Return a non-zero exit instead of throwing {@link CommandFailedError}. */
  allowFailure?: boolean;
  /** Kill the program after this many milliseconds and throw {@link CommandTimeoutError}. */
  timeoutMs?: number;
}

/** The outcome of a finished program. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs programs. Services only ever see this interface, so tests can substitute a fake. */
export interface CommandRunner {
  run(program: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

/** Which Debian package provides a program, for "not found" hints. */
const PACKAGE_HINTS: Record<string, string> = {
  zfs: "install zfsutils-linux (or zfs-fuse) and make sure 'zfs' is on PATH",
  zpool: "install zfsutils-linux (or zfs-fuse) and make sure 'zpool' is on PATH",
  docker: "install docker.io, or set containerRuntime in config.json to podman or nerdctl",
  podman: "install podman, or set containerRuntime in config.json to docker or nerdctl",
  nerdctl: "install nerdctl, or set containerRuntime in config.json to docker or podman",
  pg_isready: "install postgresql-client",
  psql: "install postgresql-client",
  truncate: "install coreutils",
};

/** Runs programs with `Deno.Command`. */
export class DenoCommandRunner implements CommandRunner {
  async run(
    program: string,
    args: readonly string[],
    options: RunOptions = {},
  ): Promise<RunResult> {
    log.debug(`run: ${program} ${args.map(quoteForLog).join(" ")}`);
    const started = performance.now();
    const command = new Deno.Command(program, {
      args: [...args],
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
    });
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new ProgramNotFoundError(
          program,
          PACKAGE_HINTS[basename(program)] ?? `install '${program}'`,
        );
      }
      throw error;
    }
    let timedOut = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, options.timeoutMs);
    // stdin is written while stdout and stderr are drained: a program that echoes a large
    // input would otherwise block on a full pipe while we block writing to it
    const [output] = await Promise.all([child.output(), writeStdin(child, options.stdin)]);
    if (timer !== undefined) clearTimeout(timer);
    const result: RunResult = {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
    log.debug(`exit ${result.code} after ${Math.round(performance.now() - started)} ms`);
    if (timedOut) throw new CommandTimeoutError(program, args, options.timeoutMs!);
    if (result.code !== 0 && !options.allowFailure) {
      throw new CommandFailedError(program, args, result.code, result.stderr || result.stdout);
    }
    return result;
  }
}

/** Writes `stdin` (if any) to the child and closes it; a child that exits early is fine. */
async function writeStdin(
  child: Deno.ChildProcess,
  stdin: string | Uint8Array | undefined,
): Promise<void> {
  if (stdin === undefined) return;
  const writer = child.stdin.getWriter();
  const bytes = typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
  await writer.write(bytes).catch(() => {});
  await writer.close().catch(() => {});
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Quotes an argument for a debug log line (never executed). */
function quoteForLog(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
