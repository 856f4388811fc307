/**
 * Stopping and starting the container engine the way a package upgrade or a reboot does,
 * for the tests that prove branches survive it. Only for tests declared
 * `itest(..., { disruptive: true })`: they run alone on the machine.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { sh } from "./itest.ts";

/** The pid and argv of the running `dockerd`, found in /proc. */
export function findDockerd(): { pid: number; argv: string[] } | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "dockerd") continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter((a) =>
        a !== ""
      );
      return { pid: Number(entry), argv };
    } catch {
      // the process went away
    }
  }
  return undefined;
}

async function waitFor(what: string, test: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} within ${ms} ms`);
}

/** Whether `docker info` answers. */
export async function dockerAnswers(): Promise<boolean> {
  return (await sh("timeout", ["10", "docker", "info", "--format", "{{.ServerVersion}}"]))
    .code === 0;
}

/** Stops dockerd (SIGTERM, as `systemctl stop docker` does); returns its argv. */
export async function stopDockerd(): Promise<string[]> {
  const daemon = findDockerd();
  if (!daemon) throw new Error("dockerd is not running");
  Deno.kill(daemon.pid, "SIGTERM");
  await waitFor("dockerd did not exit", () => Promise.resolve(findDockerd() === undefined), 60_000);
  return daemon.argv;
}

/** Starts dockerd with `argv` in its own session and waits until it answers. */
export async function startDockerd(argv: string[]): Promise<void> {
  // no pipes: the daemon outlives this call, and a pipe it held would never close
  const status = await new Deno.Command("setsid", {
    args: ["-f", ...argv],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn().status;
  if (!status.success) throw new Error(`could not start ${argv.join(" ")}`);
  await waitFor("dockerd did not answer", dockerAnswers, 60_000);
}

/**
 * Makes sure dockerd answers again: started with `argv` when the stopped one's is known,
 * else by scripts/setup_env.sh (engine only), as a fresh machine would start it.
 */
export async function restoreDockerd(argv?: string[]): Promise<void> {
  if (await dockerAnswers()) return;
  if (argv) return await startDockerd(argv);
  const setup = new URL("../../scripts/setup_env.sh", import.meta.url).pathname;
  const r = await sh("bash", [setup], {
    ...Deno.env.toObject(),
    ZVPG_SKIP_PODMAN: "1",
    ZVPG_SKIP_IMAGE: "1",
  });
  if (r.code !== 0 || !(await dockerAnswers())) {
    throw new Error(`could not start dockerd (exit ${r.code}): ${r.stderr}`);
  }
}
