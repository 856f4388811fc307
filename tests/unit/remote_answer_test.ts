/**
 * The answer line a client reads of a server (ops/remote_transport.ts boundedLine): the
 * first line only, and never more than its bound, whatever the server writes.
 */
import assert from "node:assert/strict";
import { boundedLine } from "../../src/ops/remote_transport.ts";

async function feed(max: number, chunks: string[]) {
  const answer = boundedLine(max);
  const writer = answer.sink.getWriter();
  let failed = false;
  for (const c of chunks) {
    await writer.write(new TextEncoder().encode(c)).catch(() => failed = true);
    if (failed) break;
  }
  return { line: answer.line(), overflowed: answer.overflowed(), failed };
}

Deno.test("boundedLine(): the first line, in pieces, and nothing after it", async () => {
  const r = await feed(100, ['{"ok":', 'true}\n{"more"', ":1}\n"]);
  assert.deepEqual(r, { line: '{"ok":true}', overflowed: false, failed: false });
});

Deno.test("boundedLine(): a line past its bound fails the sink and says so", async () => {
  const r = await feed(10, ["0123456", "789abc", "never read"]);
  assert.equal(r.overflowed, true);
  assert.equal(r.failed, true);
});
