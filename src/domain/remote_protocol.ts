/**
 * The protocol `zvpg serve --stdio` speaks over ssh's stdin and stdout, the only thing a
 * remote's `authorized_keys` forced command needs to allow.
 *
 * One request per connection: the client writes one JSON line of at most
 * {@link MAX_REQUEST_BYTES}, the server answers one JSON line. Every request names the
 * protocol version it speaks (`zvpg`); a server refuses another version by name, so an
 * old and a new zvpg never misread each other. The server runs nothing a request names:
 * each operation is a fixed action of zvpg's on the server's own pool.
 *
 * @module
 */
import { z } from "zod";
import type { ZfsFlavor } from "../adapters/zfs.ts";
import { branchNameProblem, snapshotNameProblem } from "./names.ts";
import { GIT_BRANCH_PATTERN } from "../config/schema.ts";

/** The protocol version this zvpg speaks. */
export const PROTOCOL_VERSION = 1;

/** The longest request line a server reads. */
export const MAX_REQUEST_BYTES = 64 * 1024;

const versioned = { zvpg: z.number().int() };

/** A request, by operation. */
export const RequestSchema = z.discriminatedUnion("op", [
  /** What the server runs: zvpg and protocol versions, the ZFS and what it can do. */
  z.strictObject({ ...versioned, op: z.literal("hello") }),
  /** The server's snapshots, with the GUIDs that identify them across hosts. */
  z.strictObject({ ...versioned, op: z.literal("list") }),
]);

/** A parsed, valid request. */
export type Request = z.infer<typeof RequestSchema>;

/** What a ZFS implementation can do in a transfer (see docs/commands/remote.md). */
export interface ZfsCapabilities {
  flavor: ZfsFlavor;
  /** `receive -s` and `send -t`: an interrupted transfer resumes. */
  resume: boolean;
  /** `send -nP`: the size of a stream before it is sent. */
  sizeEstimate: boolean;
  /** Bookmarks as an incremental base after its snapshot is gone. */
  bookmarks: boolean;
  /** `send -c`/`-L`/`-e`: compressed, large-block and embedded records. */
  compressed: boolean;
}

/** The capabilities of each implementation zvpg runs on (zfs-fuse 0.7, OpenZFS 2.x). */
export function zfsCapabilities(flavor: ZfsFlavor): ZfsCapabilities {
  const openzfs = flavor === "openzfs";
  return {
    flavor,
    resume: openzfs,
    sizeEstimate: openzfs,
    bookmarks: openzfs,
    compressed: openzfs,
  };
}

/** The answer to `hello`. */
export interface HelloAnswer {
  ok: true;
  zvpg: number;
  version: string;
  zfs: ZfsCapabilities;
}

/** One snapshot a server offers: identified by its GUID, named for people. */
export interface RemoteRef {
  name: string;
  /** The ZFS GUID, as a decimal string (it exceeds 2^53). */
  guid: string;
  branch: string;
  /** RFC 3339. */
  created: string;
  message: string;
  /** Bytes the snapshot refers to. */
  referenced: number;
}

/** The answer to `list`. */
export interface ListAnswer {
  ok: true;
  zvpg: number;
  refs: RemoteRef[];
}

/** A refused request: what failed and what to do, as zvpg's errors say it. */
export interface ErrorAnswer {
  ok: false;
  zvpg: number;
  error: string;
  hint?: string;
}

/** Any answer. */
export type Answer = HelloAnswer | ListAnswer | ErrorAnswer;

/** An RFC 3339 time as zvpg writes them (`Date.toISOString`, or with an offset). */
const rfc3339 = z.string().refine(
  (t) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(t) &&
    !Number.isNaN(Date.parse(t)),
  "must be an RFC 3339 time",
);

const capabilities = z.strictObject({
  flavor: z.enum(["openzfs", "zfs-fuse"]),
  resume: z.boolean(),
  sizeEstimate: z.boolean(),
  bookmarks: z.boolean(),
  compressed: z.boolean(),
});

/** A text shown on a terminal: no control character but tab and newline. */
const shown = z.string().max(4096).refine(
  // deno-lint-ignore no-control-regex
  (t) => !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(t),
  "must hold no control characters",
);

const ref = z.strictObject({
  name: z.string().refine((n) => snapshotNameProblem(n) === undefined, "must be a snapshot name"),
  guid: z.string().regex(/^[0-9]{1,20}$/, "must be a ZFS GUID (decimal digits)"),
  branch: z.string().refine(
    (b) => branchNameProblem(b, GIT_BRANCH_PATTERN) === undefined,
    "must be a branch name",
  ),
  created: rfc3339,
  message: shown,
  referenced: z.number().int().min(0),
});

/** The answers a client accepts, by request: anything else is no zvpg answer. */
export const AnswerSchemas = {
  hello: z.strictObject({
    ok: z.literal(true),
    zvpg: z.number().int(),
    version: shown.pipe(z.string().max(64)),
    zfs: capabilities,
  }),
  list: z.strictObject({ ok: z.literal(true), zvpg: z.number().int(), refs: z.array(ref) }),
  error: z.object({
    ok: z.literal(false),
    zvpg: z.number().int(),
    error: shown,
    hint: shown.optional(),
  }),
} as const;

/** A request that is not one this server answers. */
export class ProtocolError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * Parses one request line. Throws {@link ProtocolError} naming what is wrong: not JSON,
 * another protocol version, an unknown operation or field.
 */
export function parseRequest(line: string): Request {
  if (new TextEncoder().encode(line).length > MAX_REQUEST_BYTES) {
    throw new ProtocolError(
      `request longer than ${MAX_REQUEST_BYTES} bytes`,
      "send one JSON request line",
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError(
      "request is not JSON",
      "this command answers only another zvpg (see 'zvpg serve --help')",
    );
  }
  const version = (value as { zvpg?: unknown } | null)?.zvpg;
  if (typeof version === "number" && version !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      `request speaks zvpg protocol ${version}, this server speaks ${PROTOCOL_VERSION}`,
      "run the same zvpg major version on both hosts",
    );
  }
  const parsed = RequestSchema.safeParse(value);
  if (!parsed.success) {
    const op = (value as { op?: unknown } | null)?.op;
    throw new ProtocolError(
      typeof op === "string" && !["hello", "list"].includes(op)
        ? `unknown operation '${op.slice(0, 40)}'`
        : `malformed request: ${parsed.error.issues[0]?.message ?? "invalid"}`,
      `this server answers: hello, list (protocol ${PROTOCOL_VERSION})`,
    );
  }
  return parsed.data;
}

/** One answer line (no newline inside: JSON escapes it). */
export function encodeAnswer(answer: Answer): string {
  return `${JSON.stringify(answer)}\n`;
}

/** One request line. */
export function encodeRequest(request: Request): string {
  return `${JSON.stringify(request)}\n`;
}
