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
import { branchNameProblem, remoteNameProblem, snapshotNameProblem } from "./names.ts";
import { GIT_BRANCH_PATTERN } from "../config/schema.ts";

/** The protocol version this zvpg speaks. */
export const PROTOCOL_VERSION = 1;

/** The longest request line a server reads. */
export const MAX_REQUEST_BYTES = 64 * 1024;

const versioned = { zvpg: z.number().int() };

/** A ZFS GUID as text (decimal digits: it exceeds 2^53). */
const guid = z.string().regex(/^[0-9]{1,20}$/, "must be a ZFS GUID (decimal digits)");

/** The name a pushing host goes by on the server: its pushes land under it. */
const source = z.string().refine(
  (n) => remoteNameProblem(n) === undefined,
  "must be a remote name",
);

const snapshotName = z.string().refine(
  (n) => snapshotNameProblem(n) === undefined,
  "must be a snapshot name",
);

const branchName = z.string().refine(
  (b) => branchNameProblem(b, GIT_BRANCH_PATTERN) === undefined,
  "must be a branch name",
);

/** An RFC 3339 time as zvpg writes them (`Date.toISOString`, or with an offset). */
const rfc3339 = z.string().refine(
  (t) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(t) &&
    !Number.isNaN(Date.parse(t)),
  "must be an RFC 3339 time",
);

/** A text shown on a terminal: no control character but tab and newline. */
const shown = z.string().max(4096).refine(
  // deno-lint-ignore no-control-regex
  (t) => !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(t),
  "must hold no control characters",
);

/** A resume token (`receive_resume_token`): opaque, checked by the sender. */
const resumeToken = z.string().regex(/^[0-9a-zA-Z-]{1,4096}$/, "must be a ZFS resume token");

const ref = z.strictObject({
  name: snapshotName,
  guid,
  branch: branchName,
  created: rfc3339,
  message: shown,
  referenced: z.number().int().min(0),
  origin: guid.nullable(),
});

/** The operations a server answers. */
export const OPERATIONS = ["hello", "list", "tracked", "receive", "send"] as const;

/** A request, by operation. */
export const RequestSchema = z.discriminatedUnion("op", [
  /** What the server runs: zvpg and protocol versions, the ZFS and what it can do. */
  z.strictObject({ ...versioned, op: z.literal("hello") }),
  /** The server's snapshots, with the GUIDs that identify them across hosts. */
  z.strictObject({ ...versioned, op: z.literal("list") }),
  /**
   * What the server holds of `source`'s branch `branch` (pushed there before): the base a
   * push can be an increment from, and a partial receive to resume.
   */
  z.strictObject({
    ...versioned,
    op: z.literal("tracked"),
    source,
    branch: branchName,
    /** GUIDs the client could send from; the answer says which the server holds. */
    candidates: z.array(guid).max(64),
  }),
  /**
   * Receive `ref` from `source`: a `zfs send` stream follows the request line on stdin,
   * an increment from the snapshot with GUID `base` (the newest the server holds of that
   * branch; or, when it holds none, a snapshot it holds elsewhere that the stream's branch
   * was cloned from), or whole; `resume`: the stream resumes the partial receive
   * `tracked` named.
   */
  z.strictObject({
    ...versioned,
    op: z.literal("receive"),
    source,
    ref,
    base: guid.nullable(),
    resume: z.boolean(),
    /** Keep what the server holds of that branch aside when it is in the way (push --force). */
    force: z.boolean(),
  }),
  /**
   * Send snapshot `name` (which must have GUID `guid`): the answer line is followed by its
   * `zfs send` stream, an increment from the snapshot with GUID `base` of its lineage, or
   * whole; or the rest of the partial receive `resumeToken` names (checked: it must name
   * that snapshot).
   */
  z.strictObject({
    ...versioned,
    op: z.literal("send"),
    name: snapshotName,
    guid,
    base: guid.nullable(),
    resumeToken: resumeToken.nullable(),
  }),
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
  /**
   * The GUID of the origin of the branch the snapshot is on (a clone's origin snapshot);
   * null for main's. A receiver holding it can take the snapshot as a clone of it.
   */
  origin: string | null;
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

/** The answer to `tracked`. */
export interface TrackedAnswer {
  ok: true;
  zvpg: number;
  /** The name the server files this client's pushes under (its `serve --as`, if set). */
  source: string;
  /** The snapshots the server holds of that branch, oldest first. */
  snapshots: { name: string; guid: string }[];
  /** A partial receive the next push can resume (OpenZFS), else null. */
  resumeToken: string | null;
  /** Which of the request's candidates the server holds, anywhere in its pool. */
  held: string[];
}

/** The answer to `receive`, once the stream is received. */
export interface ReceiveAnswer {
  ok: true;
  zvpg: number;
  source: string;
  /** The snapshot as the server names it, `<source>/<name>`. */
  snapshot: string;
  /** With `force`: the branch what was in the way is kept as there; else null. */
  keptAs: string | null;
}

/** The answer to `send`, before its stream. */
export interface SendAnswer {
  ok: true;
  zvpg: number;
  ref: RemoteRef;
  /** The GUID the stream is an increment from; null for a whole stream. */
  base: string | null;
  /** Whether the stream resumes a partial receive. */
  resumed: boolean;
  /** The stream's size in bytes, when the server's ZFS can tell (OpenZFS); else null. */
  size: number | null;
}

/** Any answer. */
export type Answer =
  | HelloAnswer
  | ListAnswer
  | TrackedAnswer
  | ReceiveAnswer
  | SendAnswer
  | ErrorAnswer;

const capabilities = z.strictObject({
  flavor: z.enum(["openzfs", "zfs-fuse"]),
  resume: z.boolean(),
  sizeEstimate: z.boolean(),
  bookmarks: z.boolean(),
  compressed: z.boolean(),
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
  tracked: z.strictObject({
    ok: z.literal(true),
    zvpg: z.number().int(),
    source,
    snapshots: z.array(z.strictObject({ name: snapshotName, guid })),
    resumeToken: resumeToken.nullable(),
    held: z.array(guid),
  }),
  receive: z.strictObject({
    ok: z.literal(true),
    zvpg: z.number().int(),
    source,
    snapshot: shown.pipe(z.string().max(200)),
    keptAs: shown.pipe(z.string().max(300)).nullable(),
  }),
  send: z.strictObject({
    ok: z.literal(true),
    zvpg: z.number().int(),
    ref,
    base: guid.nullable(),
    resumed: z.boolean(),
    size: z.number().int().min(0).nullable(),
  }),
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
      typeof op === "string" && !(OPERATIONS as readonly string[]).includes(op)
        ? `unknown operation '${op.slice(0, 40)}'`
        : `malformed request: ${describeIssue(parsed.error.issues[0])}`,
      `this server answers: ${OPERATIONS.join(", ")} (protocol ${PROTOCOL_VERSION})`,
    );
  }
  return parsed.data;
}

/** One zod issue as a message: where, and what is wrong. */
function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "invalid";
  const at = issue.path.join(".");
  return at === "" ? issue.message : `${at}: ${issue.message}`;
}

/** One answer line (no newline inside: JSON escapes it). */
export function encodeAnswer(answer: Answer): string {
  return `${JSON.stringify(answer)}\n`;
}

/** One request line. */
export function encodeRequest(request: Request): string {
  return `${JSON.stringify(request)}\n`;
}
