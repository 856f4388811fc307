/**
 * The memory of a running container, per the engine's `stats`.
 *
 * @module
 */
import type { Context } from "../../src/context.ts";

/** `stats --no-stream` MemUsage of `container`, as printed and in bytes. */
export async function containerMemory(
  ctx: Context,
  container: string,
): Promise<{ text: string; bytes: number }> {
  const r = await ctx.runner.run(ctx.runtime.program, [
    "stats",
    "--no-stream",
    "--format",
    "{{.MemUsage}}",
    container,
  ], { timeoutMs: 60_000 });
  const text = r.stdout.trim();
  return { text, bytes: parseEngineBytes(text) };
}

/** Parses the engine's `24.5MiB / 23.4GiB` (the first half) into bytes. */
export function parseEngineBytes(text: string): number {
  const m = /^\s*([\d.]+)\s*([KMGT]?i?B)/i.exec(text);
  if (!m) return NaN;
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
  return Number(m[1]) * (pow[m[2].toUpperCase()] ?? NaN);
}
