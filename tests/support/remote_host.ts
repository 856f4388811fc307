/**
 * A second host on this machine for tests of zvpg across hosts: a network namespace with
 * its own address (a veth pair to this one), running its own sshd (Debian's
 * openssh-server) that accepts one key, bound to a forced command. The namespace isolates
 * the network only: the host shares this machine's files, ZFS daemon and engines, and gets
 * its own pool, config and port range from the test that uses it.
 *
 * Only the addresses made here are ever a target: 10.213.0.0/16, one /30 per host.
 *
 * @module
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sh, type TestEnv } from "./itest.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A host in its own network namespace, reachable over ssh with one key. */
export interface RemoteHost {
  /** The network namespace's name (`ip netns`). */
  readonly netns: string;
  /** The host's address, as seen from this one. */
  readonly address: string;
  /** The private key that logs in (mode 0600, in a directory only root can read). */
  readonly keyFile: string;
  /** A known_hosts file holding exactly the host's key. */
  readonly knownHosts: string;
  /** The ssh options that log in to the host with its key and nothing else. */
  sshOptions(): string[];
  /** Stops sshd, removes the namespace with its veth pair, and removes the files. */
  close(): Promise<void>;
}

/** What {@link startRemoteHost} runs for the test's key. */
export interface RemoteHostOptions {
  /**
   * The forced command: the only thing the key may run, whatever the client asks
   * (sshd runs it through the user's shell, as an `authorized_keys` `command=` does).
   */
  forcedCommand: string;
  /** Environment the forced command sees (sshd's SetEnv): a config dir, a port range. */
  env?: Record<string, string>;
}

const SSHD = "/usr/sbin/sshd";

async function must(program: string, args: string[]): Promise<string> {
  const r = await sh(program, args);
  if (r.code !== 0) {
    throw new Error(`${program} ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** A /30 in 10.213.0.0/16 no other namespace on the machine uses; [host side, remote side]. */
async function freeSubnet(): Promise<[string, string]> {
  const used = await must("ip", ["-4", "-o", "addr", "show"]);
  for (let tries = 0; tries < 64; tries++) {
    const n = Math.floor(Math.random() * 16384);
    const third = Math.floor(n / 64);
    const fourth = (n % 64) * 4;
    const base = `10.213.${third}.`;
    if (!used.includes(`${base}${fourth + 1}/30`)) {
      return [`${base}${fourth + 1}`, `${base}${fourth + 2}`];
    }
  }
  throw new Error("no free /30 in 10.213.0.0/16 for a test host");
}

/** Whether `address:port` accepts a TCP connection within `ms`. */
async function listening(address: string, port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: address, port });
      conn.close();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

/**
 * Starts a host: namespace, veth pair, addresses, an sshd with its own host key that
 * accepts only a fresh client key, bound to `options.forcedCommand`. Throws (and removes
 * what it made) when any of it fails: a missing `ip` or `sshd` names the package.
 */
export async function startRemoteHost(options: RemoteHostOptions): Promise<RemoteHost> {
  for (const [program, pkg] of [[SSHD, "openssh-server"], ["/usr/sbin/ip", "iproute2"]]) {
    if (!existsSync(program)) {
      throw new Error(
        `${program} is missing: run 'bash scripts/setup_env.sh' (it installs ${pkg})`,
      );
    }
  }
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const netns = `zvpg-${id}`;
  const outer = `zv${id}a`;
  const inner = `zv${id}b`;
  const dir = mkdtempSync("/tmp/zvpg-host-");
  chmodSync(dir, 0o700);
  let sshd: Deno.ChildProcess | undefined;
  const cleanup = async () => {
    if (sshd) {
      try {
        sshd.kill("SIGTERM");
      } catch { /* already gone */ }
      await sshd.status;
    }
    await sh("ip", ["netns", "del", netns]);
    await sh("ip", ["link", "del", outer]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [hostSide, remoteSide] = await freeSubnet();
    await must("ip", ["netns", "add", netns]);
    await must("ip", ["link", "add", outer, "type", "veth", "peer", "name", inner]);
    await must("ip", ["link", "set", inner, "netns", netns]);
    await must("ip", ["addr", "add", `${hostSide}/30`, "dev", outer]);
    await must("ip", ["link", "set", outer, "up"]);
    const inNs = (args: string[]) => must("ip", ["netns", "exec", netns, ...args]);
    await inNs(["ip", "addr", "add", `${remoteSide}/30`, "dev", inner]);
    await inNs(["ip", "link", "set", inner, "up"]);
    await inNs(["ip", "link", "set", "lo", "up"]);

    const hostKey = join(dir, "host_key");
    const keyFile = join(dir, "client_key");
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey, "-C", netns]);
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile, "-C", "zvpg-test"]);
    const quoted = options.forcedCommand.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
    const authorized = join(dir, "authorized_keys");
    writeFileSync(
      authorized,
      `command="${quoted}",restrict ${readFileSync(`${keyFile}.pub`, "utf8").trim()}\n`,
      { mode: 0o600 },
    );
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(
      knownHosts,
      `${remoteSide} ${readFileSync(`${hostKey}.pub`, "utf8").trim()}\n`,
      { mode: 0o600 },
    );
    const config = join(dir, "sshd_config");
    writeFileSync(
      config,
      [
        `ListenAddress ${remoteSide}`,
        "Port 22",
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorized}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        "PermitRootLogin forced-commands-only",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "LogLevel VERBOSE",
        ...Object.entries(options.env ?? {}).map(([k, v]) => `SetEnv ${k}=${v}`),
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    await Deno.mkdir("/run/sshd", { recursive: true });
    sshd = new Deno.Command("ip", {
      args: ["netns", "exec", netns, SSHD, "-D", "-e", "-f", config],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    if (!(await listening(remoteSide, 22, 10_000))) {
      throw new Error(`sshd in ${netns} does not listen on ${remoteSide}:22`);
    }
    return {
      netns,
      address: remoteSide,
      keyFile,
      knownHosts,
      sshOptions: () => [
        "-i",
        keyFile,
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ConnectTimeout=5",
      ],
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * A host whose key runs only `zvpg serve --stdio --as <as>` on `env`'s pool (this
 * checkout's zvpg, run from the checkout as the tests run it). sshd hands the forced
 * command a clean environment in the home directory: it gets `env`'s config dir, and this
 * process's DENO_DIR when one is set (the OpenZFS guest keeps its module cache there, with
 * no registry to fetch from: without it, deno there downloads npm packages and fails).
 */
export function servingHost(env: TestEnv, as = "laptop"): Promise<RemoteHost> {
  const denoDir = Deno.env.get("DENO_DIR");
  const cache = denoDir ? `DENO_DIR='${denoDir}' ` : "";
  return startRemoteHost({
    forcedCommand: `cd '${ROOT}' && ${cache}exec '${Deno.execPath()}' run --allow-all '${
      join(ROOT, "main.ts")
    }' serve --stdio --as ${as}`,
    env: { ZVPG_CONFIG_DIR: env.configDir },
  });
}
