/**
 * The second host integration tests of remotes run on: a network namespace with its own
 * address and sshd. It must hold what those tests rely on: the key runs its forced
 * command and nothing else, the environment set for it reaches it, and a host whose key
 * is not the known one is refused before anything runs.
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { sh } from "../support/itest.ts";
import { startRemoteHost } from "../support/remote_host.ts";

Deno.test("remote host: the key runs its forced command only, with the host's environment", async () => {
  const host = await startRemoteHost({
    forcedCommand: 'printf "forced|%s|%s" "$SSH_ORIGINAL_COMMAND" "$ZVPG_CONFIG_DIR"',
    env: { ZVPG_CONFIG_DIR: "/tmp/zvpg-remote-cfg" },
  });
  const touched = `/tmp/zvpg-remote-touched-${host.netns}`;
  try {
    const r = await sh("ssh", [...host.sshOptions(), `root@${host.address}`, "touch", touched]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `forced|touch ${touched}|/tmp/zvpg-remote-cfg`);
    assert.equal(existsSync(touched), false, "the asked command never ran");
  } finally {
    await host.close();
  }
  const gone = await sh("ip", ["netns", "list"]);
  assert.doesNotMatch(gone.stdout, new RegExp(host.netns), "the namespace is removed");
});

Deno.test("remote host: an unknown host key is refused before anything runs", async () => {
  const host = await startRemoteHost({ forcedCommand: "echo ran" });
  try {
    const other = await sh("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-f",
      `${host.knownHosts}.other`,
    ]);
    assert.equal(other.code, 0, other.stderr);
    const otherKey = Deno.readTextFileSync(`${host.knownHosts}.other.pub`).trim();
    writeFileSync(host.knownHosts, `${host.address} ${otherKey}\n`);
    const r = await sh("ssh", [...host.sshOptions(), `root@${host.address}`]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    assert.doesNotMatch(r.stdout, /ran/);
  } finally {
    await host.close();
  }
});
