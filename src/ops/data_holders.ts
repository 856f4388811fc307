/**
 * Who is using a data directory, found from the host's `/proc` whatever started it: a
 * container of any engine (docker, podman, nerdctl, another zvpg configuration) or a
 * process on the host. PostgreSQL keeps its data directory as its working directory, so
 * every server on a data directory has it as `cwd`; a container's bind mount keeps the
 * device and inode, so comparing them finds servers inside containers too.
 *
 * Invariant: zvpg removes `postmaster.pid` and starts a server only after
 * {@link assertNoServer} found no process on the data directory.
 *
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { StateError } from "../errors.ts";

/** A process whose working directory is the data directory. */
export interface DataHolder {
  pid: number;
  command: string;
}

/** Reads the processes of the host; the seam unit tests replace. */
export interface ProcessTable {
  pids(): number[];
  /** Device and inode of the process's working directory, or undefined when unreadable. */
  cwd(pid: number): { dev: number; ino: number } | undefined;
  command(pid: number): string;
  /** The parent's pid, or undefined when the process is gone. */
  parent(pid: number): number | undefined;
  /** The whole command line, arguments separated by spaces ("" when unreadable). */
  commandLine(pid: number): string;
  /**
   * When the process started (clock ticks since boot), or undefined when it is gone: with
   * the pid, it names one process, never another that got its pid later.
   */
  startTime(pid: number): number | undefined;
}

/** The real `/proc` (root sees every process, inside containers too). */
export const procTable: ProcessTable = {
  pids: () =>
    readdirSync("/proc").filter((n) => /^[0-9]+$/.test(n)).map(Number).filter((p) =>
      p !== Deno.pid
    ),
  cwd: (pid) => {
    try {
      const info = statSync(`/proc/${pid}/cwd`);
      return { dev: info.dev, ino: info.ino };
    } catch {
      // gone, a kernel thread, or a working directory on a dead mount: none of them
      // can write to this (live) data directory
      return undefined;
    }
  },
  command: (pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      return "?";
    }
  },
  parent: (pid) => {
    const ppid = statField(pid, 4);
    return ppid !== undefined && ppid > 0 ? ppid : undefined;
  },
  startTime: (pid) => statField(pid, 22),
  commandLine: (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    } catch {
      return "";
    }
  },
};

/**
 * Numeric field `n` (1-based, as proc(5) numbers them) of `/proc/<pid>/stat`, or undefined
 * when the process is gone. "pid (comm) state ppid …": comm may hold spaces and
 * parentheses, so fields are counted from the last ')' (field 3 is the first after it).
 */
function statField(pid: number, n: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const value = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[n - 3]);
    return Number.isInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The processes whose working directory is `dir`; none when `dir` cannot be read. */
export function processesIn(dir: string, table: ProcessTable = procTable): DataHolder[] {
  let target: { dev: number; ino: number };
  try {
    const info = statSync(dir);
    target = { dev: info.dev, ino: info.ino };
  } catch {
    return [];
  }
  const holders: DataHolder[] = [];
  for (const pid of table.pids()) {
    const cwd = table.cwd(pid);
    if (cwd && cwd.dev === target.dev && cwd.ino === target.ino) {
      holders.push({ pid, command: table.command(pid) });
    }
  }
  return holders;
}

/**
 * Throws {@link StateError} when any process works in the data directory of `branch`:
 * a server zvpg cannot see (another engine, the host), which a second server would
 * corrupt.
 */
export function assertNoServer(
  branch: string,
  pgdata: string,
  table: ProcessTable = procTable,
): void {
  const holders = processesIn(pgdata, table);
  if (holders.length === 0) return;
  const shown = holders.slice(0, 3).map((h) => `${h.pid} (${h.command})`).join(", ");
  throw new StateError(
    `branch '${branch}': its data directory is in use by process ${shown}${
      holders.length > 3 ? ` and ${holders.length - 3} more` : ""
    }; zvpg never starts a second server on one data directory`,
    {
      hint:
        "stop that server first (it may run under another container engine than the configured one)",
    },
  );
}
