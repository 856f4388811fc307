/**
 * `zvpg serve --stdio` as a remote's forced command: another host (a network namespace
 * with its own sshd) whose key may run nothing else, answering over a real ssh hop.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { itest, sh, type TestEnv } from "../support/itest.ts";
import { type RemoteHost, startRemoteHost } from "../support/remote_host.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A host whose key is bound to `zvpg serve --stdio` on `env`'s pool. */
function serving(env: TestEnv): Promise<RemoteHost> {
  return startRemoteHost({
    forcedCommand: `'${Deno.execPath()}' run --allow-all '${join(ROOT, "main.ts")}' serve --stdio`,
    env: { ZVPG_CONFIG_DIR: env.configDir },
  });
}

/** Runs ssh to `host` with `input` on its stdin; `command` is what the client asks for. */
async function ssh(host: RemoteHost, input: string, command: string[] = []) {
  const child = new Deno.Command("ssh", {
    args: [...host.sshOptions(), `root@${host.address}`, ...command],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

itest(
  "serve: over ssh, hello names the ZFS, list gives every snapshot with its GUID",
  async (env) => {
    await env.ok(["snapshot", "create", "base", "-m", "first"]);
    await env.ok(["branch", "create", "feat", "--from", "base"]);
    await env.ok(["branch", "snapshot", "feat", "f1", "-m", "on feat"]);
    const host = await serving(env);
    try {
      const hello = await ssh(host, '{"zvpg":1,"op":"hello"}\n');
      assert.equal(hello.code, 0, hello.stderr);
      const h = JSON.parse(hello.stdout);
      assert.equal(h.ok, true);
      assert.equal(h.zvpg, 1);
      assert.match(h.zfs.flavor, /^(zfs-fuse|openzfs)$/);

      const list = await ssh(host, '{"zvpg":1,"op":"list"}\n');
      assert.equal(list.code, 0, list.stderr);
      const refs = JSON.parse(list.stdout).refs as {
        name: string;
        guid: string;
        branch: string;
        message: string;
        created: string;
        referenced: number;
      }[];
      const byName = new Map(refs.map((r) => [r.name, r]));
      for (
        const [name, dataset, branch, message] of [
          ["base", `${env.pool}/data`, "main", "first"],
          ["f1", `${env.pool}/clones/feat`, "feat", "on feat"],
        ]
      ) {
        const ref = byName.get(name);
        assert.ok(ref, `${name} is offered`);
        const guid = await sh("zfs", [
          "get",
          "-H",
          "-p",
          "-o",
          "value",
          "guid",
          `${dataset}@${name}`,
        ]);
        assert.equal(ref.guid, guid.stdout.trim(), `${name}'s GUID is the pool's`);
        assert.equal(ref.branch, branch);
        assert.equal(ref.message, message);
        assert.ok(!Number.isNaN(Date.parse(ref.created)));
        assert.ok(ref.referenced > 0);
      }
      // a branch's hidden birth snapshot is no ref
      assert.ok(refs.every((r) => !r.name.startsWith(".")), JSON.stringify(refs));
    } finally {
      await host.close();
    }
  },
);

itest(
  "serve: the forced command runs nothing a client asks for, and refuses what is no request",
  async (env) => {
    const host = await serving(env);
    const marker = join(env.base, "asked-for");
    try {
      // the command the client asks for is never run: the key serves zvpg only
      const asked = await ssh(host, "", ["touch", marker]);
      assert.equal(asked.code, 1);
      assert.equal(existsSync(marker), false);
      assert.equal(JSON.parse(asked.stdout).error, "request is not JSON");

      for (
        const [input, pattern] of [
          ['{"zvpg":1,"op":"exec","argv":["touch","x"]}\n', /unknown operation 'exec'/],
          ['{"zvpg":9,"op":"list"}\n', /protocol 9/],
          ['{"zvpg":1,"op":"list","dataset":"/"}\n', /malformed request/],
        ] as const
      ) {
        const r = await ssh(host, input);
        assert.equal(r.code, 1, r.stdout);
        const answer = JSON.parse(r.stdout);
        assert.equal(answer.ok, false);
        assert.match(answer.error, pattern);
        assert.match(r.stderr, pattern, "the refusal is on stderr too, in one line");
      }
    } finally {
      await host.close();
    }
  },
);
