/**
 * The scale benchmark's report (Markdown) and chart (gnuplot PNG).
 *
 * @module
 */
import { join } from "node:path";
import type { CommandRunner } from "../src/runtime/runner.ts";
import type { Figure, ScalePool } from "./scale.ts";
import { formatMs } from "./units.ts";

/** The ratio (large / small) the issue asks every operation to stay within. */
export const TARGET_RATIO = 1.2;

/** How many calls of each operation the profile lists (the most grown first). */
const PROFILE_ROWS = 4;

/** What the report says about the run besides the figures. */
export interface ScaleRun {
  small: ScalePool;
  large: ScalePool;
  runs: number;
  startedAt: Date;
}

/** The Markdown report: figures, then the calls whose cost differs most per operation. */
export function renderScaleMarkdown(figures: Figure[], run: ScaleRun): string {
  const { small, large } = run;
  const rows = figures.map((f) =>
    `| ${f.operation} | ${formatMs(f.smallMedian)} | ${formatMs(f.largeMedian)} | ${
      f.ratio.toFixed(2)
    } | ${f.ratio <= TARGET_RATIO ? "yes" : "**no**"} |`
  );
  const profile = figures.flatMap((f) =>
    f.calls.slice(0, PROFILE_ROWS).map((c) =>
      `| ${f.operation} | \`${c.call.replaceAll("|", "\\|")}\` | ${c.count} | ${c.args} | ${
        Math.round(c.small)
      } | ${Math.round(c.large)} | ${Math.round(c.large - c.small)} |`
    )
  );
  return [
    "# One-branch operations on a crowded pool",
    "",
    `Run ${run.startedAt.toISOString()} by \`deno run -A bench/scale.ts --runs ${run.runs}\` on ` +
    `${Deno.hostname()} (${navigator.hardwareConcurrency} cores, shared with other sessions; ` +
    `zfs-fuse, docker; load average at the end ${loadAverage()}).`,
    "CLI wall time of `deno run main.ts`, median of the runs. Both pools are measured in every",
    "round, in alternating order. Small pool: " +
    `${small.snapshots} snapshots, ${small.branches} branches; large pool: ${large.snapshots} ` +
    `snapshots, ${large.branches} branches (stopped; only main and the measured branch run).`,
    "",
    "| operation | small pool | large pool | ratio | within 20 % |",
    "|---|---:|---:|---:|---|",
    ...rows,
    "",
    "![CLI wall time per operation, small vs large pool](scale.png)",
    "",
    "## Samples (ms, in round order)",
    "",
    ...figures.map((f) =>
      `- ${f.operation}: small ${f.small.join(", ")}; large ${f.large.join(", ")}`
    ),
    "",
    "## Profile: the program calls that differ most",
    "",
    "Every program call of the operation, from the CLI's DEBUG log, summed per round (median",
    "of the rounds, ms); calls per round and arguments of the longest call, small / large.",
    "The rest of the wall time is Deno start-up and zvpg's own code.",
    "",
    "| operation | call | calls | arguments | small | large | large − small |",
    "|---|---|---:|---:|---:|---:|---:|",
    ...profile,
    "",
  ].join("\n");
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** Writes scale.dat, scale.gp and renders scale.png with gnuplot. */
export async function renderScaleChart(
  figures: Figure[],
  outDir: string,
  runner: CommandRunner,
): Promise<void> {
  const dat = join(outDir, "scale.dat");
  const gp = join(outDir, "scale.gp");
  Deno.writeTextFileSync(
    dat,
    figures.map((f, i) =>
      `${i} "${f.operation}" ${f.smallMedian.toFixed(1)} ${f.largeMedian.toFixed(1)} ${
        f.ratio.toFixed(2)
      }`
    ).join("\n") + "\n",
  );
  Deno.writeTextFileSync(
    gp,
    [
      "set terminal pngcairo size 900,500",
      "set output 'scale.png'",
      "set title 'CLI wall time, median: 5 snapshots + 2 branches vs 500 snapshots + 100 branches'",
      "set style data histograms",
      "set style histogram clustered gap 1",
      "set style fill solid 0.8 border -1",
      "set ylabel 'ms'",
      "set yrange [0:*]",
      "set key top left",
      "plot 'scale.dat' using 3:xtic(2) title 'small pool', '' using 4 title 'large pool', \\",
      "  '' using ($1+0.15):($4):(sprintf('x%.2f', $5)) with labels offset 0,1 notitle",
    ].join("\n") + "\n",
  );
  await runner.run("gnuplot", ["-e", `cd '${outDir}'`, gp]);
}
