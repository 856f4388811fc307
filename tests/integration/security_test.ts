/**
 * Security: where ports are published, who may log in without a password, where the
 * password may (not) appear, that nothing outside zvpg's dataset tree is touched, that
 * the container runtime cannot be turned into a shell, and what pg_hba.conf trusts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { assertCliError, type CliResult, itest, sh, TEST_IMAGE } from "../support/itest.ts";
import { containerOf, must, password } from "../support/fault_support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The host addresses a container's port 5432 is published on (`docker port`). */
async function publishedHosts(container: string): Promise<string[]> {
  const out = await must("docker", ["port", container, "5432/tcp"]);
  return out.trim().split("\n").filter((l) => l !== "").map((l) =>
    l.trim().replace(/:\d+$/, "").replace(/^\[|\]$/g, "")
  );
}

itest("ports are published on 127.0.0.1 only, and on bindAddress when set", async (env) => {
  await env.ok(["branch", "create", "b"]);
  for (const branch of ["main", "b"]) {
    const container = await containerOf(env, branch);
    assert.deepEqual(await publishedHosts(container), ["127.0.0.1"], branch);
    const bindings = JSON.parse(
      await must("docker", ["inspect", "-f", "{{json .HostConfig.PortBindings}}", container]),
    ) as Record<string, { HostIp: string; HostPort: string }[]>;
    assert.deepEqual(Object.keys(bindings), ["5432/tcp"]);
    assert.deepEqual(bindings["5432/tcp"].map((b) => b.HostIp), ["127.0.0.1"]);
    assert.equal(Number(bindings["5432/tcp"][0].HostPort), await env.port(branch));
  }
  env.writeConfig({ bindAddress: "0.0.0.0" });
  await env.ok(["branch", "stop", "b"]);
  await env.ok(["branch", "start", "b"]);
  const hosts = await publishedHosts(await containerOf(env, "b"));
  assert.ok(hosts.length >= 1 && hosts.every((h) => h === "0.0.0.0" || h === "::"), `${hosts}`);
  assert.ok(hosts.includes("0.0.0.0"), `${hosts}`);
  assert.equal(await env.psql(await env.port("b"), "select 1"), "1");
});

itest("no password-less TCP login from other containers or from the host", async (env) => {
  const container = await containerOf(env, "main");
  const ip = (await must("docker", [
    "inspect",
    "-f",
    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    container,
  ])).trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `container IP '${ip}'`);
  const psqlIn = (extra: string[]) =>
    sh("docker", [
      "run",
      "--rm",
      ...extra,
      "--entrypoint",
      "psql",
      TEST_IMAGE,
      "-X",
      "-w",
      "-At",
      "-h",
      ip,
      "-U",
      "postgres",
      "-d",
      "postgres",
      "-c",
      "select 1",
    ]);
  const without = await psqlIn([]);
  assert.notEqual(without.code, 0, `logged in without a password: ${without.stdout}`);
  assert.match(without.stderr, /password/i);
  const wrong = await psqlIn(["-e", "PGPASSWORD=not-the-password"]);
  assert.notEqual(wrong.code, 0, "logged in with a wrong password");
  const withPassword = await psqlIn(["-e", `PGPASSWORD=${password(env)}`]);
  assert.equal(withPassword.code, 0, withPassword.stderr);
  assert.equal(withPassword.stdout.trim(), "1");

  const host = await sh("psql", [
    "-X",
    "-w",
    "-At",
    "-h",
    "127.0.0.1",
    "-p",
    String(await env.port("main")),
    "-U",
    "postgres",
    "-d",
    "postgres",
    "-c",
    "select 1",
  ], { PGPASSFILE: "/nonexistent/pgpass", PGCONNECT_TIMEOUT: "5" });
  assert.notEqual(host.code, 0, "the host logged in through the published port without password");
  assert.match(host.stderr, /password/i);
});

/** Every regular file below `dir`. */
function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesBelow(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

itest("the password appears in no ZFS property, container, log or command output", async (env) => {
  const secret = password(env);
  assert.ok(secret.length >= 16, "a generated password");
  const outputs: { args: string[]; result: CliResult }[] = [];
  const run = async (args: string[], extra: Record<string, string> = {}) => {
    const result = await env.zvpg(args, extra);
    outputs.push({ args, result });
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return result;
  };
  const debug = { ZVPG_LOG_LEVEL: "DEBUG" };
  await run(["init", "env"], debug);
  await run(["init", "check"], debug);
  await run(["snapshot", "create", "s1", "-m", "a message"], debug);
  await run(["branch", "create", "b", "--from", "s1"], debug);
  await run(["branch", "snapshot", "b", "s2"], debug);
  for (const format of ["table", "json"]) {
    await run(["branch", "list", "-f", format], debug);
    await run(["branch", "info", "b", "-f", format], debug);
    await run(["snapshot", "list", "-f", format]);
    await run(["snapshot", "info", "s1", "-f", format]);
    await run(["status", "system", "-f", format], debug);
    await run(["status", "branches", "-f", format]);
    await run(["status", "snapshots", "-f", format]);
    await run(["status", "health", "-f", format], debug);
  }
  await run(["branch", "stop", "b"], debug);
  await run(["branch", "start", "b"], debug);
  await run(["status", "health", "--repair"], debug);
  await run(["branch", "create", "c", "--parent", "b"], debug);
  for (const { args, result } of outputs) {
    assert.ok(
      !(result.stdout + result.stderr).includes(secret),
      `the password is in the output of 'zvpg ${args.join(" ")}'`,
    );
  }

  const names = await env.datasets();
  assert.ok(names.some((n) => n.includes("@")), "snapshots are checked too");
  const props = await must("zfs", ["get", "-H", "all", ...names]);
  for (const name of names) assert.ok(props.includes(`${name}\t`), `no properties of ${name}`);
  assert.ok(!props.includes(secret), "the password is in a ZFS property");

  const ids = (await must("docker", ["ps", "-aq", "--filter", `label=zvpg.pool=${env.pool}`]))
    .split("\n").filter((l) => l !== "");
  assert.equal(ids.length, 3);
  const inspect = await must("docker", ["inspect", ...ids]);
  assert.ok(!inspect.includes(secret), "the password is in 'docker inspect'");

  const logs = filesBelow(join(env.base, "log"));
  assert.ok(logs.length > 0, "zvpg wrote a log file");
  for (const file of logs) {
    assert.ok(!readFileSync(file, "utf8").includes(secret), `the password is in ${file}`);
  }
  // runtime directories (config copies, sockets) and no initdb secret left behind
  for (const file of filesBelow(join(env.mountDir, "sockets"))) {
    assert.ok(!readFileSync(file, "latin1").includes(secret), `the password is in ${file}`);
  }
  for (const dir of readdirSync(join(env.mountDir, "sockets"))) {
    assert.ok(!dir.includes("init"), `initdb secret directory left behind: ${dir}`);
  }

  for (const name of ["pgpass", "postgresql.conf", "pg_hba.conf", "pg_ident.conf"]) {
    const mode = statSync(join(env.configDir, name)).mode & 0o777;
    assert.equal(mode.toString(8), "600", `${name} mode`);
  }
});

itest("nothing outside zvpg's dataset tree is listed, deleted or snapshotted", async (env) => {
  const other = `${env.pool}/other`;
  await must("zfs", ["create", "-o", "zvpg:branch=evil", other]);
  await must("zfs", ["snapshot", "-o", "zvpg:message=x", `${other}@x`]);
  const before = await env.datasets();
  assert.ok(before.includes(other) && before.includes(`${other}@x`));

  const list = await env.json<{ name: string }[]>(["branch", "list"]);
  assert.deepEqual(list.map((b) => b.name), ["main"]);
  const snapshots = await env.json<{ name: string }[]>(["snapshot", "list"]);
  assert.deepEqual(snapshots, []);
  for (const cmd of ["info", "delete", "stop", "start"]) {
    assertCliError(await env.zvpg(["branch", cmd, "evil"]), 1, /branch 'evil' does not exist/);
  }
  assertCliError(
    await env.zvpg(["branch", "delete", other]),
    1,
    /branch '.*\/other' does not exist/,
  );
  assertCliError(await env.zvpg(["branch", "snapshot", "evil", "s"]), 1, /'evil' does not exist/);
  for (const name of [`${other}@x`, `${env.pool}/data@x`, `${other}`, "other@x"]) {
    for (const force of [[], ["--force"]]) {
      assertCliError(
        await env.zvpg(["snapshot", "delete", name, ...force]),
        2,
        /invalid snapshot name/,
      );
    }
  }
  assertCliError(await env.zvpg(["snapshot", "delete", "x"]), 1, /snapshot 'x' does not exist/);
  assertCliError(await env.zvpg(["snapshot", "info", "x"]), 1, /snapshot 'x' does not exist/);
  assertCliError(
    await env.zvpg(["branch", "create", "y", "--from", "x"]),
    1,
    /snapshot 'x' does not exist/,
  );
  assertCliError(
    await env.zvpg(["branch", "create", "y", "--from", `${other}@x`]),
    2,
    /invalid snapshot name/,
  );
  assertCliError(
    await env.zvpg(["snapshot", "create", "s", "--branch", "evil"]),
    1,
    /branch 'evil' does not exist/,
  );
  const repaired = await env.zvpg(["status", "health", "--repair"]);
  assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
  assert.deepEqual(await env.datasets(), before);
  const prop = await must("zfs", ["get", "-H", "-o", "value", "zvpg:branch", other]);
  assert.equal(prop.trim(), "evil");
});

itest("containerRuntime values that are not docker, podman or nerdctl are refused", async (env) => {
  const marker = join(env.base, "pwned");
  const values = [
    "sh",
    "/bin/sh",
    "docker; rm -rf /",
    `docker; touch ${marker}`,
    `$(touch ${marker})`,
    "docker --host tcp://127.0.0.1:1",
    "../docker",
    "bash",
    "",
  ];
  for (const value of values) {
    env.writeConfig({ containerRuntime: value });
    assertCliError(await env.zvpg(["branch", "list"]), 1, /containerRuntime/);
    assertCliError(await env.zvpg(["status", "health"]), 1, /containerRuntime/);
    env.writeConfig({});
    if (value !== "") {
      assertCliError(
        await env.zvpg(["branch", "list"], { ZVPG_CONTAINER_RUNTIME: value }),
        1,
        /ZVPG_CONTAINER_RUNTIME.*containerRuntime|containerRuntime/,
      );
    }
  }
  assert.ok(!existsSync(marker), "a runtime value ran a shell command");
}, { init: false });

Deno.test("templates/pg_hba.conf trusts only local, 127.0.0.1/32 and ::1/128", () => {
  const text = readFileSync(join(ROOT, "templates/pg_hba.conf"), "utf8");
  const rules = text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => l !== "")
    .map((l) => l.split(/\s+/));
  assert.ok(rules.length > 0);
  let trusted = 0;
  for (const rule of rules) {
    assert.ok(!rule[0].startsWith("include"), `includes are not allowed: ${rule.join(" ")}`);
    const type = rule[0];
    assert.ok(
      ["local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"].includes(type),
      `unknown rule type: ${rule.join(" ")}`,
    );
    const address = type === "local" ? null : rule[3];
    // with a separate netmask column the method moves one to the right
    const methodIndex = type === "local" ? 3 : /^\d+\.\d+\.\d+\.\d+$/.test(rule[4] ?? "") ? 5 : 4;
    const method = rule[methodIndex];
    assert.ok(method, `no method: ${rule.join(" ")}`);
    if (["trust", "peer", "ident"].includes(method)) {
      trusted++;
      assert.ok(
        type === "local" || (type === "host" && ["127.0.0.1/32", "::1/128"].includes(address!)),
        `password-less '${method}' beyond local and loopback: ${rule.join(" ")}`,
      );
    } else {
      assert.ok(
        ["scram-sha-256", "reject", "cert"].includes(method),
        `weak or unknown method '${method}': ${rule.join(" ")}`,
      );
    }
  }
  assert.ok(trusted > 0, "zvpg needs the local socket trusted for CHECKPOINT");
  // everything else must need a password: the catch-all rules exist
  for (const all of ["0.0.0.0/0", "::/0"]) {
    const rule = rules.find((r) => r[0] === "host" && r[3] === all);
    assert.ok(rule, `no rule for ${all}`);
    assert.equal(rule[4], "scram-sha-256");
  }
});
