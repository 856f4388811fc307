import assert from "node:assert/strict";
import { parseStreamHeader, streamProblem } from "../../src/domain/send_stream.ts";
import { checkedStream } from "../../src/ops/remote_receive.ts";
import { fakeSendStream } from "../support/send_stream.ts";

Deno.test("send stream: the header of a plain stream, whole or an increment", () => {
  assert.deepEqual(parseStreamHeader(fakeSendStream("18446744073709551615", null)), {
    compound: false,
    objsetType: 2,
    toguid: "18446744073709551615",
    fromguid: null,
  });
  assert.equal(parseStreamHeader(fakeSendStream("222", "111"))?.fromguid, "111");
  // a big-endian sender's stream: the magic tells the byte order
  const big = new Uint8Array(64);
  const view = new DataView(big.buffer);
  view.setBigUint64(8, 0x2f5bacbacn, false);
  view.setBigUint64(16, 1n, false);
  view.setUint32(32, 2, false);
  view.setBigUint64(40, 7n, false);
  assert.deepEqual(parseStreamHeader(big), {
    compound: false,
    objsetType: 2,
    toguid: "7",
    fromguid: null,
  });
  assert.equal(parseStreamHeader(new TextEncoder().encode("x".repeat(400))), undefined);
  assert.equal(parseStreamHeader(fakeSendStream("1", null).subarray(0, 40)), undefined);
});

Deno.test("send stream: only the snapshot and base agreed on, plain, of a filesystem", () => {
  const problem = (bytes: Uint8Array, base?: string | null) =>
    streamProblem(parseStreamHeader(bytes), { guid: "222", base });
  assert.equal(problem(fakeSendStream("222", "111"), "111"), undefined);
  assert.equal(problem(fakeSendStream("222", "111")), undefined, "base unchecked");
  assert.match(problem(fakeSendStream("222", null, { compound: true }))!, /zfs send -R/);
  assert.match(problem(fakeSendStream("222", null, { objsetType: 3 }))!, /not of a filesystem/);
  assert.equal(problem(fakeSendStream("333", null)), "it is of snapshot GUID 333, not 222");
  assert.equal(
    problem(fakeSendStream("222", "999"), null),
    "it is an increment from GUID 999, not whole",
  );
  assert.equal(problem(new Uint8Array(400)), "it is no zfs send stream");
});

/** What `checkedStream` passes on of `chunks`, and the problem it found. */
async function through(chunks: Uint8Array[], guid: string) {
  const checked = checkedStream(ReadableStream.from(chunks), { guid, base: null });
  return await drain(checked);
}

async function drain(checked: ReturnType<typeof checkedStream>) {
  const got: number[] = [];
  let failed = false;
  try {
    for await (const c of checked.stream) got.push(...c);
  } catch {
    failed = true;
  }
  checked.done();
  return { bytes: got.length, failed, problem: checked.stopped()?.problem };
}

Deno.test("checkedStream: a good stream passes whole, however it is cut in chunks", async () => {
  const bytes = fakeSendStream("5", null, { rest: "data" });
  const chunks = [bytes.subarray(0, 3), bytes.subarray(3, 50), bytes.subarray(50)];
  assert.deepEqual(await through(chunks, "5"), {
    bytes: bytes.length,
    failed: false,
    problem: undefined,
  });
  // cut before its header ends: passed on as it is, for ZFS to refuse
  assert.deepEqual(await through([bytes.subarray(0, 10)], "5"), {
    bytes: 10,
    failed: false,
    problem: undefined,
  });
});

Deno.test("checkedStream: nothing of a refused stream reaches the receiver", async () => {
  const bytes = fakeSendStream("6", null, { compound: true });
  const r = await through([bytes.subarray(0, 20), bytes.subarray(20)], "6");
  assert.equal(r.bytes, 0);
  assert.equal(r.failed, true);
  assert.match(r.problem!, /replication or property stream/);
  assert.equal((await through([fakeSendStream("7", null)], "6")).bytes, 0);
});

Deno.test("checkedStream: a sender that stalls is stopped, not waited for", async () => {
  const header = fakeSendStream("8", null);
  // the header, then nothing: a laptop put to sleep mid-push
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(header);
    },
  });
  const checked = checkedStream(input, { guid: "8", base: null }, 50);
  // the idle timer holds no process open (zfs receive does, in a real receive)
  const alive = setTimeout(() => {}, 5_000);
  const r = await drain(checked);
  clearTimeout(alive);
  assert.equal(r.failed, true);
  assert.equal(r.bytes, header.length, "what came before the stall went on");
  assert.equal(checked.stopped()?.kind, "stalled");
  assert.equal(r.problem, "it sent nothing for 0 s");
});
