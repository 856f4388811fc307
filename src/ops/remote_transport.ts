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
  PROTOCOL_VERSION,
  type Request,
} from "../domain/remote_protocol.ts";

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

/**
 * Sends request `op` to an ssh remote's `zvpg serve --stdio` and returns its answer, as
 * `schema` (one of {@link AnswerSchemas}) reads it. Throws, naming the remote, when ssh
 * cannot reach it, when it does not answer as zvpg (or as this protocol version), and
 * when it refuses (with its hint).
 */
export async function askRemote<S extends z.ZodType>(
  ctx: Context,
  remote: Remote & { url: Extract<RemoteUrl, { kind: "ssh" }> },
  op: Request["op"],
  schema: S,
): Promise<z.infer<S>> {
  const result = await ctx.runner.run("ssh", sshArgv(remote.url, ctx.config.sshOptions), {
    stdin: encodeRequest({ zvpg: PROTOCOL_VERSION, op }),
    tolerate: () => true,
    timeoutMs: 120_000,
  });
  const lastError = result.stderr.trim().split("\n").filter((l) => l !== "").at(-1) ?? "";
  if (result.code === SSH_FAILED) {
    throw new ZvpgError(`cannot reach remote '${remote.name}' over ssh: ${lastError}`, {
      hint: `check that '${
        sshLogin(remote.url)
      } true' logs in with your key, without a password prompt`,
    });
  }
  const line = result.stdout.split("\n")[0] ?? "";
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
    throw new ZvpgError(
      `remote '${remote.name}' refused ${op}: ${printable(refusal.data.error, 300)}`,
      { hint: printable(refusal.data.hint ?? "see the remote host's zvpg log", 300) },
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
