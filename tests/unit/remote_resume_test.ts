/**
 * Resuming transfers on OpenZFS, on the strict fake runner: what ZFS 2.3 prints for a
 * resume token (`zfs send -nvP -t`), discarding a partial receive (`receive -A`), a
 * server that discards another snapshot's partial receive before a fresh stream; and what
 * an interrupted push says when ssh lost the server.
 */
import assert from "node:assert/strict";
import { Zfs } from "../../src/adapters/zfs.ts";
import { createContext } from "../../src/cli/session.ts";
import { CommandFailedError } from "../../src/errors.ts";
import { AnswerSchemas, PROTOCOL_VERSION } from "../../src/domain/remote_protocol.ts";
import { parseRemoteUrl } from "../../src/domain/remote.ts";
import { sshArgv, sshRemote, streamToRemote } from "../../src/ops/remote_transport.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";
import { ServeService } from "../../src/workflows/serve_service.ts";
import { testConfig, withTempDir } from "./helpers.ts";
import { fakeSendStream } from "../support/send_stream.ts";
import { baseHoldCalls } from "../cli/fixtures.ts";

const TOKEN = "1-f723f9a3e-e0-789c6360640003";

/** `zfs send -nvP -t` of an increment's token, as OpenZFS 2.3.9 prints it (stdout). */
const DRY_RUN = [
  "resume token contents:",
  "nvlist version: 0",
  "\tfromguid = 0x87ad64ce90f63016",
  "\tobject = 0x3",
  "\toffset = 0x1c60000",
  "\tbytes = 0x1c91fc8",
  "\ttoguid = 0xe5e1731bc2bdd37e",
  "\ttoname = tp/src@B",
  "incremental\ttp/src@A\ttp/src@B\t33072552",
  "size\t33072552",
  "",
].join("\n");

Deno.test("zfs: resumeTokenTarget reads toname and the hex toguid of OpenZFS 2.3", async () => {
  const fake = new FakeRunner([
    { argv: ["zfs", "send", "-nvP", "-t", TOKEN], result: { stdout: DRY_RUN } },
    {
      argv: ["zfs", "send", "-nvP", "-t", "1-abc-def"],
      result: { code: 255, stderr: "cannot resume send: resume token is corrupt" },
    },
  ]);
  const zfs = new Zfs(fake, "openzfs");
  assert.deepEqual(await zfs.resumeTokenTarget(TOKEN), {
    toname: "tp/src@B",
    toguid: BigInt("0xe5e1731bc2bdd37e").toString(),
  });
  assert.equal(await zfs.resumeTokenTarget("1-abc-def"), undefined);
  fake.assertDone();
});

Deno.test("zfs: resumeToken is null for '-', and never asked on zfs-fuse", async () => {
  const get = ["zfs", "get", "-H", "-p", "-o", "name,property,value,source"];
  const fake = new FakeRunner([
    {
      argv: [...get, "type,receive_resume_token", "p/t"],
      result: { stdout: "p/t\ttype\tfilesystem\t-\np/t\treceive_resume_token\t-\t-\n" },
    },
    {
      argv: [...get, "type,receive_resume_token", "p/t"],
      result: {
        stdout: `p/t\ttype\tfilesystem\t-\np/t\treceive_resume_token\t${TOKEN}\t-\n`,
      },
    },
  ]);
  const zfs = new Zfs(fake, "openzfs");
  assert.equal(await zfs.resumeToken("p/t"), null);
  assert.equal(await zfs.resumeToken("p/t"), TOKEN);
  assert.equal(await new Zfs(fake, "zfs-fuse").resumeToken("p/t"), null);
  fake.assertDone();
});

Deno.test("zfs: abortReceive takes no state or no dataset as done, and fails otherwise", async () => {
  const abort = ["zfs", "receive", "-A", "p/t"];
  const fake = new FakeRunner([
    { argv: abort },
    {
      argv: abort,
      result: { code: 1, stderr: "'p/t' does not have any resumable receive state to abort\n" },
    },
    // a whole receive's partial state went with its dataset (`receive -A` destroys it)
    { argv: abort, result: { code: 2, stderr: "cannot open 'p/t': dataset does not exist\n" } },
    { argv: abort, result: { code: 1, stderr: "cannot destroy 'p/t': dataset is busy\n" } },
  ]);
  const zfs = new Zfs(fake, "openzfs");
  await zfs.abortReceive("p/t");
  await zfs.abortReceive("p/t");
  await zfs.abortReceive("p/t");
  await assert.rejects(() => zfs.abortReceive("p/t"), CommandFailedError);
  fake.assertDone();
});

Deno.test("serve: a fresh push discards another snapshot's partial whole receive, then receives", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner();
    const ctx = createContext(testConfig(dir), fake);
    ctx.zfs = new Zfs(fake, "openzfs");
    const tracking = ctx.layout.remoteBranchDataset("laptop", "main");
    const get = ["zfs", "get", "-H", "-p"];
    const cols = ["-o", "name,property,value,source"];
    const trackingGet = [...get, "-d", "1", ...cols, "type,guid,createtxg,readonly,zvpg:taken"];
    let received = "";
    fake.expect(
      { argv: ["zfs", "list", "-H", "-o", "name", ctx.layout.dataDataset] },
      // the partial state of a whole receive: a dataset without snapshots, with a token
      {
        argv: [...trackingGet, tracking],
        result: {
          stdout: `${tracking}\ttype\tfilesystem\t-\n${tracking}\treadonly\toff\tdefault\n`,
        },
      },
      {
        argv: [...get, ...cols, "type,receive_resume_token", tracking],
        result: { stdout: `${tracking}\treceive_resume_token\t${TOKEN}\t-\n` },
      },
      { argv: ["zfs", "receive", "-A", tracking] },
      // gone with its partial state: nothing to destroy, the parents are there
      {
        argv: [...trackingGet, tracking],
        result: { code: 1, stderr: `cannot open '${tracking}': dataset does not exist` },
      },
      { argv: ["zfs", "list", "-H", "-o", "name", ctx.layout.remoteDataset("laptop")] },
      {
        argv: ["zfs", "receive", "-u", "-s", `${tracking}@b`],
        check: (o) => {
          assert.ok(o.stdinStream);
          received = "stream";
        },
      },
      { argv: ["zfs", "set", "readonly=on", tracking] },
      {
        argv: [
          "zfs",
          "set",
          "zvpg:message=second",
          "zvpg:taken=2026-11-24T10:00:00.000Z",
          "zvpg:branch=main",
          `${tracking}@b`,
        ],
      },
      ...baseHoldCalls(`${tracking}@b`, { [`${tracking}@b`]: undefined }, "laptop"),
    );
    const answer = await new ServeService(ctx, "laptop").receive(
      {
        zvpg: PROTOCOL_VERSION,
        op: "receive",
        source: "laptop",
        ref: {
          name: "b",
          guid: "222",
          branch: "main",
          created: "2026-11-24T10:00:00.000Z",
          message: "second",
          referenced: 100,
          origin: null,
        },
        base: null,
        resume: false,
        force: false,
      },
      new Blob([fakeSendStream("222", null) as Uint8Array<ArrayBuffer>]).stream(),
    );
    assert.equal(answer.snapshot, "laptop/b");
    assert.equal(received, "stream");
    fake.assertDone();
  });
});

Deno.test("push over ssh: ssh that lost the server is named, not the sender's broken pipe", async () => {
  await withTempDir(async (dir) => {
    const fake = new FakeRunner();
    const ctx = createContext(testConfig(dir), fake);
    const remote = sshRemote({ name: "staging", url: parseRemoteUrl("ssh://db2/tank") })!;
    fake.expect({
      argv: ["ssh", ...sshArgv(remote.url, ctx.config.sshOptions)],
      result: { code: 255, stderr: "Connection to db2 closed by remote host.\n" },
    });
    const request = {
      zvpg: PROTOCOL_VERSION,
      op: "tracked" as const,
      source: "laptop",
      branch: "main",
      candidates: [],
    };
    await assert.rejects(
      () =>
        streamToRemote(ctx, remote, request, async (out) => {
          await out.close();
          // zfs send sees its pipe break once ssh has gone
          await new Promise((r) => setTimeout(r, 20));
          throw new Error("'zfs send p/data@a' failed (exit 1): Broken pipe");
        }, AnswerSchemas.tracked),
      /cannot reach remote 'staging' over ssh: Connection to db2 closed by remote host\./,
    );
    fake.assertDone();
  });
});
