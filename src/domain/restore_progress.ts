/**
 * Reading the progress of client programs from what they print: objects restored by
 * `pg_restore --verbose` (and `psql --echo-errors` has no such lines: a plain SQL restore
 * reports its phase only), and bytes copied by `pg_basebackup --progress`. Pure: the
 * caller feeds the text as it arrives.
 *
 * @module
 */

/**
 * Counts the objects `pg_restore --verbose` reports done, fed chunk by chunk. Serially it
 * prints one `creating …`, `processing data for table …` or `executing …` line per object.
 * With `-j N`, the workers print those lines too and the leader adds `finished item …` per
 * object: inside the main parallel loop only the latter count, so nothing counts twice.
 */
export class RestoreObjectCounter {
  #done = 0;
  #parallel = false;
  #partial = "";

  /** Objects done so far. */
  get done(): number {
    return this.#done;
  }

  /** Feeds more stderr text; returns the objects done so far. */
  feed(text: string): number {
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) this.#line(line.trim());
    return this.#done;
  }

  #line(line: string): void {
    if (!line.startsWith("pg_restore: ")) return;
    const message = line.slice("pg_restore: ".length);
    if (message.startsWith("entering main parallel loop")) this.#parallel = true;
    else if (message.startsWith("finished main parallel loop")) this.#parallel = false;
    else if (this.#parallel) {
      if (message.startsWith("finished item ")) this.#done++;
    } else if (/^(creating |processing data for |executing )/.test(message)) this.#done++;
  }
}

/** The number of entries of a `pg_restore -l` listing (the archive's objects). */
export function tocEntryCount(listing: string): number {
  return listing.split("\n").filter((l) => /^\d+;/.test(l.trim())).length;
}

/**
 * The last `done/total kB` of `pg_basebackup --progress` output, in bytes; undefined when
 * the text holds none. Lines end with `\r` on a terminal and `\n` otherwise.
 */
export function baseBackupProgress(text: string): { done: number; total: number } | undefined {
  const matches = [...text.matchAll(/(\d+)\/(\d+) kB/g)];
  const last = matches.at(-1);
  if (!last) return undefined;
  return { done: Number(last[1]) * 1024, total: Number(last[2]) * 1024 };
}
