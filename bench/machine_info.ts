/**
 * The machine a benchmark ran on: CPU, memory, kernel, ZFS flavour, engine, commit, load.
 *
 * @module
 */
import type { Context } from "../src/context.ts";
import { IMAGE, REPO } from "./bench_pool.ts";
import { formatSize } from "./units.ts";

function read(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** The load average now (`/proc/loadavg`). */
export function loadAverage(): string {
  return read("/proc/loadavg").trim();
}

/** Which ZFS serves the pools: the zfs-fuse daemon, or the kernel module's version. */
function zfsFlavor(): string {
  for (const entry of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(entry.name) && read(`/proc/${entry.name}/comm`).trim() === "zfs-fuse") {
      return "zfs-fuse";
    }
  }
  const version = read("/sys/module/zfs/version").trim();
  return version ? `OpenZFS kernel module ${version}` : "unknown";
}

/** The commit of the checkout measured, marked when src/ or main.ts has changes. */
async function commit(ctx: Context): Promise<string> {
  const git = (args: string[]) =>
    ctx.runner.run("git", ["-C", REPO, ...args], { allowFailure: true });
  const head = (await git(["rev-parse", "--short", "HEAD"])).stdout.trim();
  const dirty = (await git(["status", "--porcelain", "--", "src", "main.ts"])).stdout.trim();
  return head + (dirty !== "" ? " + uncommitted changes" : "");
}

/** Everything the report says about the machine, read at the start. */
export async function machineInfo(ctx: Context): Promise<Record<string, unknown>> {
  const cpuinfo = read("/proc/cpuinfo");
  const memBytes = Number(/^MemTotal:\s*(\d+)/m.exec(read("/proc/meminfo"))?.[1] ?? NaN) * 1024;
  const others = await ctx.runner.run(ctx.runtime.program, ["ps", "-q"], { allowFailure: true });
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    cores: (cpuinfo.match(/^processor\s*:/gm) ?? []).length || navigator.hardwareConcurrency,
    ramBytes: memBytes,
    ram: formatSize(memBytes),
    kernel: Deno.osRelease(),
    os: read("/etc/os-release").match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? "unknown",
    zfs: zfsFlavor(),
    docker: await ctx.runtime.version().catch(() => "unknown"),
    deno: Deno.version.deno,
    image: IMAGE,
    zvpgCommit: await commit(ctx),
    loadAvgAtStart: loadAverage(),
    runningContainersAtStart: others.stdout.split("\n").filter((s) => s.trim() !== "").length,
  };
}
