/**
 * `zvpg serve --stdio`: answers one request of another zvpg on stdin and stdout, the
 * command a remote's `authorized_keys` forces (see docs/commands/remote.md).
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { UsageError, ZvpgError } from "../errors.ts";
import {
  type Answer,
  encodeAnswer,
  MAX_REQUEST_BYTES,
  parseRequest,
  PROTOCOL_VERSION,
  ProtocolError,
} from "../domain/remote_protocol.ts";
import { ServeService } from "../workflows/serve_service.ts";
import { validateRemoteName } from "../domain/names.ts";
import { PipeEnd, readLineExactly } from "../runtime/os_pipe.ts";
import { examples } from "./options.ts";
import { terminal } from "./render.ts";
import type { Session } from "./session.ts";

/** Builds `serve`. */
export function serveCommand(session: Session) {
  return new Command("serve")
    .description(
      "Answer another zvpg over stdin and stdout (the command a remote's ssh key is bound to)",
    )
    .option("--stdio", "speak the zvpg protocol on stdin and stdout (required)")
    .option(
      "--as <name>",
      "file every push under this name (<name>/<snapshot>), whatever the client calls itself",
    )
    .addHelpText(
      "after",
      `
In ~/.ssh/authorized_keys of the remote host, bind the key to this command:
  command="zvpg serve --stdio --as laptop",restrict ssh-ed25519 AAAA... laptop
` + examples(`printf '{"zvpg":${PROTOCOL_VERSION},"op":"hello"}\\n' | zvpg serve --stdio`),
    )
    .action(session.action(async (ctx, options) => {
      if (options.stdio !== true) {
        throw new UsageError("serve needs --stdio", {
          hint: "run 'zvpg serve --stdio' (it reads one request on stdin)",
        });
      }
      if (options.as !== undefined) validateRemoteName(options.as);
      const service = new ServeService(ctx, options.as);
      // read a byte at a time up to the newline: a pushed stream after it is zfs's stdin
      const stdin = PipeEnd.std(0);
      const line = await readLineExactly(stdin, MAX_REQUEST_BYTES);
      const answer = await answerOf(() => serve(service, line ?? "", stdin));
      if (answer === "streamed") return 0;
      if (answer === "cut") return 1;
      terminal.out(encodeAnswer(answer));
      return answer.ok ? 0 : 1;
    }));
}

/**
 * Serves one request line, `rest` the stream after it: the answer to print; or, once a
 * stream went out after its answer line, "streamed" (whole) or "cut" (it failed: the
 * client's receive sees a cut stream, and nothing more is written to it).
 */
async function serve(
  service: ServeService,
  line: string,
  rest: PipeEnd,
): Promise<Answer | "streamed" | "cut"> {
  const request = parseRequest(line);
  switch (request.op) {
    case "receive":
      return await service.receive(request, rest);
    case "send": {
      const sending = await service.send(request);
      await writeAll(encodeAnswer(sending.answer));
      try {
        // zfs send writes to this process's stdout itself: the stream never passes through
        await sending.stream(PipeEnd.std(1));
        return "streamed";
      } catch (error) {
        terminal.err(`zvpg serve: the stream stopped: ${(error as Error).message}\n`);
        return "cut";
      }
    }
    default:
      return await service.answer(request);
  }
}

/** Writes `text` to stdout, all of it, before a stream follows. */
async function writeAll(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
}

/** The answer of `serving`; a refused request is an answer too. */
async function answerOf<T>(serving: () => Promise<Answer | T>): Promise<Answer | T> {
  try {
    return await serving();
  } catch (error) {
    if (error instanceof ProtocolError || error instanceof ZvpgError) {
      terminal.err(`zvpg serve: ${error.message}\n`);
      return {
        ok: false,
        zvpg: PROTOCOL_VERSION,
        error: error.message,
        ...(error.hint ? { hint: error.hint } : {}),
      };
    }
    throw error;
  }
}
