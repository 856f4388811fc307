/**
 * The import benchmark's report (Markdown) and chart (gnuplot PNG): medians per method,
 * the ratios, and zvpg's time by phase.
 *
 * @module
 */
import { join } from "node:path";
import { sh } from "../tests/support/itest.ts";
import type { Method, Sample } from "./import_bench.ts";
import { formatMs, formatSize } from "./units.ts";

/** What the report says about the run besides the samples. */
export interface ImportRunInfo {
  startedAt: string;
  host: string;
  cores: number;
  loadAverageAtEnd: string;
  image: string;
  size: string;
  tables: number;
  rowsPerTable: number;
  sourceBytes: number;
  runs: number;
  jobs: number;
}

/** One color per stacked column (gnuplot's default cycle repeats after eight). */
const COLORS = [
  "#7f7f7f",
  "#1f77b4",
  "#aec7e8",
  "#ff7f0e",
  "#ffbb78",
  "#2ca02c",
  "#98df8a",
  "#d62728",
  "#ff9896",
  "#9467bd",
  "#c5b0d5",
  "#8c564b",
  "#e377c2",
  "#bcbd22",
  "#17becf",
];

const LABELS: Record<Method, (jobs: number) => string> = {
  zvpg: (j) => `zvpg init env --from <uri> --jobs ${j}`,
  plain: () => "plain pg_dump -Fc | pg_restore (1 job)",
  "plain-j": (j) => `plain pg_dump -Fd -j ${j} + pg_restore -j ${j}`,
};

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median wall time per method. */
export function methodMedians(samples: Sample[]): Record<Method, number> {
  const of = (m: Method) => median(samples.filter((s) => s.method === m).map((s) => s.ms));
  return { zvpg: of("zvpg"), plain: of("plain"), "plain-j": of("plain-j") };
}

/** Median of each phase of zvpg's runs, in the order they happen. */
export function phaseMedians(samples: Sample[]): [string, number][] {
  const runs = samples.filter((s) => s.method === "zvpg");
  const names = [...new Set(runs.flatMap((s) => Object.keys(s.phases)))];
  return names.map((n) => [n, median(runs.map((s) => s.phases[n] ?? 0))]);
}

export function renderImportMarkdown(info: ImportRunInfo, samples: Sample[]): string {
  const med = methodMedians(samples);
  const rows = (Object.keys(LABELS) as Method[]).map((m) =>
    `| ${LABELS[m](info.jobs).replaceAll("|", "\\|")} | ${formatMs(med[m])} | ${
      (med.zvpg / med[m]).toFixed(2)
    } | ${samples.filter((s) => s.method === m).map((s) => (s.ms / 1000).toFixed(1)).join(", ")} |`
  );
  const phases = phaseMedians(samples);
  return [
    "# Import: zvpg init env --from vs plain pg_dump | pg_restore",
    "",
    `Run ${info.startedAt} by \`deno run -A bench/import_bench.ts --size ${info.size} --tables ${info.tables} --runs ${info.runs} --jobs ${info.jobs}\``,
    `on ${info.host} (${info.cores} cores, shared with other sessions; load average at the end ` +
    `${info.loadAverageAtEnd}), image ${info.image}.`,
    `Source: a server zvpg does not manage, database \`app\` of ${
      formatSize(info.sourceBytes)
    } (pg_database_size): ` +
    `${info.tables} tables × ${info.rowsPerTable} rows, each with a primary key and two indexes.`,
    "Plain methods restore into a fresh server (initdb defaults) whose data directory is on a ZFS",
    "dataset of the same kind of pool zvpg uses; their time is the dump and restore only (the",
    "server already runs). zvpg's time is the whole CLI run: pool and datasets, preflight,",
    "initdb, the loader server, dump and restore, main's start and the `import-…` snapshot.",
    "Methods alternate round by round; figures are medians.",
    "",
    "| method | median | zvpg ÷ method | samples (s, round order) |",
    "|---|---:|---:|---|",
    ...rows,
    "",
    "![import time by method; zvpg by phase](import.png)",
    "",
    "## Where zvpg's time goes (median per phase)",
    "",
    "From the `import phase:` lines of the CLI's log file (each phase lasts until the next).",
    "The dumps start right after the preflight and run while initdb and the loader start;",
    "`wait for dump` is what is left of the dump after that.",
    "",
    "| phase | median |",
    "|---|---:|",
    ...phases.map(([n, ms]) => `| ${n} | ${formatMs(ms)} |`),
    "",
  ].join("\n");
}

/** Writes import.dat and import.gp and renders import.png (stacked bars per method). */
export async function renderImportChart(
  info: ImportRunInfo,
  samples: Sample[],
  outDir: string,
): Promise<void> {
  const med = methodMedians(samples);
  const phases = phaseMedians(samples);
  const columns = ["total", ...phases.map(([n]) => n)];
  const quote = (s: string) => `"${s.replaceAll('"', "'")}"`;
  const line = (label: string, values: number[]) =>
    [quote(label), ...values.map((v) => (v / 1000).toFixed(2))].join(" ");
  const dat = [
    ["method", ...columns].map(quote).join(" "),
    line("zvpg", [0, ...phases.map(([, ms]) => ms)]),
    line(`plain -Fc | restore`, [med.plain, ...phases.map(() => 0)]),
    line(`plain -j${info.jobs}`, [med["plain-j"], ...phases.map(() => 0)]),
  ].join("\n") + "\n";
  Deno.writeTextFileSync(join(outDir, "import.dat"), dat);
  Deno.writeTextFileSync(
    join(outDir, "import.gp"),
    [
      "set terminal pngcairo size 1000,550",
      "set output 'import.png'",
      `set title 'Import of ${
        formatSize(info.sourceBytes)
      } (${info.tables} tables): median wall time'`,
      "set style data histograms",
      "set style histogram rowstacked",
      "set style fill solid 0.85 border -1",
      "set boxwidth 0.6",
      "set ylabel 's'",
      "set yrange [0:*]",
      "set key outside right top",
      `colors = '${COLORS.join(" ")}'`,
      `plot for [c=2:${
        columns.length + 1
      }] 'import.dat' using c:xtic(1) title columnheader(c) lc rgb word(colors, (c - 2) % words(colors) + 1)`,
    ].join("\n") + "\n",
  );
  const r = await sh("gnuplot", ["-e", `cd '${outDir}'`, join(outDir, "import.gp")]);
  if (r.code !== 0) throw new Error(`gnuplot failed: ${r.stderr}`);
}
