/**
 * A shut-down data directory on the host: copied with `cp -a --sparse=always` (or, taken
 * over in place, used as it is), then treated as every physical copy is (see
 * load_physical.ts).
 *
 * @module
 */
import { join } from "node:path";
import type { DataDirSource } from "../../domain/import_source.ts";
import type { ImportRun, SourceLoader } from "./source_loader.ts";
import { adoptSuperuser, scrubCopy } from "./load_physical.ts";

/**
 * Loads `source`, copied into the data directory, or, `inPlace`, already there: the
 * data directory is the source's own, taken over (see src/ops/datadir_adoption.ts).
 */
export function loadDatadir(run: ImportRun, source: DataDirSource, inPlace: boolean): SourceLoader {
  return {
    fresh: false,
    make: async (pgdata) => {
      if (inPlace) scrubCopy(pgdata);
      else await copyDataDir(run, source.path, pgdata);
    },
    load: async (loader) => await adoptSuperuser(run.ctx, loader),
  };
}

async function copyDataDir(run: ImportRun, path: string, pgdata: string): Promise<void> {
  const { progress, ctx } = run;
  progress.phase("copying the data directory");
  const owner = run.secrets.owner;
  // on a terminal, the bytes copied so far are the copy's size, read once a second
  const total = progress.terminal ? treeBytes(path) : 0;
  const timer = progress.terminal
    ? setInterval(() => progress.bytes(treeBytes(pgdata), total), 1000)
    : undefined;
  try {
    await ctx.runner.run("cp", ["-a", "--sparse=always", `${path}/.`, `${pgdata}/`], {
      timeoutMs: 24 * 3600 * 1000,
    });
  } finally {
    clearInterval(timer);
  }
  await ctx.runner.run("chown", ["-R", `${owner.uid}:${owner.gid}`, pgdata]);
  scrubCopy(pgdata);
}

/** The bytes of the regular files under `dir` (what a copy of it writes); 0 when unreadable. */
export function treeBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      try {
        if (e.isDirectory) walk(p);
        else if (e.isFile) total += Deno.statSync(p).size;
      } catch {
        // removed while walking
      }
    }
  };
  walk(dir);
  return total;
}
