/**
 * `zvpg serve --stdio` as a remote's forced command: another host (a network namespace
 * with its own sshd) whose key may run nothing else, answering over a real ssh hop.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { itest, TestEnv, zfsGuid as guidOf } from "../support/itest.ts";
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
        const guid = await guidOf(`${dataset}@${name}`);
        assert.equal(ref.guid, guid, `${name}'s GUID is the pool's`);
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

itest(
  "fetch over ssh: another host lists what this one holds, and which of it it has, by GUID",
  async (env) => {
    await env.ok(["snapshot", "create", "s1", "-m", "first"]);
    await env.ok(["snapshot", "create", "s2", "-m", "second"]);
    const host = await serving(env);
    // the other host: its own pool, config and ports, reaching this one with the test's key
    const other = new TestEnv({ sshOptions: host.sshOptions() });
    try {
      await other.ok(["init", "env"]);
      await other.ok(["remote", "add", "origin", `ssh://root@${host.address}`]);
      const fetched = await other.json<{
        kind: string;
        server: { version: string; zfs: { flavor: string } };
        refs: { name: string; guid: string; message: string; here: string | null }[];
        missing: number;
      }>(["fetch", "origin"]);
      assert.equal(fetched.kind, "ssh");
      assert.match(fetched.server.zfs.flavor, /^(zfs-fuse|openzfs)$/);
      assert.deepEqual(fetched.refs.map((r) => [r.name, r.message, r.here]), [
        ["s1", "first", null],
        ["s2", "second", null],
      ]);
      assert.equal(fetched.missing, 2);
      const guid = await guidOf(`${env.pool}/data@s2`);
      assert.equal(fetched.refs[1].guid, guid);
      const text = await other.ok(["fetch", "origin"]);
      assert.match(text.stdout, /^NAME\s+BRANCH\s+CREATED\s+HERE\s+MESSAGE\n/);
      assert.match(text.stderr, /2 of 2 snapshot\(s\) not here — 'zvpg pull origin <snapshot>'/);

      // a host whose key is not the known one: nothing runs, one line says what to check
      const knownHosts = host.knownHosts;
      const good = Deno.readTextFileSync(knownHosts);
      Deno.writeTextFileSync(
        knownHosts,
        good.replace(
          /ssh-ed25519 \S+/,
          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake1",
        ),
      );
      const unknown = await other.zvpg(["fetch", "origin"]);
      assert.equal(unknown.code, 1, unknown.stderr);
      assert.equal(unknown.stdout, "");
      assert.match(
        unknown.stderr,
        /^error: cannot reach remote 'origin' over ssh: .*— check that 'ssh root@/m,
      );
      Deno.writeTextFileSync(knownHosts, good);
    } finally {
      await other.cleanup();
      await host.close();
    }
  },
);

itest(
  "fetch over ssh: a host whose key runs something else than zvpg is named, not misread",
  async (env) => {
    const host = await startRemoteHost({ forcedCommand: "echo hello from a shell" });
    try {
      env.writeConfig({ sshOptions: host.sshOptions() });
      await env.ok(["remote", "add", "box", `ssh://root@${host.address}`]);
      const r = await env.zvpg(["fetch", "box"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^error: remote 'box' did not answer as zvpg \(exit 0\): hello from a shell — install zvpg/m,
      );
    } finally {
      await host.close();
    }
  },
);
