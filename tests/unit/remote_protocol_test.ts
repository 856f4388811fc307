import assert from "node:assert/strict";
import {
  encodeAnswer,
  encodeRequest,
  MAX_REQUEST_BYTES,
  parseRequest,
  PROTOCOL_VERSION,
  ProtocolError,
  zfsCapabilities,
} from "../../src/domain/remote_protocol.ts";

Deno.test("remote protocol: a request line round-trips", () => {
  for (const op of ["hello", "list"] as const) {
    const line = encodeRequest({ zvpg: PROTOCOL_VERSION, op });
    assert.ok(line.endsWith("\n"));
    assert.deepEqual(parseRequest(line.trimEnd()), { zvpg: PROTOCOL_VERSION, op });
  }
});

Deno.test("remote protocol: what is not a request is refused by name", () => {
  const refused = (line: string, pattern: RegExp) =>
    assert.throws(() => parseRequest(line), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.match(e.message, pattern);
      assert.ok(e.hint.length > 0);
      return true;
    });
  refused("", /not JSON/);
  refused("rm -rf /", /not JSON/);
  refused('{"zvpg":2,"op":"hello"}', /protocol 2, this server speaks 1/);
  refused('{"zvpg":1,"op":"exec","argv":["sh"]}', /unknown operation 'exec'/);
  refused('{"zvpg":1,"op":"list","path":"/etc"}', /malformed request/);
  refused('{"op":"list"}', /malformed request/);
  refused("null", /malformed request/);
  refused(" ".repeat(MAX_REQUEST_BYTES + 1), /longer than/);
});

Deno.test("remote protocol: an answer is one line", () => {
  const line = encodeAnswer({ ok: false, zvpg: 1, error: "a\nb" });
  assert.equal(line.indexOf("\n"), line.length - 1);
});

Deno.test("remote protocol: what each ZFS can do in a transfer", () => {
  assert.deepEqual(zfsCapabilities("zfs-fuse"), {
    flavor: "zfs-fuse",
    resume: false,
    sizeEstimate: false,
    bookmarks: false,
    compressed: false,
  });
  assert.equal(zfsCapabilities("openzfs").resume, true);
});
