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
    .addHelpText(
      "after",
      `
In ~/.ssh/authorized_keys of the remote host, bind the key to this command:
  command="zvpg serve --stdio",restrict ssh-ed25519 AAAA... laptop
` + examples(`printf '{"zvpg":${PROTOCOL_VERSION},"op":"hello"}\\n' | zvpg serve --stdio`),
    )
    .action(session.action(async (ctx, options) => {
      if (options.stdio !== true) {
        throw new UsageError("serve needs --stdio", {
          hint: "run 'zvpg serve --stdio' (it reads one request on stdin)",
        });
      }
      const answer = await answerOf(new ServeService(ctx), await readRequestLine());
      terminal.out(encodeAnswer(answer));
      return answer.ok ? 0 : 1;
    }));
}

/** The answer to one request line; a refused request is an answer too. */
async function answerOf(service: ServeService, line: string): Promise<Answer> {
  try {
    return await service.answer(parseRequest(line));
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

/** Reads stdin up to its first newline (or its end), at most one byte past the limit. */
async function readRequestLine(): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(4096);
  while (size <= MAX_REQUEST_BYTES) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) break;
    const chunk = buffer.subarray(0, n);
    const newline = chunk.indexOf(0x0a);
    chunks.push(chunk.slice(0, newline === -1 ? n : newline));
    size += newline === -1 ? n : newline;
    if (newline !== -1) break;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(bytes);
}
