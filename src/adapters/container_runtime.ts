/**
 * Container runtimes behind one interface. Docker, Podman and nerdctl share most of
 * their command line; they differ in how `ps` prints JSON and how versions are read.
 *
 * @module
 */
import { CommandFailedError, RuntimeUnreachableError, tail } from "../errors.ts";
import type { RUNTIMES } from "../config/schema.ts";
import type { CommandRunner, RunOptions, RunResult } from "../runtime/runner.ts";

/** A container as listed by the runtime. */
export interface ContainerInfo {
  id: string;
  name: string;
  /** `running`, `exited`, `created`, `restarting`, `paused`, `dead`... */
  state: string;
  labels: Record<string, string>;
}

/** A container's state and the exit code of its last run. */
export interface ContainerState {
  state: string;
  exitCode: number | undefined;
}

/** A bind mount from the host into a container. */
export interface Mount {
  source: string;
  target: string;
  readonly?: boolean;
}

/** What to run. */
export interface ContainerSpec {
  image: string;
  name?: string;
  labels?: Record<string, string>;
  /** `uid:gid` to run as. */
  user?: string;
  mounts?: Mount[];
  /** Host address and port published to `containerPort`. */
  publish?: { hostAddress: string; hostPort: number; containerPort: number };
  entrypoint?: string;
  args?: string[];
  stopSignal?: string;
  env?: Record<string, string>;
  /** Shared memory size, e.g. `256m` (PostgreSQL's default 64m is tight). */
  shmSize?: string;
  /**
   * Restart policy, e.g. `unless-stopped`: the engine brings the container back after it
   * or the host restarts. zvpg removes a branch's container when it stops the branch, so
   * a container exists exactly while its branch is recorded running.
   */
  restart?: string;
  /** Network mode, e.g. `host` (clients that reach a server the host can reach) or `none`. */
  network?: string;
}

/** How {@link ContainerRuntime.exec} runs its program. */
export interface ExecRunOptions {
  /** Failures that are an answer, not an error (see {@link RunOptions.tolerate}). */
  tolerate?: RunOptions["tolerate"];
  /** Kill the program after this many milliseconds (default 2 minutes). */
  timeoutMs?: number;
  /** Written to the program's standard input (`exec -i`), then closed. */
  stdin?: string;
}

/** The one interface services use for containers. */
export interface ContainerRuntime {
  readonly program: string;
  readonly flavor: typeof RUNTIMES[number];
  /** The engine's server version; throws when the engine is not reachable. */
  version(): Promise<string>;
  imageExists(image: string): Promise<boolean>;
  pullImage(image: string, timeoutMs: number): Promise<void>;
  /**
   * Runs a container to completion and returns its output (never throws on exit code).
   * Images are never pulled implicitly (`--pull=never`): a missing image fails at once.
   */
  runToCompletion(
    spec: ContainerSpec,
    timeoutMs?: number,
    onStderr?: RunOptions["onStderr"],
  ): Promise<RunResult>;
  /** Starts a container in the background; returns its id. */
  runDetached(spec: ContainerSpec): Promise<string>;
  stop(name: string, timeoutSeconds: number): Promise<void>;
  /** Removes a container (forcefully); succeeds when it is already gone. */
  remove(name: string): Promise<void>;
  /** Containers, running or not, that carry all of `labels`. */
  list(labels: Record<string, string>): Promise<ContainerInfo[]>;
  /**
   * The container's state and the exit code of its last run, read together: under a
   * restart policy the engine may start it again right after, which resets the code.
   */
  inspectState(name: string): Promise<ContainerState | undefined>;
  logs(name: string, tailLines: number): Promise<string>;
  /**
   * Runs `argv` in a running container; throws when it fails (unless `tolerate` says so)
   * or outlives `timeoutMs` (default 2 minutes). `stdin` is written to the program's
   * standard input: what must not be seen in a process list (SQL naming a password
   * verifier) goes there, never into `argv`.
   */
  exec(
    name: string,
    user: string | undefined,
    argv: string[],
    options?: ExecRunOptions,
  ): Promise<RunResult>;
  /**
   * Runs `argv` in a running container attached to zvpg's stdin, stdout and stderr (a
   * pseudo-terminal with `tty`); returns its exit code.
   */
  execInteractive(
    name: string,
    user: string | undefined,
    argv: string[],
    options: { tty: boolean },
  ): Promise<number>;
}

/** The docker-compatible command line shared by all three runtimes. */
export class CliContainerRuntime implements ContainerRuntime {
  protected readonly runner: CommandRunner;

  constructor(
    runner: CommandRunner,
    readonly program: string,
    readonly flavor: typeof RUNTIMES[number],
  ) {
    this.runner = engineRunner(runner, program);
  }

  async version(): Promise<string> {
    const result = await this.runner.run(
      this.program,
      ["version", "--format", "{{.Server.Version}}"],
      { timeoutMs: 20_000 },
    );
    return result.stdout.trim();
  }

  async imageExists(image: string): Promise<boolean> {
    const result = await this.runner.run(this.program, ["image", "inspect", image], {
      allowFailure: true,
    });
    return result.code === 0;
  }

  async pullImage(image: string, timeoutMs: number): Promise<void> {
    await this.runner.run(this.program, ["pull", image], { timeoutMs });
  }

  runToCompletion(
    spec: ContainerSpec,
    timeoutMs?: number,
    onStderr?: RunOptions["onStderr"],
  ): Promise<RunResult> {
    return this.runner.run(this.program, ["run", "--rm", "--pull=never", ...this.specArgs(spec)], {
      allowFailure: true,
      timeoutMs,
      onStderr,
    });
  }

  async runDetached(spec: ContainerSpec): Promise<string> {
    const result = await this.runner.run(this.program, [
      "run",
      "-d",
      "--pull=never",
      ...this.specArgs(spec),
    ]);
    return result.stdout.trim().split("\n").pop() ?? "";
  }

  /** The argv after `run [-d|--rm]`: options, image, arguments. */
  specArgs(spec: ContainerSpec): string[] {
    const args: string[] = [];
    if (spec.name) args.push("--name", spec.name);
    for (const [key, value] of Object.entries(spec.labels ?? {})) {
      args.push("--label", `${key}=${value}`);
    }
    if (spec.user) args.push("--user", spec.user);
    // --mount, not -v: a missing source is an error, never an empty directory the engine
    // creates (after a reboot, on the mountpoint of a dataset not mounted yet)
    for (const m of spec.mounts ?? []) {
      args.push(
        "--mount",
        `type=bind,source=${m.source},target=${m.target}${m.readonly ? ",readonly=true" : ""}`,
      );
    }
    if (spec.publish) {
      const host =
        spec.publish.hostAddress.includes(":") && !spec.publish.hostAddress.startsWith("[")
          ? `[${spec.publish.hostAddress}]`
          : spec.publish.hostAddress;
      args.push("-p", `${host}:${spec.publish.hostPort}:${spec.publish.containerPort}`);
    }
    for (const [key, value] of Object.entries(spec.env ?? {})) args.push("-e", `${key}=${value}`);
    if (spec.stopSignal) args.push("--stop-signal", spec.stopSignal);
    if (spec.restart) args.push("--restart", spec.restart);
    if (spec.shmSize) args.push("--shm-size", spec.shmSize);
    if (spec.network) args.push("--network", spec.network);
    if (spec.entrypoint !== undefined) args.push("--entrypoint", spec.entrypoint);
    args.push(spec.image, ...(spec.args ?? []));
    return args;
  }

  async stop(name: string, timeoutSeconds: number): Promise<void> {
    await this.runner.run(
      this.program,
      ["stop", "-t", String(timeoutSeconds), name],
      { tolerate: noSuchContainer, timeoutMs: (timeoutSeconds + 30) * 1000 },
    );
  }

  async remove(name: string): Promise<void> {
    await this.runner.run(this.program, ["rm", "-f", "-v", name], { tolerate: noSuchContainer });
  }

  /** The `ps --format` value that prints JSON (see {@link parsePsJson}). */
  protected readonly psFormat: string = "{{json .}}";

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const filters = Object.entries(labels).flatMap(([k, v]) => ["--filter", `label=${k}=${v}`]);
    const result = await this.runner.run(this.program, [
      "ps",
      "-a",
      "--no-trunc",
      ...filters,
      "--format",
      this.psFormat,
    ]);
    return parsePsJson(result.stdout);
  }

  async inspectState(name: string): Promise<ContainerState | undefined> {
    const result = await this.runner.run(
      this.program,
      ["inspect", "--type", "container", "--format", "{{.State.Status}} {{.State.ExitCode}}", name],
      { tolerate: noSuchContainer },
    );
    if (result.code !== 0) return undefined;
    const [state, code] = result.stdout.trim().split(" ");
    const exitCode = Number(code);
    return {
      state: state ?? "",
      exitCode: code !== undefined && Number.isInteger(exitCode) ? exitCode : undefined,
    };
  }

  async logs(name: string, tailLines: number): Promise<string> {
    const result = await this.runner.run(
      this.program,
      ["logs", "--tail", String(tailLines), name],
      { allowFailure: true },
    );
    return (result.stdout + result.stderr).trim();
  }

  exec(
    name: string,
    user: string | undefined,
    argv: string[],
    options: ExecRunOptions = {},
  ): Promise<RunResult> {
    const { tolerate, timeoutMs = 120_000, stdin } = options;
    return this.runner.run(
      this.program,
      [
        "exec",
        ...(stdin === undefined ? [] : ["-i"]),
        ...(user ? ["--user", user] : []),
        name,
        ...argv,
      ],
      { tolerate, timeoutMs, ...(stdin === undefined ? {} : { stdin }) },
    );
  }

  async execInteractive(
    name: string,
    user: string | undefined,
    argv: string[],
    options: { tty: boolean },
  ): Promise<number> {
    const result = await this.runner.run(
      this.program,
      [
        "exec",
        "-i",
        ...(options.tty ? ["-t"] : []),
        ...(user ? ["--user", user] : []),
        name,
        ...argv,
      ],
      { interactive: true },
    );
    return result.code;
  }
}

/** Podman: `ps --format json` prints one JSON array (names as an array, labels as an object). */
export class PodmanRuntime extends CliContainerRuntime {
  protected override readonly psFormat = "json";
}

/**
 * nerdctl: `version` has no `Server.Version` (its server part lists components), so the
 * version is read from its JSON: containerd's version, else the client's.
 */
export class NerdctlRuntime extends CliContainerRuntime {
  override async version(): Promise<string> {
    const result = await this.runner.run(this.program, ["version", "--format", "{{json .}}"], {
      timeoutMs: 20_000,
    });
    return parseNerdctlVersion(result.stdout);
  }
}

/** The version in `nerdctl version --format '{{json .}}'` output. */
export function parseNerdctlVersion(stdout: string): string {
  const info = JSON.parse(stdout) as {
    Client?: { Version?: string };
    Server?: { Components?: { Name?: string; Version?: string }[] };
  };
  const containerd = info.Server?.Components?.find((c) => /containerd/i.test(c.Name ?? ""));
  if (containerd?.Version) {
    return `${info.Client?.Version ?? "?"} (containerd ${containerd.Version})`;
  }
  if (!info.Server) throw new Error("nerdctl cannot reach containerd");
  return info.Client?.Version ?? "unknown";
}

/** Builds the runtime adapter for a configured runtime name or path. */
export function createRuntime(
  runner: CommandRunner,
  program: string,
  flavor: typeof RUNTIMES[number],
): ContainerRuntime {
  if (flavor === "podman") return new PodmanRuntime(runner, program, flavor);
  if (flavor === "nerdctl") return new NerdctlRuntime(runner, program, flavor);
  return new CliContainerRuntime(runner, program, flavor);
}

/** What the engines' CLIs say when their engine (daemon, socket) does not answer. */
const UNREACHABLE =
  /cannot connect to the docker daemon|is the docker daemon running|cannot connect to podman|unable to connect to podman|cannot access containerd socket|failed to dial .*containerd/i;

/**
 * Every call to an engine's CLI goes through this: when the engine does not answer, any
 * command fails with the one {@link RuntimeUnreachableError}, never with the raw output of
 * whichever call noticed first.
 */
function engineRunner(runner: CommandRunner, program: string): CommandRunner {
  const unreachable = (stderr: string) =>
    new RuntimeUnreachableError(
      `container runtime '${program}' is not reachable: ${tail(stderr, 160)}`,
      {
        hint:
          "start its engine (e.g. 'systemctl start docker' or 'dockerd'), or set containerRuntime in config.json",
      },
    );
  return {
    async run(prog, args, options) {
      let result: RunResult;
      try {
        result = await runner.run(prog, args, options);
      } catch (error) {
        if (error instanceof CommandFailedError && UNREACHABLE.test(error.stderr)) {
          throw unreachable(error.stderr);
        }
        throw error;
      }
      if (result.code !== 0 && UNREACHABLE.test(result.stderr)) throw unreachable(result.stderr);
      return result;
    },
  };
}

/** Whether a runtime's stderr says the container does not exist. */
export function isNoSuchContainer(stderr: string): boolean {
  return /no such container|no such object|not found|no container with name or id/i.test(stderr);
}

/** Tolerates the failure of a command on a container that does not exist. */
function noSuchContainer(result: RunResult): boolean {
  return isNoSuchContainer(result.stderr);
}

/**
 * Parses `ps` JSON output: docker and nerdctl print one object per line with `Labels` as
 * `k=v,k=v`; podman prints an array with `Labels` as an object and `Names` as an array.
 */
export function parsePsJson(stdout: string): ContainerInfo[] {
  const text = stdout.trim();
  if (text === "") return [];
  const records: Record<string, unknown>[] = text.startsWith("[")
    ? JSON.parse(text) ?? []
    : text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  return records.map((r) => ({
    id: String(r.ID ?? r.Id ?? r.id ?? ""),
    name: Array.isArray(r.Names) ? String(r.Names[0] ?? "") : String(r.Names ?? r.Name ?? ""),
    state: String(r.State ?? r.state ?? parseStatus(String(r.Status ?? ""))).toLowerCase(),
    labels: parseLabels(r.Labels),
  }));
}

function parseStatus(status: string): string {
  if (/^up/i.test(status)) return "running";
  if (/^exited/i.test(status)) return "exited";
  if (/^created/i.test(status)) return "created";
  return status.toLowerCase();
}

function parseLabels(labels: unknown): Record<string, string> {
  if (labels && typeof labels === "object") {
    return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
  }
  if (typeof labels !== "string" || labels === "") return {};
  const out: Record<string, string> = {};
  for (const pair of labels.split(",")) {
    const eq = pair.indexOf("=");
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
