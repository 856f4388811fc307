/**
 * The in-process readiness probe, against small TCP servers that answer the way
 * PostgreSQL does, and the start-up settings zvpg adds to a branch's server.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  classifyReply,
  keepWaiting,
  pingPostgres,
  type PingResult,
  PostgresProbe,
  startupMessage,
} from "../../src/adapters/postgres.ts";
import { dataDirVersion, startupSettings } from "../../src/ops/branch_container.ts";

/** A backend message: type byte, Int32 length, body. */
function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

/** An ErrorResponse with severity, SQLSTATE and message fields. */
function errorResponse(code: string, text: string): Uint8Array {
  return message("E", new TextEncoder().encode(`SFATAL\0C${code}\0M${text}\0\0`));
}

/** AuthenticationSASL (what a scram-sha-256 server sends first). */
const AUTH_SASL = message("R", new TextEncoder().encode("\0\0\0\x0aSCRAM-SHA-256\0\0"));

/**
 * Serves one reply to every connection (split in two writes, to exercise reassembly),
 * records the startup messages it received, and returns its port.
 */
function serve(reply: Uint8Array | null): { port: number; received: Uint8Array[]; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Uint8Array[] = [];
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(1024);
        const n = await conn.read(buf).catch(() => null);
        if (n) received.push(buf.slice(0, n));
        if (reply) {
          const half = Math.floor(reply.length / 2);
          await conn.write(reply.subarray(0, half)).catch(() => 0);
          await new Promise((r) => setTimeout(r, 5));
          await conn.write(reply.subarray(half)).catch(() => 0);
        }
        // like a server waiting for the password: the client closes first
        await conn.read(buf).catch(() => null);
        try {
          conn.close();
        } catch { /* closed */ }
        conns.delete(conn);
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** A port nothing listens on. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("startupMessage is a protocol 3.0 StartupMessage with user and database", () => {
  const m = startupMessage("postgres", "app");
  const view = new DataView(m.buffer);
  assert.equal(view.getInt32(0), m.length);
  assert.equal(view.getInt32(4), 196608);
  const params = new TextDecoder().decode(m.subarray(8));
  assert.equal(params, "user\0postgres\0database\0app\0application_name\0zvpg-probe\0\0");
});

Deno.test("classifyReply follows libpq's ping: only 57P03 and silence mean not ready", () => {
  assert.equal(classifyReply(AUTH_SASL), "ready");
  assert.equal(
    classifyReply(errorResponse("57P03", "the database system is starting up")),
    "rejecting",
  );
  assert.equal(classifyReply(errorResponse("28P01", "password authentication failed")), "ready");
  assert.equal(classifyReply(errorResponse("53300", "sorry, too many clients already")), "ready");
  assert.equal(classifyReply(errorResponse("3D000", 'database "x" does not exist')), "ready");
  assert.equal(classifyReply(undefined), "unreachable");
  assert.equal(classifyReply(new Uint8Array([0x45, 0, 0])), "unreachable");
  assert.equal(classifyReply(message("Z", new Uint8Array([0x49]))), "unreachable");
});

Deno.test("pingPostgres: ready, starting up, refused, closed at once, silent", async () => {
  const cases: [Uint8Array | null, PingResult][] = [
    [AUTH_SASL, "ready"],
    [errorResponse("57P03", "the database system is starting up"), "rejecting"],
    [errorResponse("28000", "no pg_hba.conf entry"), "ready"],
  ];
  for (const [reply, expected] of cases) {
    const server = serve(reply);
    try {
      assert.equal(await pingPostgres("127.0.0.1", server.port, "postgres", "db", 2000), expected);
      assert.equal(server.received.length, 1);
      assert.deepEqual(server.received[0], startupMessage("postgres", "db"));
    } finally {
      server.close();
    }
  }
  assert.equal(await pingPostgres("127.0.0.1", freePort(), "u", "d", 2000), "unreachable");

  // a proxy that accepts and closes (docker-proxy before PostgreSQL listens)
  const closing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const c of closing) c.close();
  })().catch(() => {});
  try {
    const port = (closing.addr as Deno.NetAddr).port;
    assert.equal(await pingPostgres("127.0.0.1", port, "u", "d", 2000), "unreachable");
  } finally {
    closing.close();
  }

  // a server that accepts and never answers: the timeout wins
  const silent = serve(null);
  try {
    const started = Date.now();
    assert.equal(await pingPostgres("127.0.0.1", silent.port, "u", "d", 150), "unreachable");
    assert.ok(Date.now() - started < 1500);
  } finally {
    silent.close();
  }
});

Deno.test("waitReady polls until ready, and stops early when the server is gone", async () => {
  const answers: PingResult[] = ["unreachable", "rejecting", "rejecting", "ready"];
  let calls = 0;
  const probe = new PostgresProbe(() => Promise.resolve(answers[Math.min(calls++, 3)]));
  assert.equal(
    await probe.waitReady("h", 1, "u", "d", { timeoutMs: 5000, intervalMs: 1 }),
    "ready",
  );
  assert.equal(calls, 4);

  const never = new PostgresProbe(() => Promise.resolve("rejecting"));
  let aliveChecks = 0;
  const started = Date.now();
  const ready = await never.waitReady("h", 1, "u", "d", {
    timeoutMs: 10_000,
    intervalMs: 10,
    stillAlive: () => Promise.resolve(++aliveChecks < 2),
  });
  assert.equal(ready, "exited");
  assert.equal(aliveChecks, 2);
  assert.ok(Date.now() - started < 5000, "gave up once the container was gone");

  const timeout = await never.waitReady("h", 1, "u", "d", { timeoutMs: 100, intervalMs: 10 });
  assert.equal(timeout, "timeout");

  let cancel = false;
  setTimeout(() => cancel = true, 50);
  const cancelled = await never.waitReady("h", 1, "u", "d", {
    timeoutMs: 10_000,
    intervalMs: 5,
    cancelled: () => cancel,
  });
  assert.equal(cancelled, "cancelled");
});

Deno.test("keepWaiting: past the deadline only while starting up with recent progress", () => {
  const deadline = 1000;
  const stall = 300;
  // before the deadline: always
  assert.equal(keepWaiting(999, deadline, {}, stall), true);
  // past it: never for a server that did not answer "starting up" or showed no progress
  assert.equal(keepWaiting(1000, deadline, {}, stall), false);
  assert.equal(keepWaiting(1000, deadline, { lastRejectingAt: 990 }, stall), false);
  assert.equal(keepWaiting(1000, deadline, { lastProgressAt: 990 }, stall), false);
  // starting up and progressing
  assert.equal(
    keepWaiting(1200, deadline, { lastRejectingAt: 1190, lastProgressAt: 1000 }, stall),
    true,
  );
  // progress stopped longer than the stall window ago
  assert.equal(
    keepWaiting(1400, deadline, { lastRejectingAt: 1390, lastProgressAt: 1099 }, stall),
    false,
  );
  // no longer answering "starting up" (e.g. gone or refusing connections)
  assert.equal(
    keepWaiting(1400, deadline, { lastRejectingAt: 1050, lastProgressAt: 1390 }, stall),
    false,
  );
});

Deno.test("waitReady: a server in recovery that makes progress is waited for past the timeout", async () => {
  // "starting up" for 600 ms, then ready; timeout 100 ms; progress at every sample
  const readyAt = Date.now() + 600;
  const probe = new PostgresProbe(() =>
    Promise.resolve(Date.now() >= readyAt ? "ready" : "rejecting")
  );
  const overtime: number[] = [];
  let samples = 0;
  const outcome = await probe.waitReady("h", 1, "u", "d", {
    timeoutMs: 100,
    intervalMs: 5,
    progressed: () => (samples++, true),
    stallMs: 2_000,
    onOvertime: (ms) => overtime.push(ms),
    reportEveryMs: 200,
  });
  assert.equal(outcome, "ready");
  assert.ok(Date.now() >= readyAt);
  assert.ok(samples >= 1, "progress was sampled");
  assert.ok(overtime.length >= 2, `progress reported past the timeout: ${overtime}`);
  assert.ok(overtime.every((ms) => ms >= 100), `${overtime}`);
});

Deno.test("waitReady: a server in recovery without progress fails at the timeout as before", async () => {
  const probe = new PostgresProbe(() => Promise.resolve("rejecting"));
  const overtime: number[] = [];
  const started = Date.now();
  const outcome = await probe.waitReady("h", 1, "u", "d", {
    timeoutMs: 300,
    intervalMs: 5,
    progressed: () => false,
    stallMs: 100,
    onOvertime: (ms) => overtime.push(ms),
  });
  assert.equal(outcome, "timeout");
  const took = Date.now() - started;
  assert.ok(took >= 300 && took < 1_500, `gave up at the timeout (${took} ms)`);
  assert.deepEqual(overtime, [], "no progress line for a server that is not progressing");

  // progress that stops: waited for while it lasts, then given up stallMs later
  let left = 3;
  const stalls = await new PostgresProbe(() => Promise.resolve("rejecting")).waitReady(
    "h",
    1,
    "u",
    "d",
    { timeoutMs: 50, intervalMs: 5, progressed: () => left-- > 0, stallMs: 1_500 },
  );
  assert.equal(stalls, "timeout");

  // a server that is not even starting up ("unreachable") is not waited for past the timeout
  const unreachable = await new PostgresProbe(() => Promise.resolve("unreachable")).waitReady(
    "h",
    1,
    "u",
    "d",
    { timeoutMs: 100, intervalMs: 5, progressed: () => true },
  );
  assert.equal(unreachable, "timeout");
});

Deno.test("isReady is true only for a ready answer", async () => {
  assert.equal(
    await new PostgresProbe(() => Promise.resolve("ready")).isReady("h", 1, "u", "d"),
    true,
  );
  assert.equal(
    await new PostgresProbe(() => Promise.resolve("rejecting")).isReady("h", 1, "u", "d"),
    false,
  );
});

Deno.test("startupSettings: syncfs for PostgreSQL 14+, unless postgresql.conf sets it", () => {
  const syncfs = ["-c", "recovery_init_sync_method=syncfs"];
  assert.deepEqual(startupSettings(17, "shared_buffers = 128MB\n"), syncfs);
  assert.deepEqual(startupSettings(14, ""), syncfs);
  assert.deepEqual(startupSettings(13, ""), []);
  assert.deepEqual(startupSettings(undefined, ""), []);
  assert.deepEqual(startupSettings(17, "recovery_init_sync_method = fsync\n"), []);
  assert.deepEqual(startupSettings(17, "  recovery_init_sync_method='syncfs'\n"), []);
  assert.deepEqual(startupSettings(17, "#recovery_init_sync_method = fsync\n"), syncfs);
});

Deno.test("dataDirVersion reads PG_VERSION, undefined when absent or garbage", () => {
  const dir = mkdtempSync(join(tmpdir(), "zvpg-unit-"));
  try {
    assert.equal(dataDirVersion(dir), undefined);
    writeFileSync(join(dir, "PG_VERSION"), "17\n");
    assert.equal(dataDirVersion(dir), 17);
    writeFileSync(join(dir, "PG_VERSION"), "garbage\n");
    assert.equal(dataDirVersion(dir), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
