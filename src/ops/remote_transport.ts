/**
 * The ssh side of remotes: runs `zvpg serve --stdio` on the remote host through the user's
 * own ssh (their keys, agent and `~/.ssh/config`, plus `sshOptions` from the config), one
 * request per connection. The remote command is fixed words, never built from input: ssh
 * hands the remote shell `zvpg serve --stdio`, and a key bound to it runs only that.
 *
 * @module
 */
import type { Context } from "../context.ts";
import { ZvpgError } from "../errors.ts";
import type { Remote, RemoteUrl } from "../domain/remote.ts";
import { printable } from "../domain/names.ts";
import type { z } from "zod";
import {
  AnswerSchemas,
  encodeRequest,
  MAX_REQUEST_BYTES,
  PROTOCOL_VERSION,
  type Request,
} from "../domain/remote_protocol.ts";
import {
  pipe,
  pipeFailure,
  type PipeOptions,
  type PipeOutcome,
  prefixed,
  splitFirstLine,
} from "../runtime/pipe.ts";
import {
  drain,
  joinDirectly,
  joinPrograms,
  type OsPipe,
  PipeEnd,
  readLineExactly,
  writeAllTo,
} from "../runtime/os_pipe.ts";
import type { CommandRunner, RunResult } from "../runtime/runner.ts";

/** What ssh runs on the remote host (a forced command there runs in its place). */
export const SERVE_COMMAND = ["zvpg", "serve", "--stdio"] as const;

/** ssh's exit code when it could not connect or log in (anything else is the command's). */
const SSH_FAILED = 255;

/** The ssh argv that runs {@link SERVE_COMMAND} on `url`'s host. */
export function sshArgv(
  url: Extract<RemoteUrl, { kind: "ssh" }>,
  sshOptions: readonly string[],
): string[] {
  return [
    // a key or nothing: never a password prompt a script would hang on
    ...["-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-e", "none", "-T"],
    ...sshOptions,
    ...(url.port === null ? [] : ["-p", String(url.port)]),
    ...(url.user === null ? [] : ["-l", url.user]),
    "--",
    url.host,
    ...SERVE_COMMAND,
  ];
}

/** The ssh command a user types to log in to `url`'s host. */
function sshLogin(url: Extract<RemoteUrl, { kind: "ssh" }>): string {
  const port = url.port === null ? "" : `-p ${url.port} `;
  const user = url.user === null ? "" : `${url.user}@`;
  return `ssh ${port}${user}${url.host}`;
}

/** An ssh remote. */
export type SshRemote = Remote & { url: Extract<RemoteUrl, { kind: "ssh" }> };

/** The remote `remote` when it is an ssh one, else undefined. */
export function sshRemote(remote: Remote): SshRemote | undefined {
  return remote.url.kind === "ssh" ? { ...remote, url: remote.url } : undefined;
}

/** How long a request without a stream may take. */
const ASK_TIMEOUT_MS = 120_000;

/**
 * Sends `request` to an ssh remote's `zvpg serve --stdio` and returns its answer, as
 * `schema` (one of {@link AnswerSchemas}) reads it. Throws, naming the remote, when ssh
 * cannot reach it, when it does not answer as zvpg (or as this protocol version), and
 * when it refuses (with its hint).
 */
export async function askRemote<S extends z.ZodType>(
  ctx: Context,
  remote: SshRemote,
  request: Request,
  schema: S,
): Promise<z.infer<S>> {
  const answer = boundedLine(MAX_ANSWER_BYTES);
  const result = await ctx.runner.run("ssh", sshArgv(remote.url, ctx.config.sshOptions), {
    stdin: encodeRequest(request),
    stdoutStream: answer.sink,
    tolerate: () => true,
    timeoutMs: ASK_TIMEOUT_MS,
  });
  if (answer.overflowed()) {
    throw new ZvpgError(
      `remote '${remote.name}' answered ${request.op} with more than ${
        MAX_ANSWER_BYTES / 1048576
      } MiB before its end of line`,
      { hint: "the other side is not the zvpg it claims: check what its key runs" },
    );
  }
  return readAnswer(remote, request.op, result, answer.line(), schema);
}

/** The longest answer line a client reads (a list of many thousand refs fits). */
export const MAX_ANSWER_BYTES = 64 * 1048576;

/**
 * A sink that keeps the first line written to it, at most `max` bytes: past that it fails,
 * which closes the writer's stdout (a server that never ends its line cannot fill memory).
 */
export function boundedLine(max: number): {
  sink: WritableStream<Uint8Array>;
  line: () => string;
  overflowed: () => boolean;
} {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  let overflow = false;
  const sink = new WritableStream<Uint8Array>({
    write(chunk) {
      if (done) return;
      const newline = chunk.indexOf(0x0a);
      const part = newline === -1 ? chunk : chunk.subarray(0, newline);
      size += part.length;
      if (size > max) {
        overflow = true;
        throw new Error("answer too long");
      }
      chunks.push(part.slice());
      if (newline !== -1) done = true;
    },
  });
  const line = () => {
    const all = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder().decode(all);
  };
  return { sink, line, overflowed: () => overflow };
}

/**
 * Sends `request` followed by the stream `produce` writes to an ssh remote (a push: the
 * server receives it), and returns the server's answer once it has received all of it.
 * `produce` gets an OS pipe's write end to hand its program (`zfs send`), so the stream
 * goes to ssh without passing through zvpg; a stream with a runner that has no OS pipes.
 */
export async function streamToRemote<S extends z.ZodType>(
  ctx: Context,
  remote: SshRemote,
  request: Request,
  produce: (out: WritableStream<Uint8Array> | PipeEnd, signal: AbortSignal) => Promise<void>,
  schema: S,
  options: PipeOptions = {},
): Promise<{ answer: z.infer<S>; bytes: number }> {
  const line = new TextEncoder().encode(encodeRequest(request));
  const argv = sshArgv(remote.url, ctx.config.sshOptions);
  const runner = ctx.runner;
  let outcome: PipeOutcome<void, RunResult>;
  let bytes: number;
  if (hasOsPipe(runner)) {
    outcome = await joinPrograms(
      runner,
      async (out, signal) => {
        await writeAllTo(out, line);
        await produce(out, signal);
      },
      (input, signal) => runner.run("ssh", argv, { stdinEnd: input, tolerate: () => true, signal }),
      (n) => options.onBytes?.(Math.max(0, n - line.length)),
    );
    bytes = Math.max(0, outcome.bytes - line.length);
  } else {
    outcome = await pipe(
      produce,
      (input, signal) =>
        runner.run("ssh", argv, {
          stdinStream: prefixed(line, input),
          tolerate: () => true,
          signal,
        }),
      options,
    );
    bytes = outcome.bytes;
  }
  // the server's answer says what happened to the stream, whatever the sender saw; and when
  // ssh could not reach the server (or lost it), ssh's own words say more than the sender's
  // broken pipe
  if (outcome.consumer.status === "fulfilled") {
    const result = outcome.consumer.value;
    const first = result.stdout.split("\n")[0] ?? "";
    if (first !== "" || outcome.producer.status === "fulfilled" || result.code === SSH_FAILED) {
      const answer = readAnswer(remote, request.op, result, first, schema);
      return { answer, bytes };
    }
  }
  throw pipeFailure(outcome);
}

/** Whether `runner` joins programs with OS pipes (the real one does, the fake one not). */
function hasOsPipe(runner: CommandRunner): runner is CommandRunner & {
  osPipe(): Promise<OsPipe>;
} {
  return typeof runner.osPipe === "function";
}

/**
 * Sends `request` to an ssh remote whose answer line is followed by a stream (a pull: the
 * server sends it); `consume` gets the answer (as `schema` reads it) and the stream after
 * it. Returns what `consume` returned and the stream's bytes. With OS pipes ssh's stdout
 * is the pipe `consume` reads, nothing copies it on the way: `consume` passes the program
 * that copies the stream on (the receive's dd) its `counted`, which counts the bytes.
 */
export async function streamFromRemote<S extends z.ZodType, T>(
  ctx: Context,
  remote: SshRemote,
  request: Request & { op: "send" },
  schema: S,
  consume: (
    answer: z.infer<S>,
    stream: ReadableStream<Uint8Array> | PipeEnd,
    signal: AbortSignal,
    counted: (total: number) => void,
  ) => Promise<T>,
  options: PipeOptions = {},
): Promise<{ value: T; bytes: number }> {
  let headerBytes = 0;
  let consumed = 0;
  const counted = (n: number) => {
    consumed = Math.max(consumed, n);
    options.onBytes?.(consumed);
  };
  const runner = ctx.runner;
  const argv = sshArgv(remote.url, ctx.config.sshOptions);
  const ssh = (
    signal: AbortSignal,
    out: { stdoutEnd: PipeEnd } | {
      stdoutStream: WritableStream<Uint8Array>;
    },
  ) =>
    runner.run("ssh", argv, {
      stdin: encodeRequest(request),
      ...out,
      tolerate: () => true,
      signal,
    });
  const accept = async (
    line: string | null,
    rest: ReadableStream<Uint8Array> | PipeEnd,
    signal: AbortSignal,
  ): Promise<{ line: string | null; value?: T }> => {
    headerBytes = line === null ? 0 : new TextEncoder().encode(line).length + 1;
    const answer = line === null ? undefined : acceptedAnswer(line, schema);
    if (answer === undefined) {
      // no answer to go on with: readAnswer names why, once ssh has exited
      if (rest instanceof PipeEnd) await drain(rest).catch(() => {});
      else await rest.cancel().catch(() => {});
      return { line };
    }
    return { line, value: await consume(answer, rest, signal, counted) };
  };
  const progress = (n: number) => options.onBytes?.(Math.max(0, n - headerBytes));
  const direct = hasOsPipe(runner);
  const outcome = direct
    ? await joinDirectly(
      runner,
      (out, signal) => ssh(signal, { stdoutEnd: out }),
      async (input, signal) =>
        await accept(await readLineExactly(input, MAX_REQUEST_BYTES), input, signal),
    )
    : await pipe(
      (out, signal) => ssh(signal, { stdoutStream: out }),
      async (input, signal) => {
        const { line, rest } = await splitFirstLine(input, MAX_REQUEST_BYTES);
        return await accept(line, rest, signal);
      },
      { onBytes: progress },
    );
  const { producer, consumer } = outcome;
  if (consumer.status === "fulfilled" && "value" in consumer.value) {
    const bytes = direct ? consumed : Math.max(0, outcome.bytes - headerBytes);
    return { value: consumer.value.value as T, bytes };
  }
  if (consumer.status === "fulfilled" && producer.status === "fulfilled") {
    readAnswer(remote, request.op, producer.value, consumer.value.line ?? "", schema);
    throw new Error("streamFromRemote: an answer readAnswer accepted was not accepted");
  }
  throw pipeFailure(outcome);
}

/** `line` as `schema` reads it, when it is such an answer; else undefined. */
function acceptedAnswer<S extends z.ZodType>(line: string, schema: S): z.infer<S> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the answer line `line` of a call to `remote` that exited with `result`: the
 * answer, as `schema` reads it; or an error naming the remote, when ssh could not reach it
 * (exit 255), the line is not a zvpg answer (or of another protocol version), or the
 * server refused (with its hint).
 */
export function readAnswer<S extends z.ZodType>(
  remote: SshRemote,
  op: Request["op"],
  result: { code: number; stderr: string },
  line: string,
  schema: S,
): z.infer<S> {
  const lastError = result.stderr.trim().split("\n").filter((l) => l !== "").at(-1) ?? "";
  if (result.code === SSH_FAILED) {
    throw new ZvpgError(`cannot reach remote '${remote.name}' over ssh: ${lastError}`, {
      hint: `check that '${
        sshLogin(remote.url)
      } true' logs in with your key, without a password prompt`,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ZvpgError(
      `remote '${remote.name}' did not answer as zvpg (exit ${result.code}): ${
        printable(lastError || line || "no output", 120)
      }`,
      {
        hint:
          `install zvpg on ${remote.url.host} and bind the key to 'zvpg serve --stdio' (see 'zvpg serve --help')`,
      },
    );
  }
  const version = (value as { zvpg?: unknown } | null)?.zvpg;
  if (typeof version === "number" && version !== PROTOCOL_VERSION) {
    throw new ZvpgError(
      `remote '${remote.name}' speaks zvpg protocol ${version}, this zvpg ${PROTOCOL_VERSION}`,
      { hint: "run the same zvpg major version on both hosts" },
    );
  }
  const refusal = AnswerSchemas.error.safeParse(value);
  if (refusal.success) {
    throw new RemoteRefusedError(
      `remote '${remote.name}' refused ${op}: ${printable(refusal.data.error, 300)}`,
      { hint: printable(refusal.data.hint ?? "see the remote host's zvpg log", 300) },
      refusal.data.error,
    );
  }
  const answer = schema.safeParse(value);
  if (!answer.success) {
    const issue = answer.error.issues[0];
    throw new ZvpgError(
      `remote '${remote.name}' gave no ${op} answer zvpg understands (${
        issue ? `${issue.path.join(".") || "answer"}: ${issue.message}` : "invalid"
      })`,
      { hint: "run the same zvpg version on both hosts" },
    );
  }
  return answer.data;
}

/** A request the server refused; `reason` is its own words. */
export class RemoteRefusedError extends ZvpgError {
  constructor(message: string, options: { hint: string }, readonly reason: string) {
    super(message, options);
    this.name = "RemoteRefusedError";
  }
}
