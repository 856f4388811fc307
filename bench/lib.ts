/**
 * Helpers of the benchmark: running programs (argv arrays only, never a shell),
 * timing, statistics, sizes and progress output.
 *
 * @module
 */

/** The outcome of one program run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
}

/** Options of {@link run}. */
export interface RunOptions {
  env?: Record<string, string>;
  /** Kill the program after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** Do not throw when the exit code is not 0. */
  allowFailure?: boolean;
  /** Bytes written to the program's standard input. */
  stdin?: Uint8Array;
  cwd?: string;
}

/** A program that exited with a non-zero code (or was killed). */
export class RunError extends Error {
  constructor(readonly prog: string, readonly args: string[], readonly result: RunResult) {
    super(
      `${prog} ${args.join(" ")} exited with ${result.code}: ${
        (result.stderr || result.stdout).trim().split("\n").slice(-3).join(" | ")
      }`,
    );
  }
}

const decoder = new TextDecoder();

/** Runs `prog` with `args` and returns its output and wall time. */
export async function run(
  prog: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 600_000);
  const t0 = performance.now();
  try {
    const child = new Deno.Command(prog, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).spawn();
    if (options.stdin) {
      const writer = child.stdin.getWriter();
      await writer.write(options.stdin);
      await writer.close();
    }
    const out = await child.output();
    const result: RunResult = {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      ms: performance.now() - t0,
    };
    if (controller.signal.aborted) {
      result.stderr += `\n(killed after ${options.timeoutMs ?? 600_000} ms)`;
      if (result.code === 0) result.code = 124;
    }
    if (result.code !== 0 && !options.allowFailure) throw new RunError(prog, args, result);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `from` and pipes its standard output into `to` (like `a | b`, without a shell).
 * Returns the wall time of the whole pipeline; throws when either side fails.
 */
export async function pipe(
  from: { prog: string; args: string[] },
  to: { prog: string; args: string[] },
  timeoutMs = 1_800_000,
): Promise<number> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const t0 = performance.now();
  try {
    const a = new Deno.Command(from.prog, {
      args: from.args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).spawn();
    const b = new Deno.Command(to.prog, {
      args: to.args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).spawn();
    const piping = a.stdout.pipeTo(b.stdin);
    const [ra, rb] = await Promise.all([
      collect(a.stderr).then(async (err) => ({ status: await a.status, err })),
      Promise.all([collect(b.stdout), collect(b.stderr)]).then(async ([, err]) => ({
        status: await b.status,
        err,
      })),
    ]);
    await piping.catch(() => {});
    const ms = performance.now() - t0;
    if (!ra.status.success || !rb.status.success) {
      throw new Error(
        `pipeline failed: ${from.prog} ${
          from.args.join(" ")
        } -> ${ra.status.code} (${ra.err.trim()}); ` +
          `${to.prog} ${to.args.join(" ")} -> ${rb.status.code} (${rb.err.trim()})`,
      );
    }
    return ms;
  } finally {
    clearTimeout(timer);
  }
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  let total = 0;
  for (const c of chunks) total += c.length;
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return decoder.decode(all);
}

/** Summary statistics of a sample (milliseconds or bytes). */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p10: number;
  p90: number;
  mean: number;
}

/** The p-quantile (0..1) of sorted values, by linear interpolation. */
export function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, spread and mean of `values` (NaN fields when empty). */
export function summarize(values: number[]): Summary {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    median: quantile(sorted, 0.5),
    min: n ? sorted[0] : NaN,
    max: n ? sorted[n - 1] : NaN,
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : NaN,
  };
}

/** Parses `100MB`, `1GB`, `5GB`, `512M`, `20mb` into MiB. */
export function parseSizeMiB(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?\s*$/i.exec(text);
  if (!m) throw new Error(`invalid size '${text}': use e.g. 100MB, 1GB, 5GB`);
  const value = Number(m[1]);
  const unit = m[2].toUpperCase();
  const factor = unit === "K" ? 1 / 1024 : unit === "G" ? 1024 : unit === "T" ? 1024 * 1024 : 1;
  const mib = value * factor;
  if (!(mib >= 1)) throw new Error(`invalid size '${text}': must be at least 1MB`);
  return mib;
}

/** A short label of a size in MiB: `100MB`, `1GB`, `1.5GB`. */
export function sizeLabel(mib: number): string {
  if (mib >= 1024) return `${Number((mib / 1024).toFixed(2))}GB`;
  return `${Number(mib.toFixed(1))}MB`;
}

/** Bytes as a human-readable string. */
export function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "n/a";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : v < 10 ? 2 : 1)} ${units[i]}`;
}

/** Milliseconds as `123 ms` or `4.56 s`. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 100_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(0)} s`;
}

/** Parses docker's `24.5MiB / 23.4GiB` (the first half) into bytes. */
export function parseDockerBytes(text: string): number {
  const m = /^\s*([\d.]+)\s*([KMGT]?i?B)/i.exec(text);
  if (!m) return NaN;
  const unit = m[2].toUpperCase();
  const pow: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KIB: 1024,
    MIB: 1024 ** 2,
    GIB: 1024 ** 3,
    TIB: 1024 ** 4,
  };
  return Number(m[1]) * (pow[unit] ?? NaN);
}

/** Milliseconds since the benchmark started, for progress lines. */
const started = performance.now();

/** Prints a progress line on stderr. */
export function progress(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(5);
  console.error(`[bench ${s}s] ${message}`);
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
