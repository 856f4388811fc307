/**
 * Security: where ports are published, who may log in without a password, where the
 * password may (not) appear, that nothing outside zvpg's dataset tree is touched, that
 * the container runtime cannot be turned into a shell, and what pg_hba.conf trusts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  assertCliError,
  type CliResult,
  itest,
  sh,
  TEST_IMAGE,
  type TestEnv,
} from "../support/itest.ts";
import { containerOf, must, password } from "../support/fault_support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * psql arguments that try `select 1` as postgres on `host` (an address, or a socket
 * directory) and `port`, never asking for a password (`-w`).
 */
function selectOneArgs(host: string, port?: number): string[] {
  const at = port === undefined ? [] : ["-p", String(port)];
  return [
    "-X",
    "-w",
    "-At",
    "-h",
    host,
    ...at,
    "-U",
    "postgres",
    "-d",
    "postgres",
    "-c",
    "select 1",
  ];
}

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
      ...selectOneArgs(ip),
    ]);
  const without = await psqlIn([]);
  assert.notEqual(without.code, 0, `logged in without a password: ${without.stdout}`);
  assert.match(without.stderr, /password/i);
  const wrong = await psqlIn(["-e", "PGPASSWORD=not-the-password"]);
  assert.notEqual(wrong.code, 0, "logged in with a wrong password");
  const withPassword = await psqlIn(["-e", `PGPASSWORD=${password(env)}`]);
  assert.equal(withPassword.code, 0, withPassword.stderr);
  assert.equal(withPassword.stdout.trim(), "1");

  const host = await sh("psql", selectOneArgs("127.0.0.1", await env.port("main")), {
    PGPASSFILE: "/nonexistent/pgpass",
    PGCONNECT_TIMEOUT: "5",
  });
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
  for (const name of [`${other}@x`, `${env.pool}/data@x`, "other@x"]) {
    for (const force of [[], ["--force"]]) {
      assertCliError(
        await env.zvpg(["snapshot", "delete", name, ...force]),
        2,
        /invalid snapshot name/,
      );
    }
  }
  // `<pool>/other` reads as `<remote>/<snapshot>`, a pulled snapshot's name: none is here
  for (const force of [[], ["--force"]]) {
    assertCliError(
      await env.zvpg(["snapshot", "delete", other, ...force]),
      1,
      /snapshot '.*\/other' does not exist/,
    );
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

Deno.test("templates/pg_hba.conf trusts only the container-local unix socket", () => {
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
        type === "local",
        `password-less '${method}' for a TCP client (${address}): ${rule.join(" ")}`,
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

/** Runs `program args` as uid/gid 65534 (nobody), with no supplementary groups. */
function asNobody(program: string, args: string[], env: Record<string, string> = {}) {
  return sh("setpriv", [
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--",
    program,
    ...args,
  ], env);
}

/** Runs the CLI under `umask 000`, so only explicit modes protect what it makes. */
function zvpgUmask0(env: TestEnv, args: string[]): Promise<CliResult> {
  return sh("sh", [
    "-c",
    'umask 000 && exec "$@"',
    "sh",
    Deno.execPath(),
    "run",
    "--allow-all",
    join(ROOT, "main.ts"),
    ...args,
  ], { ZVPG_CONFIG_DIR: env.configDir, ZVPG_LOG_LEVEL: "INFO" });
}

/**
 * Everything below `top` that another uid (or group) could use: a directory with any
 * group/other bit, a file with any group/other bit (sockets aside: their directory
 * guards them). `top` itself must not be traversable by others.
 */
function openToOthers(top: string): string[] {
  const problems: string[] = [];
  if (!existsSync(top)) return problems;
  const topMode = lstatSync(top).mode & 0o777;
  if ((topMode & 0o077) !== 0) problems.push(`${top} (${topMode.toString(8)})`);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const info = lstatSync(path);
      const mode = info.mode & 0o777;
      if (info.isSymbolicLink() || info.isSocket()) continue;
      if ((mode & 0o077) !== 0) problems.push(`${path} (${mode.toString(8)})`);
      if (info.isDirectory()) walk(path);
    }
  };
  walk(top);
  return problems;
}

itest(
  "uid 65534 cannot log in through the socket or TCP, and nothing zvpg made is open to it",
  async (env) => {
    const r = await zvpgUmask0(env, ["branch", "create", "b"]);
    assert.equal(r.code, 0, r.stderr);
    const made = await zvpgUmask0(env, ["snapshot", "create", "s1"]);
    assert.equal(made.code, 0, made.stderr);
    const socketDir = join(env.mountDir, "sockets", "main", "sock");
    assert.ok(existsSync(join(socketDir, ".s.PGSQL.5432")), "main's socket exists on the host");

    for (const branch of ["main", "b"]) {
      const sock = join(env.mountDir, "sockets", branch, "sock");
      const viaSocket = await asNobody("psql", selectOneArgs(sock));
      assert.notEqual(viaSocket.code, 0, `uid 65534 logged in through ${sock}`);
      assert.match(viaSocket.stderr, /permission denied/i, viaSocket.stderr);
      const viaTcp = await asNobody("psql", selectOneArgs("127.0.0.1", await env.port(branch)), {
        PGCONNECT_TIMEOUT: "5",
      });
      assert.notEqual(viaTcp.code, 0, `uid 65534 logged in on port of '${branch}'`);
      assert.match(viaTcp.stderr, /password/i, viaTcp.stderr);
    }

    // inside the container, TCP on loopback needs the password too; the socket is trusted
    const container = await containerOf(env, "main");
    const inside = (host: string) =>
      sh("docker", [
        "exec",
        "-u",
        "postgres",
        container,
        "psql",
        ...selectOneArgs(host),
      ]);
    const loopback = await inside("127.0.0.1");
    assert.notEqual(loopback.code, 0, "password-less login on 127.0.0.1 inside the container");
    assert.match(loopback.stderr, /password/i);
    const local = await inside("/var/run/postgresql");
    assert.equal(local.code, 0, local.stderr);

    // root still gets in with the password
    assert.equal(await env.psql(await env.port("b"), "select 1"), "1");

    const logDir = join(env.base, "log");
    for (const top of [env.mountDir, env.configDir, logDir]) {
      assert.deepEqual(openToOthers(top), [], `open to other uids below ${top}`);
    }
    for (const file of [join(logDir, "zvpg.log"), join(env.mountDir, ".zvpg.lock")]) {
      assert.equal((statSync(file).mode & 0o777).toString(8), "600", file);
    }
  },
);

itest(
  "an install an older version left open is closed by init env and branch start",
  async (env) => {
    await env.ok(["branch", "create", "b"]);
    const logFile = join(env.base, "log", "zvpg.log");
    const lockFile = join(env.mountDir, ".zvpg.lock");
    // what earlier versions left: 0755/0775 directories, a 0666 log, a 0644 lock
    for (const dir of [env.mountDir, env.configDir, join(env.mountDir, "data")]) {
      chmodSync(
        dir,
        0o755,
      );
    }
    for (const dir of [join(env.mountDir, "sockets"), join(env.mountDir, "clones")]) {
      chmodSync(dir, 0o755);
    }
    for (const branch of ["main", "b"]) {
      chmodSync(join(env.mountDir, "sockets", branch), 0o755);
      chmodSync(join(env.mountDir, "sockets", branch, "sock"), 0o775);
    }
    chmodSync(logFile, 0o666);
    chmodSync(lockFile, 0o644);
    chmodSync(env.configFile, 0o644);
    assert.notDeepEqual(openToOthers(env.mountDir), []);

    await env.ok(["init", "env"]);
    await env.ok(["branch", "stop", "b"]);
    await env.ok(["branch", "start", "b"]);
    for (const top of [env.mountDir, env.configDir, join(env.base, "log")]) {
      assert.deepEqual(openToOthers(top), [], `still open to other uids below ${top}`);
    }
    const viaSocket = await asNobody(
      "psql",
      selectOneArgs(join(env.mountDir, "sockets", "main", "sock")),
    );
    assert.notEqual(viaSocket.code, 0, "uid 65534 logged in through main's socket");
  },
);

itest("zvpg.log and the lock file are 0600 whatever the umask", async (env) => {
  const r = await zvpgUmask0(env, ["init", "env"]);
  assert.equal(r.code, 0, r.stderr);
  const logDir = join(env.base, "log");
  assert.equal((statSync(logDir).mode & 0o777).toString(8), "700", "log directory");
  assert.equal((statSync(join(logDir, "zvpg.log")).mode & 0o777).toString(8), "600", "zvpg.log");
  assert.equal(
    (statSync(join(env.mountDir, ".zvpg.lock")).mode & 0o777).toString(8),
    "600",
    "lock file",
  );
  assert.equal((statSync(env.mountDir).mode & 0o777).toString(8), "700", "mount directory");
  assert.equal((statSync(env.configDir).mode & 0o777).toString(8), "700", "config directory");
}, { init: false });
