/**
 * The remote benchmark's types, report (Markdown) and chart (gnuplot PNG). The types live
 * here, not in the runner, so the report never imports the script that measures.
 *
 * @module
 */
import { join } from "node:path";
import type { CommandRunner } from "../src/runtime/runner.ts";
import { formatMs, formatSize } from "./units.ts";

/** The ratio (zvpg ÷ plain) the issue asks every figure to stay within. */
export const TARGET_RATIO = 1.2;

/** How snapshots travel in one half of the run. */
export type Transport = "file" | "ssh";

/** One transfer measured side by side: zvpg's command and the hand-typed one. */
export interface TransferFigure {
  transport: Transport;
  operation: "push" | "pull";
  /** What was run, as a reader would type it. */
  zvpgCommand: string;
  plainCommand: string;
  /** Wall times in ms, in round order. */
  zvpg: number[];
  plain: number[];
  zvpgMedian: number;
  plainMedian: number;
  /** zvpg ÷ plain, of the medians. */
  ratio: number;
  /** Bytes zvpg reported moving (its `-f json` `bytes`), median. */
  bytes: number;
  /** The time of zvpg's own `zfs send`/`zfs receive` calls (its DEBUG log), per round. */
  zvpgZfs: number[];
  zvpgZfsMedian: number;
}

/** The incremental push of a small change: bytes zvpg sends against what ZFS wrote. */
export interface IncrementFigure {
  transport: Transport;
  /** Rows updated and what share of the table that is. */
  rows: number;
  share: number;
  /** Bytes zvpg reported sending (`push -f json` `bytes`). */
  zvpgBytes: number;
  /** Bytes of the hand-typed `zfs send -i base change` of the same snapshots. */
  plainBytes: number;
  /** What ZFS says the change wrote (see {@link IncrementFigure.writtenSource}). */
  written: number;
  /**
   * `written`: the property of the snapshot (OpenZFS). `derived`: zfs-fuse has no such
   * property, so it is referenced(change) − referenced(base) + used(base): the blocks of
   * `change` not shared with `base`, from the properties zfs-fuse has.
   */
  writtenSource: "written" | "derived";
  /** zvpgBytes ÷ written. */
  ratio: number;
  zvpgMs: number;
  plainMs: number;
}

/**
 * The same bytes copied without zfs: through zvpg's runner (a `stdoutFile` or `stdinFile`
 * call, as push and pull make) against the shell's redirection. It separates what the
 * runner's copy costs from what zfs costs.
 */
export interface CopyFigure {
  what: string;
  runnerCommand: string;
  shellCommand: string;
  /** Wall times in ms, in round order. */
  runner: number[];
  shell: number[];
  runnerMedian: number;
  shellMedian: number;
  ratio: number;
}

/** What the report says about the run besides the figures. */
export interface RemoteRun {
  startedAt: Date;
  finishedAt: Date;
  command: string;
  runs: number;
  /** pg_database_size of the benchmark database, and the snapshot's `referenced`. */
  dbBytes: number;
  snapshotBytes: number;
  machine: Record<string, unknown>;
  loadAtEnd: string;
  /** Per transport: null when measured, else why not (`ssh: not available …`). */
  skipped: Partial<Record<Transport, string>>;
  transfers: TransferFigure[];
  increments: IncrementFigure[];
  copies: CopyFigure[];
}

function verdict(ratio: number): string {
  return ratio <= TARGET_RATIO ? "yes" : "**no**";
}

/** The Markdown report. */
export function renderRemoteMarkdown(run: RemoteRun): string {
  const m = run.machine;
  const transfers = run.transfers.map((f) =>
    `| ${f.transport} | ${f.operation} | \`${f.zvpgCommand}\` | \`${
      f.plainCommand.replaceAll("|", "\\|")
    }\` | ${formatSize(f.bytes)} | ${formatMs(f.zvpgMedian)} | ${formatMs(f.zvpgZfsMedian)} | ${
      formatMs(f.zvpgMedian - f.zvpgZfsMedian)
    } | ${formatMs(f.plainMedian)} | ${f.ratio.toFixed(2)} | ${verdict(f.ratio)} |`
  );
  const increments = run.increments.map((f) =>
    `| ${f.transport} | ${f.rows} (${(f.share * 100).toFixed(1)} %) | ${
      formatSize(f.zvpgBytes)
    } (${f.zvpgBytes}) | ${formatSize(f.plainBytes)} (${f.plainBytes}) | ${
      formatSize(f.written)
    } (${f.written}, ${f.writtenSource}) | ${f.ratio.toFixed(2)} | ${verdict(f.ratio)} | ${
      formatMs(f.zvpgMs)
    } / ${formatMs(f.plainMs)} |`
  );
  const skipped = Object.entries(run.skipped).map(([t, why]) => `- ${t}: ${why}`);
  return [
    "# Remotes: zvpg push and pull against plain zfs send and zfs receive",
    "",
    `Run ${run.startedAt.toISOString()} (${
      ((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(0)
    } s) by \`${run.command}\`.`,
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.ram} RAM, kernel ${m.kernel}, ZFS ${m.zfs}, ` +
    `${m.docker}, zvpg ${m.zvpgCommit}. Load average at start ${m.loadAvgAtStart}, at end ` +
    `${run.loadAtEnd}; shared with other sessions.`,
    `Data: a pgbench database of ${formatSize(run.dbBytes)} (pg_database_size) in main; the ` +
    `snapshot \`base\` references ${formatSize(run.snapshotBytes)} (the whole data directory).`,
    "",
    "Each round runs zvpg's command and the hand-typed one back to back, in alternating order",
    "(zvpg first in even rounds), and removes what both made before the next round (untimed):",
    "every transfer is a whole one. Times are CLI wall time (`deno run main.ts`, start-up",
    `included) and the shell's, median of ${run.runs} rounds. Target: zvpg within ` +
    `${TARGET_RATIO}× of the plain command.`,
    "",
    "## Whole transfers",
    "",
    "| transport | operation | zvpg | plain | bytes | zvpg | its zfs call | the rest | plain | zvpg ÷ plain | within target |",
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ...transfers,
    "",
    "`its zfs call` is the wall time of the `zfs send` or `zfs receive` zvpg ran, from the",
    "CLI's DEBUG log (with the stream between the program and the file, below); `the rest`",
    "is everything else of the CLI run: Deno start-up, config, the lock, the inventory and",
    "GUID reads, the remote's index, the metadata of a received snapshot.",
    ...(skipped.length ? ["", "Not measured:", "", ...skipped] : []),
    "",
    ...(run.copies.length
      ? [
        "### The same bytes without zfs",
        "",
        "Each round also copies the plain stream file once through zvpg's own runner (the",
        "`stdoutFile`/`stdinFile` calls push and pull make) and once with the shell's",
        "redirection, which gives the program the file itself: what the runner adds to a",
        "stream, without zfs.",
        "",
        "| copy | zvpg's runner | shell | runner | shell | ratio |",
        "|---|---|---|---:|---:|---:|",
        ...run.copies.map((c) =>
          `| ${c.what} | \`${c.runnerCommand}\` | \`${c.shellCommand}\` | ${
            formatMs(c.runnerMedian)
          } | ${formatMs(c.shellMedian)} | ${c.ratio.toFixed(2)} |`
        ),
      ]
      : []),
    "",
    "![push and pull wall time; bytes of the incremental push](remote.png)",
    "",
    "## Incremental push of a small change",
    "",
    "After `base` is on the remote, an `UPDATE` of the first 1 % of `pgbench_accounts` rows",
    "(contiguous: `WHERE aid <= n`), then `zvpg snapshot create change` (CHECKPOINT first).",
    "zvpg pushes `change` as an increment from `base`; the plain figure is",
    "`zfs send -i base change` of the same snapshots. The target compares zvpg's bytes with what",
    "ZFS says the change wrote.",
    "",
    "| transport | rows updated | zvpg sends | plain zfs send -i | ZFS written | zvpg ÷ written | within target | time zvpg / plain |",
    "|---|---:|---:|---:|---:|---:|---|---:|",
    ...increments,
    "",
    "## Samples (ms, in round order)",
    "",
    ...run.transfers.map((f) =>
      `- ${f.transport} ${f.operation}: zvpg ${f.zvpg.map(Math.round).join(", ")}; plain ${
        f.plain.map(Math.round).join(", ")
      }`
    ),
    ...run.copies.map((c) =>
      `- copy, ${c.what}: runner ${c.runner.map(Math.round).join(", ")}; shell ${
        c.shell.map(Math.round).join(", ")
      }`
    ),
    "",
  ].join("\n");
}

/** Writes remote.dat, remote_bytes.dat, remote.gp and renders remote.png with gnuplot. */
export async function renderRemoteChart(
  run: RemoteRun,
  outDir: string,
  runner: CommandRunner,
): Promise<void> {
  Deno.writeTextFileSync(
    join(outDir, "remote.dat"),
    [
      ...run.transfers.map((f) => ({
        label: `${f.transport} ${f.operation}`,
        zvpg: f.zvpgMedian,
        plain: f.plainMedian,
        ratio: f.ratio,
      })),
      ...run.copies.map((c) => ({
        label: c.what.startsWith("write") ? "copy (write)" : "copy (read)",
        zvpg: c.runnerMedian,
        plain: c.shellMedian,
        ratio: c.ratio,
      })),
    ].map((r, i) =>
      `${i} "${r.label}" ${(r.zvpg / 1000).toFixed(3)} ${(r.plain / 1000).toFixed(3)} ${
        r.ratio.toFixed(2)
      }`
    ).join("\n") + "\n",
  );
  const mib = (b: number) => (b / 1048576).toFixed(2);
  Deno.writeTextFileSync(
    join(outDir, "remote_bytes.dat"),
    run.increments.map((f, i) =>
      `${i} "${f.transport} push -i" ${mib(f.zvpgBytes)} ${mib(f.plainBytes)} ${mib(f.written)} ${
        f.ratio.toFixed(2)
      }`
    ).join("\n") + "\n",
  );
  const gp = join(outDir, "remote.gp");
  Deno.writeTextFileSync(
    gp,
    [
      "set terminal pngcairo size 1300,550",
      "set output 'remote.png'",
      "set multiplot layout 1,2 title " +
      `'zvpg vs plain zfs send/receive: ${formatSize(run.snapshotBytes)} snapshot'`,
      "set style data histograms",
      "set style histogram clustered gap 1",
      "set style fill solid 0.8 border -1",
      "set yrange [0:*]",
      "set key below",
      "set title 'Whole transfer, median wall time'",
      "set ylabel 's'",
      "plot 'remote.dat' using 3:xtic(2) title 'zvpg (copy only: its runner)', '' using 4 title " +
      "'plain (shell redirect)', \\",
      "  '' using ($1-0.15):($3):(sprintf('x%.2f', $5)) with labels offset 0,1 notitle",
      "set title 'Incremental push of a 1 % update: bytes'",
      "set ylabel 'MiB'",
      "plot 'remote_bytes.dat' using 3:xtic(2) title 'zvpg sends', '' using 4 title " +
      "'zfs send -i', '' using 5 title 'ZFS written', \\",
      "  '' using ($1-0.25):($3):(sprintf('x%.2f', $6)) with labels offset 0,1 notitle",
      "unset multiplot",
    ].join("\n") + "\n",
  );
  await runner.run("gnuplot", ["-e", `cd '${outDir}'`, gp]);
}
