/**
 * Streams that are not what they claim: a hostile client's push to `zvpg serve --stdio`,
 * and a file remote whose stream was replaced. A stream received into a bare dataset
 * names its snapshot itself, and a replication or property stream (`zfs send -R`, `-p`)
 * makes child datasets with the sender's properties (a `mountpoint` over any path of this
 * host). zvpg receives into the snapshot name asked for and checks its GUID, so nothing
 * lands under another name, nothing under a false GUID, and no dataset or property of the
 * sender's choosing.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { itest, sh, type TestEnv, zfsGuid as guidOf } from "../support/itest.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs `zvpg serve --stdio` on `env`'s pool: `line`, then the stream of `zfs send ARGS`. */
async function serveWithStream(env: TestEnv, line: string, sendArgs: string[]) {
  const serve = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(ROOT, "main.ts"), "serve", "--stdio"],
    env: { ZVPG_CONFIG_DIR: env.configDir },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = serve.stdin.getWriter();
  await writer.write(new TextEncoder().encode(line));
  writer.releaseLock();
  const send = new Deno.Command("zfs", { args: ["send", ...sendArgs], stdout: "piped" }).spawn();
  await send.stdout.pipeTo(serve.stdin).catch(() => {});
  await send.status;
  const out = await serve.output();
  return {
    code: out.code,
    answer: JSON.parse(new TextDecoder().decode(out.stdout)),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A push request of snapshot `name` with GUID `guid`, whole, from `laptop`. */
function receiveLine(name: string, guid: string): string {
  return JSON.stringify({
    zvpg: 1,
    op: "receive",
    source: "laptop",
    ref: {
      name,
      guid,
      branch: "main",
      created: new Date().toISOString(),
      message: "m",
      referenced: 0,
      origin: null,
    },
    base: null,
    resume: false,
    force: false,
  }) + "\n";
}

/** Every dataset and snapshot below `<pool>/remotes`, and the properties received there. */
async function remotes(env: TestEnv): Promise<{ names: string[]; received: string }> {
  const names = (await env.datasets()).filter((n) => n.startsWith(`${env.pool}/remotes/`));
  const received = await sh("zfs", [
    ...["get", "-H", "-r", "-s", "received", "-o", "name,property,value", "all"],
    `${env.pool}/remotes`,
  ]);
  return { names, received: received.stdout };
}

/**
 * `<pool>/scratch` (mounted nowhere) with a child whose mountpoint is `evil`, both
 * snapshotted `@evil`: what a hostile sender sends with `-R`.
 */
async function scratch(env: TestEnv): Promise<string> {
  const root = `${env.pool}/scratch`;
  const evil = join(env.base, "evil");
  for (
    const args of [
      ["create", "-o", "mountpoint=none", root],
      ["create", "-o", `mountpoint=${evil}`, `${root}/kid`],
      ["snapshot", "-r", `${root}@evil`],
    ]
  ) {
    const r = await sh("zfs", args);
    assert.equal(r.code, 0, r.stderr);
  }
  return root;
}

itest(
  "serve: a pushed stream is received as the snapshot asked for, or not at all",
  async (env) => {
    const root = await scratch(env);
    const guid = await guidOf(`${root}@evil`);

    // a replication stream (children, their mountpoints) or a property stream, even one
    // that names its GUID honestly: refused before ZFS reads any of it
    for (
      const [args, claimed] of [
        [["-R", `${root}@evil`], guid],
        [["-p", `${root}/kid@evil`], await guidOf(`${root}/kid@evil`)],
      ] as [string[], string][]
    ) {
      const r = await serveWithStream(env, receiveLine("claimed", claimed), args);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.answer.error,
        "'laptop' sent no stream of snapshot 'claimed' as agreed: it is a replication or " +
          "property stream (zfs send -R, -I or -p); nothing was received",
      );
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.deepEqual(await remotes(env), { names: [`${env.pool}/remotes/laptop`], received: "" });
    }

    // a plain stream of another snapshot than the GUID asked for: refused the same way
    const lying = await serveWithStream(env, receiveLine("claimed", "12345"), [`${root}@evil`]);
    assert.equal(lying.code, 1, lying.stderr);
    assert.match(lying.answer.error, new RegExp(`it is of snapshot GUID ${guid}, not 12345;`));
    assert.deepEqual(await remotes(env), { names: [`${env.pool}/remotes/laptop`], received: "" });

    // the same stream, honestly described: it lands as the name asked for, with its GUID
    const honest = await serveWithStream(env, receiveLine("claimed", guid), [`${root}@evil`]);
    assert.equal(honest.code, 0, honest.stderr);
    assert.deepEqual(honest.answer.snapshot, "laptop/claimed");
    assert.deepEqual((await remotes(env)).names, [
      `${env.pool}/remotes/laptop`,
      `${env.pool}/remotes/laptop/main`,
      `${env.pool}/remotes/laptop/main@claimed`,
    ]);
    assert.equal(await guidOf(`${env.pool}/remotes/laptop/main@claimed`), guid);
  },
);

itest("pull: a file remote's stream of another snapshot lands nothing", async (env) => {
  const root = await scratch(env);
  await env.ok(["snapshot", "create", "s1", "-m", "first"]);
  const dir = join(env.base, "usb");
  await env.ok(["remote", "add", "usb", `file://${dir}`]);
  await env.ok(["push", "usb", "s1"]);
  // the remote is this host's own directory: pull it back as remote 'back'
  await env.ok(["remote", "add", "back", `file://${dir}`]);
  const refs = JSON.parse(Deno.readTextFileSync(join(dir, "refs.json"))).refs;
  const file = join(dir, refs[0].stream);
  const replace = async (args: string[]) => {
    const r = await new Deno.Command("zfs", { args: ["send", ...args], stdout: "piped" }).output();
    assert.equal(r.code, 0);
    writeFileSync(file, r.stdout, { mode: 0o600 });
  };

  await replace(["-R", `${root}@evil`]);
  const multi = await env.zvpg(["pull", "back", "s1"]);
  assert.equal(multi.code, 1, multi.stderr);
  assert.match(
    multi.stderr,
    /^error: remote 'back' from \S+ sent no stream of snapshot 's1' as agreed: it is a replication/m,
  );
  assert.equal((await remotes(env)).received, "");
  assert.ok(
    (await remotes(env)).names.every((n) => !n.includes("kid") && !n.includes("@evil")),
    JSON.stringify(await remotes(env)),
  );

  await replace([`${root}@evil`]);
  const other = await env.zvpg(["pull", "back", "s1"]);
  assert.equal(other.code, 1, other.stderr);
  assert.match(
    other.stderr,
    new RegExp(
      `^error: remote 'back' from ${file} sent no stream of snapshot 's1' as agreed: ` +
        `it is of snapshot GUID \\d+, not ${refs[0].guid}; nothing was received`,
      "m",
    ),
  );
  assert.ok(
    (await remotes(env)).names.every((n) => !n.includes("@")),
    JSON.stringify(await remotes(env)),
  );
});
