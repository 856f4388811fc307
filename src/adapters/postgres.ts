/**
 * Asks a PostgreSQL server whether it accepts connections, the way `pg_isready` does, but
 * in-process: one TCP connection, one StartupMessage, one reply. No program is spawned,
 * so readiness can be polled every few milliseconds and many branches probed at once.
 *
 * @module
 */

/** What a probe learnt about a server. */
export type PingResult =
  /** It answered with an authentication request or an error other than "starting up". */
  | "ready"
  /** It answered "the database system is starting up / shutting down" (SQLSTATE 57P03). */
  | "rejecting"
  /** Nothing answered: connection refused, closed or timed out. */
  | "unreachable";

/** Sends one probe: the seam unit tests replace. */
export type Pinger = (
  host: string,
  port: number,
  user: string,
  database: string,
  timeoutMs: number,
) => Promise<PingResult>;

/** SQLSTATE the server sends while it cannot accept connections yet (or any more). */
const CANNOT_CONNECT_NOW = "57P03";
/** Protocol version 3.0. */
const PROTOCOL_3_0 = 196608;
/** The first reply is small; never read more than this from a probe. */
const MAX_REPLY_BYTES = 16_384;

/** How a wait for readiness ended. */
export type WaitOutcome =
  /** The server accepts connections. */
  | "ready"
  /** The timeout passed, and the server was not making progress. */
  | "timeout"
  /** `stillAlive` said the server is gone (its container exited). */
  | "exited"
  /** `cancelled` said stop. */
  | "cancelled";

/** Options of {@link PostgresProbe.waitReady}. */
export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Whether the server still runs; asked at most twice a second. */
  stillAlive?: () => Promise<boolean>;
  /** Stop waiting once this says so. */
  cancelled?: () => boolean;
  /**
   * Whether the server did work since the last call (e.g. its processes' I/O grew). Asked
   * about once a second while the server answers "starting up": a server in crash
   * recovery that keeps making progress is waited for past the timeout.
   */
  progressed?: () => boolean | Promise<boolean>;
  /** Past the timeout, give up once the server made no progress for this long (10 s). */
  stallMs?: number;
  /** Called while waiting past the timeout, every `reportEveryMs` (5 s), with the time waited. */
  onOvertime?: (elapsedMs: number) => void;
  reportEveryMs?: number;
}

/** What a wait has seen of a server that answers "starting up". */
export interface RecoveryWatch {
  /** When the server last answered "starting up". */
  lastRejectingAt?: number;
  /** When progress was last seen (the first sample counts as progress). */
  lastProgressAt?: number;
}

/**
 * Whether to keep waiting at `now`: always before the deadline; after it, only while the
 * server answers "starting up" and made progress within the last `stallMs`.
 */
export function keepWaiting(
  now: number,
  deadline: number,
  watch: RecoveryWatch,
  stallMs: number,
): boolean {
  if (now < deadline) return true;
  if (watch.lastRejectingAt === undefined || watch.lastProgressAt === undefined) return false;
  return now - watch.lastRejectingAt <= stallMs && now - watch.lastProgressAt <= stallMs;
}

/** How often a server's progress is sampled while it answers "starting up". */
const PROGRESS_SAMPLE_MS = 1_000;

/** Answers whether a server accepts connections. */
export class PostgresProbe {
  constructor(private readonly ping: Pinger = pingPostgres) {}

  /** True when the server at host:port accepts connections. */
  async isReady(host: string, port: number, user: string, database: string): Promise<boolean> {
    return (await this.ping(host, port, user, database, 2_000)) === "ready";
  }

  /**
   * Polls every `intervalMs` until the server accepts connections, `stillAlive` says it
   * is gone, `cancelled` says stop, or the timeout passes while the server makes no
   * progress (see {@link keepWaiting}).
   */
  async waitReady(
    host: string,
    port: number,
    user: string,
    database: string,
    options: WaitOptions,
  ): Promise<WaitOutcome> {
    const interval = options.intervalMs ?? 25;
    const stallMs = options.stallMs ?? 10_000;
    const reportEvery = options.reportEveryMs ?? 5_000;
    const started = Date.now();
    const deadline = started + options.timeoutMs;
    const watch: RecoveryWatch = {};
    let lastSample = -Infinity;
    let lastReport = deadline - reportEvery;
    let lastAliveCheck = started;
    while (!options.cancelled?.()) {
      const now = Date.now();
      if (!keepWaiting(now, deadline, watch, stallMs)) return "timeout";
      const left = Math.max(1, Math.min(2_000, now < deadline ? deadline - now : 2_000));
      const answer = await this.ping(host, port, user, database, left);
      if (answer === "ready") return "ready";
      if (answer === "rejecting") {
        watch.lastRejectingAt = Date.now();
        if (options.progressed && watch.lastRejectingAt - lastSample >= PROGRESS_SAMPLE_MS) {
          const first = lastSample === -Infinity;
          lastSample = watch.lastRejectingAt;
          if ((await options.progressed()) || first) watch.lastProgressAt = lastSample;
        }
      }
      if (options.stillAlive && Date.now() - lastAliveCheck >= 500) {
        lastAliveCheck = Date.now();
        if (!(await options.stillAlive())) return "exited";
      }
      if (Date.now() >= deadline && Date.now() - lastReport >= reportEvery) {
        lastReport = Date.now();
        if (keepWaiting(lastReport, deadline, watch, stallMs)) {
          options.onOvertime?.(lastReport - started);
        }
      }
      await new Promise((r) => setTimeout(r, interval));
    }
    return "cancelled";
  }
}

/** One readiness probe over TCP (see {@link PingResult}); never throws. */
export async function pingPostgres(
  host: string,
  port: number,
  user: string,
  database: string,
  timeoutMs: number,
): Promise<PingResult> {
  let conn: Deno.TcpConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"unreachable">((resolve) => {
    timer = setTimeout(() => resolve("unreachable"), timeoutMs);
  });
  const attempt = (async (): Promise<PingResult> => {
    try {
      conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
      await writeAll(conn, startupMessage(user, database));
      return classifyReply(await readFirstMessage(conn));
    } catch {
      return "unreachable";
    }
  })();
  try {
    return await Promise.race([attempt, timedOut]);
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }
}

/** The protocol 3.0 StartupMessage for `user` and `database`. */
export function startupMessage(user: string, database: string): Uint8Array {
  const params = `user\0${user}\0database\0${database}\0application_name\0zvpg-probe\0\0`;
  const body = new TextEncoder().encode(params);
  const message = new Uint8Array(8 + body.length);
  const view = new DataView(message.buffer);
  view.setInt32(0, message.length);
  view.setInt32(4, PROTOCOL_3_0);
  message.set(body, 8);
  return message;
}

/**
 * What the server's first message means, as libpq's ping sees it: an authentication
 * request (`R`) or any error but 57P03 means it accepts connections.
 */
export function classifyReply(message: Uint8Array | undefined): PingResult {
  if (!message || message.length < 5) return "unreachable";
  const type = String.fromCharCode(message[0]);
  if (type === "E") {
    return errorCode(message.subarray(5)) === CANNOT_CONNECT_NOW ? "rejecting" : "ready";
  }
  return type === "R" || type === "v" ? "ready" : "unreachable";
}

/** The SQLSTATE (`C` field) of an ErrorResponse body. */
function errorCode(body: Uint8Array): string | undefined {
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const field = String.fromCharCode(body[i]);
    const end = body.indexOf(0, i + 1);
    if (end < 0) return undefined;
    if (field === "C") return new TextDecoder().decode(body.subarray(i + 1, end));
    i = end + 1;
  }
  return undefined;
}

/** Reads one whole backend message (type byte, length, body), or undefined at EOF. */
async function readFirstMessage(conn: Deno.Conn): Promise<Uint8Array | undefined> {
  let data = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  while (data.length < MAX_REPLY_BYTES) {
    if (data.length >= 5) {
      const length = new DataView(data.buffer, data.byteOffset + 1, 4).getInt32(0);
      if (length < 4) return undefined;
      if (data.length >= length + 1 || length + 1 > MAX_REPLY_BYTES) return data;
    }
    const n = await conn.read(chunk);
    if (n === null) return data.length > 0 ? data : undefined;
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(chunk.subarray(0, n), data.length);
    data = next;
  }
  return data;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
