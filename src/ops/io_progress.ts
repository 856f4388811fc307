/**
 * Whether a PostgreSQL server is making progress, seen from the host: the I/O counters
 * (`/proc/<pid>/io`) of the processes whose working directory is on the branch's file
 * system. PostgreSQL's processes all run in the data directory, so during crash recovery
 * the startup process's reads of WAL (and the writes of pages) keep these growing; a server
 * that is stuck does no I/O. It needs no cooperation from the server or the engine, and
 * works whichever engine runs the container (its processes are the host's processes).
 *
 * @module
 */

/** `rchar + wchar` of a `/proc/<pid>/io` text (bytes read and written through syscalls). */
export function ioBytes(text: string): number | undefined {
  let total = 0;
  let found = 0;
  for (const line of text.split("\n")) {
    const match = line.match(/^(rchar|wchar):\s*(\d+)/);
    if (match) {
      total += Number(match[2]);
      found++;
    }
  }
  return found > 0 ? total : undefined;
}

/** Whether `now` shows progress over `before`: a process did more I/O, or a new one appeared. */
export function madeProgress(before: Map<number, number>, now: Map<number, number>): boolean {
  for (const [pid, bytes] of now) {
    const previous = before.get(pid);
    if (previous === undefined || bytes > previous) return true;
  }
  return false;
}

/**
 * A sampler for `waitReady`'s `progressed`: each call reads the I/O counters of the
 * processes working in `dir`'s file system and says whether they grew since the last
 * call. Never throws; false when `dir` cannot be read.
 */
export function ioProgressSampler(dir: string, procRoot = "/proc"): () => boolean {
  let previous = new Map<number, number>();
  return () => {
    let device: number;
    try {
      device = Deno.statSync(dir).dev;
    } catch {
      return false;
    }
    const current = new Map<number, number>();
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync(procRoot);
    } catch {
      return false;
    }
    for (const entry of entries) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        if (Deno.statSync(`${procRoot}/${entry.name}/cwd`).dev !== device) continue;
        const bytes = ioBytes(Deno.readTextFileSync(`${procRoot}/${entry.name}/io`));
        if (bytes !== undefined) current.set(Number(entry.name), bytes);
      } catch {
        // the process exited, or is not ours to read
      }
    }
    const progressed = madeProgress(previous, current);
    previous = current;
    return progressed;
  };
}
