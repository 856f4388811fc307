/**
 * Every error a caller may want to handle has its own class. All of them extend
 * {@link ZvpgError}, whose message is a single line meant for the user; the CLI prints
 * it as `zvpg: <message>` and exits with {@link ZvpgError.exitCode}.
 *
 * @module
 */

/** Base class of every error zvpg reports to the user. */
export class ZvpgError extends Error {
  /** Process exit code: 1 for failures, 2 for usage errors. */
  readonly exitCode: number = 1;
  /** Optional second line: what the user can do about it. */
  readonly hint?: string;

  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

/** The command line itself is wrong (unknown option, bad value): exit code 2. */
export class UsageError extends ZvpgError {
  override readonly exitCode = 2;
}

/** The configuration file or an environment override is invalid. */
export class ConfigError extends ZvpgError {}

/** A branch, snapshot or remote name breaks the naming rules. */
export class InvalidNameError extends UsageError {}

/** A remote URL is not one zvpg takes (`ssh://…` or `file:///…`). */
export class InvalidRemoteUrlError extends UsageError {}

/** A remote does not exist. */
export class RemoteNotFoundError extends ZvpgError {
  constructor(readonly remote: string) {
    super(`remote '${remote}' does not exist`, {
      hint: "run 'zvpg remote list' to see the remotes",
    });
  }
}

/** A branch does not exist. */
export class BranchNotFoundError extends ZvpgError {
  constructor(readonly branch: string) {
    super(`branch '${branch}' does not exist`, {
      hint: "run 'zvpg branch list' to see the branches",
    });
  }
}

/** A snapshot does not exist. */
export class SnapshotNotFoundError extends ZvpgError {
  constructor(readonly snapshot: string) {
    super(`snapshot '${snapshot}' does not exist`, {
      hint: "run 'zvpg snapshot list' to see the snapshots",
    });
  }
}

/** Something with this name exists already. */
export class AlreadyExistsError extends ZvpgError {}

/** A branch with this name exists already (`branch create --if-not-exists` takes it). */
export class BranchExistsError extends AlreadyExistsError {}

/** A remote with this name exists already. */
export class RemoteExistsError extends AlreadyExistsError {}

/** The operation would break something that depends on its target. */
export class DependencyError extends ZvpgError {
  constructor(message: string, readonly dependents: string[], hint?: string) {
    super(message, { hint });
  }
}

/** The target is in a state that forbids the operation (e.g. start a running branch). */
export class StateError extends ZvpgError {}

/** A dataset cannot be unmounted or destroyed because a process uses it. */
export class DatasetBusyError extends ZvpgError {}

/** A point-in-time target lies outside what the WAL archive and snapshots allow. */
export class PitrWindowError extends ZvpgError {}

/** No port could be allocated for a branch. */
export class PortUnavailableError extends ZvpgError {}

/** zvpg has not been initialised on this pool yet. */
export class NotInitializedError extends ZvpgError {
  constructor(what: string) {
    super(`${what}: zvpg is not initialised on this pool`, { hint: "run 'zvpg init env' first" });
  }
}

/** The pool exists but is not imported (exported, or not imported after a reboot). */
export class PoolNotImportedError extends ZvpgError {
  constructor(what: string, pool: string, dir: string) {
    super(`${what}: pool '${pool}' is not imported`, {
      hint: `run 'zvpg init env' to import it (or 'zpool import -d ${dir} ${pool}')`,
    });
  }
}

/** PostgreSQL did not become ready in a container. */
export class PostgresStartError extends ZvpgError {}

/** A signal (Ctrl-C) stopped an operation, which removed what it had made: exit 130. */
export class InterruptedError extends ZvpgError {
  override readonly exitCode = 130;
}

/** The container engine does not answer (daemon stopped, socket gone). */
export class RuntimeUnreachableError extends ZvpgError {}

/** A required program is not installed. */
export class ProgramNotFoundError extends ZvpgError {
  constructor(readonly program: string, hint: string) {
    super(`'${program}' was not found on PATH`, { hint });
  }
}

/** An external program exited with a non-zero code. */
export class CommandFailedError extends ZvpgError {
  constructor(
    readonly program: string,
    readonly args: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`'${program} ${args.slice(0, 2).join(" ")}' failed (exit ${code}): ${tail(stderr)}`);
  }
}

/** An external program ran longer than allowed and was killed. */
export class CommandTimeoutError extends ZvpgError {
  constructor(readonly program: string, readonly args: readonly string[], readonly ms: number) {
    super(`'${program} ${args.slice(0, 2).join(" ")}' did not finish within ${ms} ms`);
  }
}

/** The last non-empty line(s) of a program's stderr, folded to one line. */
export function tail(text: string, maxChars = 300): string {
  const lines = text.trim().split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const last = lines.slice(-3).join(" | ");
  if (last === "") return "(no error output)";
  return last.length > maxChars ? "…" + last.slice(-maxChars) : last;
}

/** A merge refused: objects changed on both sides since the fork (named). */
export class MergeConflictError extends ZvpgError {}

/** A merge refused: statements that lose data, without `--allow-data-loss` (named). */
export class DataLossError extends ZvpgError {}

/** A merge script failed on the throwaway clone of the target; nothing was changed. */
export class MergeProofError extends ZvpgError {}
