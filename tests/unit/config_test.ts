/**
 * Configuration: defaults, environment overrides, path resolution and one-line errors
 * that name the key and the value.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expandHome, loadConfig, parseJsonLenient } from "../../src/config/config.ts";
import { configSchema, GIT_BRANCH_PATTERN, runtimeFlavor } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";
import { assertOneLine, withTempDir } from "./helpers.ts";

/** Writes `text` as `dir/config.json` and loads it with an environment rooted in `dir`. */
function loadText(dir: string, text: string, env: Record<string, string> = {}) {
  writeFileSync(join(dir, "config.json"), text);
  return loadConfig({ env: { HOME: dir, ZVPG_CONFIG_DIR: dir, ...env } });
}

/** Loads `text` expecting a one-line ConfigError that contains every one of `needles`. */
function expectError(
  dir: string,
  text: string,
  needles: string[],
  env: Record<string, string> = {},
): ConfigError {
  let caught: unknown;
  try {
    loadText(dir, text, env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
  assertOneLine(caught.message);
  for (const needle of needles) {
    assert.ok(caught.message.includes(needle), `'${needle}' missing from: ${caught.message}`);
  }
  assert.equal(caught.exitCode, 1);
  return caught;
}

Deno.test("config: every key takes its default when no file exists", async () => {
  await withTempDir((home) => {
    const c = loadConfig({ env: { HOME: home } });
    const configDir = join(home, ".zvpg");
    assert.deepEqual(c, {
      zfsPool: "zvpg_pool",
      zfsPoolDevice: null,
      zfsPoolSize: "10G",
      mountDir: "/var/lib/zvpg",
      dataSubdir: "data",
      clonesSubdir: "clones",
      socketSubdir: "sockets",
      postgresUser: "postgres",
      postgresDb: "postgres",
      containerRuntime: "docker",
      runtimeFlavor: "docker",
      pgBaseImage: "postgres:17",
      pgConfigDir: configDir,
      pgHbaPath: join(configDir, "pg_hba.conf"),
      pgIdentPath: join(configDir, "pg_ident.conf"),
      pgConfPath: join(configDir, "postgresql.conf"),
      branchPortStart: 6001,
      branchPortEnd: 6099,
      bindAddress: "127.0.0.1",
      branchDefault: "main",
      branchNamingPattern: GIT_BRANCH_PATTERN,
      readyTimeoutSeconds: 60,
      stopTimeoutSeconds: 30,
      logLevel: "INFO",
      logDir: "/var/log/zvpg",
      walArchive: true,
      archiveTimeoutSeconds: 60,
      walRetention: "7d",
      sshOptions: [],
      configFile: join(configDir, "config.json"),
      configDir,
      configFileExists: false,
      configDirIsOwn: true,
    });
  });
});

Deno.test("config: without HOME the home directory is /root", () => {
  const c = loadConfig({ env: { ZVPG_CONFIG_DIR: "/nonexistent-zvpg-unit/cfg" } });
  assert.equal(c.configFile, "/nonexistent-zvpg-unit/cfg/config.json");
  const d = loadConfig({ env: { ZVPG_CONFIG_DIR: "~/cfg-zvpg-unit-none" } });
  assert.equal(d.configDir, "/root/cfg-zvpg-unit-none");
});

Deno.test("config: an empty file object takes every default and is marked as existing", async () => {
  await withTempDir((dir) => {
    const c = loadText(dir, "{}");
    assert.equal(c.configFileExists, true);
    assert.equal(c.configFile, join(dir, "config.json"));
    assert.equal(c.configDir, dir);
    assert.equal(c.zfsPool, "zvpg_pool");
    assert.equal(c.branchPortEnd, 6099);
  });
});

Deno.test("config: values from the file are used", async () => {
  await withTempDir((dir) => {
    const c = loadText(
      dir,
      JSON.stringify({
        zfsPool: "mypool",
        zfsPoolDevice: "/dev/sdb",
        zfsPoolSize: "512M",
        mountDir: "/srv/zvpg",
        dataSubdir: "main-data",
        clonesSubdir: "branches",
        socketSubdir: "run",
        postgresUser: "admin",
        postgresDb: "app_db",
        containerRuntime: "podman",
        pgBaseImage:
          "registry.example.com/pg/postgres:16.4@sha256:abababababababababababababababababababababababababababababababab",
        branchPortStart: 7000,
        branchPortEnd: 7000,
        bindAddress: "0.0.0.0",
        branchDefault: "trunk",
        readyTimeoutSeconds: 5,
        stopTimeoutSeconds: 0,
        logLevel: "WARN",
        logDir: "/tmp/zvpg-logs",
      }),
    );
    assert.equal(c.zfsPool, "mypool");
    assert.equal(c.zfsPoolDevice, "/dev/sdb");
    assert.equal(c.zfsPoolSize, "512M");
    assert.equal(c.mountDir, "/srv/zvpg");
    assert.equal(c.dataSubdir, "main-data");
    assert.equal(c.clonesSubdir, "branches");
    assert.equal(c.socketSubdir, "run");
    assert.equal(c.postgresUser, "admin");
    assert.equal(c.postgresDb, "app_db");
    assert.equal(c.containerRuntime, "podman");
    assert.equal(c.runtimeFlavor, "podman");
    assert.equal(
      c.pgBaseImage,
      "registry.example.com/pg/postgres:16.4@sha256:abababababababababababababababababababababababababababababababab",
    );
    assert.equal(c.branchPortStart, 7000);
    assert.equal(c.branchPortEnd, 7000);
    assert.equal(c.bindAddress, "0.0.0.0");
    assert.equal(c.branchDefault, "trunk");
    assert.equal(c.readyTimeoutSeconds, 5);
    assert.equal(c.stopTimeoutSeconds, 0);
    assert.equal(c.logLevel, "WARN");
    assert.equal(c.logDir, "/tmp/zvpg-logs");
  });
});

Deno.test("config: ~ is expanded in ZVPG_CONFIG_DIR, in paths and in -c", async () => {
  await withTempDir((home) => {
    mkdirSync(join(home, "cfg"));
    writeFileSync(
      join(home, "cfg", "config.json"),
      JSON.stringify({
        mountDir: "~/mnt",
        logDir: "~",
        pgConfigDir: "~/pg",
        pgHbaPath: "~/hba/pg_hba.conf",
        zfsPoolDevice: "~/disk.img",
      }),
    );
    const c = loadConfig({ env: { HOME: home, ZVPG_CONFIG_DIR: "~/cfg" } });
    assert.equal(c.configDir, join(home, "cfg"));
    assert.equal(c.configFile, join(home, "cfg", "config.json"));
    assert.equal(c.configFileExists, true);
    assert.equal(c.mountDir, join(home, "mnt"));
    assert.equal(c.logDir, home);
    assert.equal(c.pgConfigDir, join(home, "pg"));
    assert.equal(c.pgHbaPath, join(home, "hba", "pg_hba.conf"));
    assert.equal(c.pgConfPath, join(home, "pg", "postgresql.conf"));
    assert.equal(c.zfsPoolDevice, join(home, "disk.img"));

    const viaFlag = loadConfig({ configPath: "~/cfg/config.json", env: { HOME: home } });
    assert.equal(viaFlag.configFile, join(home, "cfg", "config.json"));
    assert.equal(viaFlag.configDir, join(home, "cfg"));
    assert.equal(viaFlag.mountDir, join(home, "mnt"));
  });
});

Deno.test("config: expandHome only expands a leading ~ or ~/", () => {
  assert.equal(expandHome("~", "/home/u"), "/home/u");
  assert.equal(expandHome("~/a/b", "/home/u"), "/home/u/a/b");
  assert.equal(expandHome("/abs/~/x", "/home/u"), "/abs/~/x");
  assert.equal(expandHome("~other/x", "/home/u"), "~other/x");
  assert.equal(expandHome("rel/~", "/home/u"), "rel/~");
});

Deno.test("config: ZVPG_CONFIG_DIR chooses the config directory", async () => {
  await withTempDir((dir) => {
    const cfg = join(dir, "elsewhere");
    mkdirSync(cfg);
    writeFileSync(join(cfg, "config.json"), `{"zfsPool": "fromenvdir"}`);
    const c = loadConfig({ env: { HOME: join(dir, "home"), ZVPG_CONFIG_DIR: cfg } });
    assert.equal(c.zfsPool, "fromenvdir");
    assert.equal(c.configDir, cfg);
    assert.equal(c.pgConfigDir, cfg);
    assert.equal(c.pgIdentPath, join(cfg, "pg_ident.conf"));
    // An empty value means "not set".
    const d = loadConfig({ env: { HOME: dir, ZVPG_CONFIG_DIR: "" } });
    assert.equal(d.configDir, join(dir, ".zvpg"));
  });
});

Deno.test("config: ZVPG_LOG_LEVEL overrides the file and is case-insensitive", async () => {
  await withTempDir((dir) => {
    assert.equal(loadText(dir, `{"logLevel": "WARN"}`).logLevel, "WARN");
    assert.equal(
      loadText(dir, `{"logLevel": "WARN"}`, { ZVPG_LOG_LEVEL: "debug" }).logLevel,
      "DEBUG",
    );
    assert.equal(loadText(dir, `{}`, { ZVPG_LOG_LEVEL: "Error" }).logLevel, "ERROR");
    // empty means unset
    assert.equal(loadText(dir, `{"logLevel": "warn"}`, { ZVPG_LOG_LEVEL: "" }).logLevel, "WARN");
  });
});

Deno.test("config: a bad ZVPG_LOG_LEVEL names the environment variable and the value", async () => {
  await withTempDir((dir) => {
    expectError(dir, `{"logLevel": "INFO"}`, [
      "environment ZVPG_LOG_LEVEL",
      "logLevel",
      '"loud"',
      "DEBUG, INFO, WARN, ERROR",
    ], { ZVPG_LOG_LEVEL: "loud" });
  });
});

Deno.test("config: ZVPG_CONTAINER_RUNTIME overrides the file", async () => {
  await withTempDir((dir) => {
    const c = loadText(dir, `{"containerRuntime": "docker"}`, { ZVPG_CONTAINER_RUNTIME: "podman" });
    assert.equal(c.containerRuntime, "podman");
    assert.equal(c.runtimeFlavor, "podman");
    const d = loadText(dir, `{}`, { ZVPG_CONTAINER_RUNTIME: "/usr/local/bin/nerdctl" });
    assert.equal(d.containerRuntime, "/usr/local/bin/nerdctl");
    assert.equal(d.runtimeFlavor, "nerdctl");
    const e = expectError(dir, `{}`, [
      "environment ZVPG_CONTAINER_RUNTIME",
      "containerRuntime",
      '"rkt"',
    ], { ZVPG_CONTAINER_RUNTIME: "rkt" });
    assert.ok(!e.message.includes(join(dir, "config.json")));
  });
});

Deno.test("config: an explicit -c file that does not exist is a ConfigError", async () => {
  await withTempDir((dir) => {
    const missing = join(dir, "nope", "config.json");
    assert.throws(
      () => loadConfig({ configPath: missing, env: { HOME: dir } }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assertOneLine(e.message);
        assert.ok(e.message.includes(missing));
        assert.match(e.message, /does not exist/);
        assert.ok(e.hint?.includes("-c/--config"));
        return true;
      },
    );
  });
});

Deno.test("config: an explicit -c file is read relative to the working directory", async () => {
  await withTempDir((dir) => {
    const file = join(dir, "custom.json");
    writeFileSync(file, `{"zfsPool": "custom"}`);
    const c = loadConfig({ configPath: file, env: { HOME: join(dir, "home") } });
    assert.equal(c.zfsPool, "custom");
    assert.equal(c.configFile, file);
    assert.equal(c.configDir, dir);
    assert.equal(c.configFileExists, true);
    // the PostgreSQL config files live beside the -c file, with the password
    assert.equal(c.pgConfigDir, dir);
    assert.equal(c.pgConfPath, join(dir, "postgresql.conf"));
  });
});

Deno.test("config: malformed JSON is refused naming the file", async () => {
  await withTempDir((dir) => {
    const e = expectError(dir, `{"zfsPool": }`, [join(dir, "config.json"), "not valid JSON"]);
    assert.ok(e.hint);
    expectError(dir, ``, ["not valid JSON"]);
    expectError(dir, `{"zfsPool": "a" "mountDir": "/b"}`, ["not valid JSON"]);
    expectError(dir, `{zfsPool: "a"}`, ["not valid JSON"]);
    // V8's message quotes the source, newlines included: it is folded to one line
    const multi = expectError(dir, `{\n  "zfsPool": "p",\n  "mountDir": \n}\n`, ["not valid JSON"]);
    assert.ok(!multi.message.includes("\n"), multi.message);
  });
});

Deno.test("config: a JSON value that is not an object is refused", async () => {
  await withTempDir((dir) => {
    for (const text of [`[]`, `[1, 2]`, `"zfsPool"`, `42`, `null`, `true`]) {
      expectError(dir, text, ["must hold a JSON object of settings", join(dir, "config.json")]);
    }
  });
});

Deno.test("config: trailing commas are accepted", async () => {
  await withTempDir((dir) => {
    const c = loadText(dir, `{\n  "zfsPool": "p",\n  "logDir": "/m,}",\n}\n`);
    assert.equal(c.zfsPool, "p");
    assert.equal(c.logDir, "/m,}");
    assert.equal(loadText(dir, `{"zfsPool": "q" , \n\t }`).zfsPool, "q");
  });
});

Deno.test("config: parseJsonLenient strips trailing commas outside strings only", () => {
  assert.deepEqual(parseJsonLenient(`{"a": [1, 2,], "b": {"c": 1,},}`), {
    a: [1, 2],
    b: { c: 1 },
  });
  assert.deepEqual(parseJsonLenient(`{"a": "x,}", "b": "q\\",]",}`), { a: "x,}", b: 'q",]' });
  assert.deepEqual(parseJsonLenient(`[1,\n]`), [1]);
  assert.deepEqual(parseJsonLenient(`{"a": 1}`), { a: 1 });
  assert.throws(() => parseJsonLenient(`{"a": 1,,}`), SyntaxError);
  // NOTE: `[,]` and `{,}` are accepted too (read as empty); harmless, not asserted.
  assert.throws(() => parseJsonLenient(`{"a": 1} x`), SyntaxError);
  assert.throws(() => parseJsonLenient(`{'a': 1}`), SyntaxError);
});

Deno.test("config: unknown keys are refused by name", async () => {
  await withTempDir((dir) => {
    expectError(dir, `{"zfsPol": "x"}`, ["unknown key", "'zfsPol'", join(dir, "config.json")]);
    expectError(dir, `{"zfsPool": "ok", "foo": 1, "bar": 2}`, ["'foo'", "'bar'"]);
  });
});

Deno.test("config: an unknown runtime is refused; an absolute path to a known one is accepted", async () => {
  await withTempDir((dir) => {
    for (const runtime of ["lxc", "Docker", "bin/docker", "docker2", "/usr/bin/bash", "/", ""]) {
      expectError(dir, JSON.stringify({ containerRuntime: runtime }), [
        "containerRuntime",
        JSON.stringify(runtime),
        "docker, podman, nerdctl",
      ]);
    }
    for (const runtime of ["/usr/bin/podman", "/usr/bin/docker", "/opt/x/nerdctl"]) {
      const c = loadText(dir, JSON.stringify({ containerRuntime: runtime }));
      assert.equal(c.containerRuntime, runtime);
      assert.equal(c.runtimeFlavor, runtime.slice(runtime.lastIndexOf("/") + 1));
    }
  });
});

Deno.test("config: runtimeFlavor reads the base name", () => {
  assert.equal(runtimeFlavor("docker"), "docker");
  assert.equal(runtimeFlavor("/usr/bin/podman"), "podman");
  assert.equal(runtimeFlavor("/a/b/nerdctl"), "nerdctl");
  assert.equal(runtimeFlavor("/usr/bin/bash"), undefined);
  assert.equal(runtimeFlavor("/usr/bin/docker/"), undefined);
  assert.equal(runtimeFlavor(""), undefined);
});

Deno.test("config: a port given as a string is refused with the key and the value", async () => {
  await withTempDir((dir) => {
    const e = expectError(dir, `{"branchPortStart": "6001"}`, [
      "branchPortStart",
      '"6001"',
      "must be a number",
      join(dir, "config.json"),
    ]);
    assert.ok(e.hint?.includes(join(dir, "config.json")));
    expectError(dir, `{"branchPortEnd": "6099"}`, ["branchPortEnd", '"6099"']);
  });
});

Deno.test("config: non-integer and out-of-range ports are refused", async () => {
  await withTempDir((dir) => {
    expectError(dir, `{"branchPortStart": 6001.5}`, ["branchPortStart", "6001.5", "whole number"]);
    expectError(dir, `{"branchPortEnd": 70000}`, ["branchPortEnd", "70000", "1 and 65535"]);
    expectError(dir, `{"branchPortStart": 0}`, ["branchPortStart", "(got 0)", "1 and 65535"]);
    expectError(dir, `{"branchPortStart": -5}`, ["branchPortStart", "-5"]);
    expectError(dir, `{"branchPortStart": null}`, ["branchPortStart", "null"]);
    const c = loadText(dir, `{"branchPortStart": 1, "branchPortEnd": 65535}`);
    assert.equal(c.branchPortStart, 1);
    assert.equal(c.branchPortEnd, 65535);
  });
});

Deno.test("config: branchPortStart greater than branchPortEnd is refused", async () => {
  await withTempDir((dir) => {
    expectError(dir, `{"branchPortStart": 7000, "branchPortEnd": 6500}`, [
      "branchPortStart",
      "branchPortEnd",
      "7000",
    ]);
    const e = expectError(dir, `{"branchPortEnd": 5000}`, ["6001", "5000"]);
    assert.ok(!/branchPortStart branchPortStart/.test(e.message), e.message);
  });
});

Deno.test("config: logLevel is case-insensitive and must be a known level", async () => {
  await withTempDir((dir) => {
    assert.equal(loadText(dir, `{"logLevel": "debug"}`).logLevel, "DEBUG");
    assert.equal(loadText(dir, `{"logLevel": "Warn"}`).logLevel, "WARN");
    expectError(dir, `{"logLevel": "verbose"}`, ["logLevel", '"verbose"', "DEBUG, INFO"]);
    expectError(dir, `{"logLevel": 3}`, ["logLevel", "3"]);
  });
});

Deno.test("config: relative paths are resolved against the config file's directory", async () => {
  await withTempDir((dir) => {
    const cfgDir = join(dir, "conf");
    mkdirSync(cfgDir);
    const file = join(cfgDir, "zvpg.json");
    writeFileSync(
      file,
      JSON.stringify({
        mountDir: "mnt",
        logDir: "../logs",
        zfsPoolDevice: "./disk.img",
        pgConfigDir: "pg",
        pgHbaPath: "hba.conf",
      }),
    );
    const c = loadConfig({ configPath: file, env: { HOME: join(dir, "home") } });
    assert.equal(c.mountDir, join(cfgDir, "mnt"));
    assert.equal(c.logDir, join(dir, "logs"));
    assert.equal(c.zfsPoolDevice, join(cfgDir, "disk.img"));
    assert.equal(c.pgConfigDir, join(cfgDir, "pg"));
    assert.equal(c.pgHbaPath, join(cfgDir, "hba.conf"));
    assert.equal(c.pgConfPath, join(cfgDir, "pg", "postgresql.conf"));
    assert.equal(c.pgIdentPath, join(cfgDir, "pg", "pg_ident.conf"));
  });
});

Deno.test("config: pgConfPath, pgHbaPath and pgIdentPath default under pgConfigDir", async () => {
  await withTempDir((dir) => {
    const c = loadText(dir, `{"pgConfigDir": "/etc/zvpg-pg"}`);
    assert.equal(c.pgConfigDir, "/etc/zvpg-pg");
    assert.equal(c.pgConfPath, "/etc/zvpg-pg/postgresql.conf");
    assert.equal(c.pgHbaPath, "/etc/zvpg-pg/pg_hba.conf");
    assert.equal(c.pgIdentPath, "/etc/zvpg-pg/pg_ident.conf");
    const d = loadText(dir, `{"pgConfigDir": "/etc/zvpg-pg", "pgConfPath": "/x/my.conf"}`);
    assert.equal(d.pgConfPath, "/x/my.conf");
    assert.equal(d.pgHbaPath, "/etc/zvpg-pg/pg_hba.conf");
  });
});

Deno.test("config: other keys are validated with one-line messages naming key and value", async () => {
  await withTempDir((dir) => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ zfsPool: "1pool" }, ["zfsPool", '"1pool"']],
      [{ zfsPool: "a b" }, ["zfsPool", '"a b"']],
      [{ zfsPool: "a\nb" }, ["zfsPool", '"a\\nb"']],
      [{ zfsPool: "pool/child" }, ["zfsPool", '"pool/child"']],
      [{ zfsPool: 12 }, ["zfsPool", "12"]],
      [{ zfsPoolSize: "10X" }, ["zfsPoolSize", '"10X"', "10G"]],
      [{ zfsPoolSize: "0G" }, ["zfsPoolSize", '"0G"']],
      [{ zfsPoolDevice: "" }, ["zfsPoolDevice", '""']],
      [{ mountDir: "" }, ["mountDir", "non-empty path"]],
      [{ mountDir: "/a\u0000b" }, ["mountDir", "NUL"]],
      [{ dataSubdir: "a/b" }, ["dataSubdir", '"a/b"']],
      [{ clonesSubdir: ".hidden" }, ["clonesSubdir", '".hidden"']],
      [{ dataSubdir: "x", clonesSubdir: "x" }, ["dataSubdir", "clonesSubdir", "must differ"]],
      [{ postgresUser: "bad-user" }, ["postgresUser", '"bad-user"', "SQL identifier"]],
      [{ postgresDb: "db; drop" }, ["postgresDb", '"db; drop"']],
      [{ pgBaseImage: "postgres 17" }, ["pgBaseImage", '"postgres 17"']],
      [{ pgBaseImage: "-postgres" }, ["pgBaseImage", '"-postgres"']],
      [{ bindAddress: "localhost" }, ["bindAddress", '"localhost"']],
      [{ bindAddress: "127.0.0.1; rm" }, ["bindAddress"]],
      [{ branchDefault: "" }, ["branchDefault", '""']],
      [{ branchNamingPattern: "(" }, ["branchNamingPattern", '"("', "regular expression"]],
      [{ readyTimeoutSeconds: "5" }, ["readyTimeoutSeconds", '"5"']],
      [{ readyTimeoutSeconds: 0 }, ["readyTimeoutSeconds", "(got 0)"]],
      [{ stopTimeoutSeconds: -1 }, ["stopTimeoutSeconds", "-1"]],
      [{ logDir: "" }, ["logDir", '""']],
    ];
    for (const [value, needles] of cases) expectError(dir, JSON.stringify(value), needles);
  });
});

Deno.test("config: a very long bad value is shortened in the message", async () => {
  await withTempDir((dir) => {
    const e = expectError(dir, JSON.stringify({ zfsPool: "1" + "x".repeat(500) }), ["zfsPool"]);
    assert.ok(e.message.length < 400, e.message);
    assert.ok(e.message.includes("…"));
  });
});

Deno.test("config: accepted address forms and sizes", async () => {
  await withTempDir((dir) => {
    for (const bind of ["127.0.0.1", "0.0.0.0", "::", "::1", "[::1]", "[fd00::1]"]) {
      assert.equal(loadText(dir, JSON.stringify({ bindAddress: bind })).bindAddress, bind);
    }
    for (const size of ["10G", "512M", "1T", "64M", "67108864", "65536K"]) {
      assert.equal(loadText(dir, JSON.stringify({ zfsPoolSize: size })).zfsPoolSize, size);
    }
    assert.equal(loadText(dir, `{"zfsPoolDevice": null}`).zfsPoolDevice, null);
    const custom = loadText(dir, JSON.stringify({ branchNamingPattern: "^[a-z]+$" }));
    assert.equal(custom.branchNamingPattern, "^[a-z]+$");
  });
});

Deno.test("config: the schema alone gives the documented defaults", () => {
  const parsed = configSchema.parse({});
  assert.equal(parsed.zfsPool, "zvpg_pool");
  assert.equal(parsed.pgConfigDir, undefined);
  assert.equal(parsed.pgConfPath, undefined);
  assert.equal(parsed.branchNamingPattern, GIT_BRANCH_PATTERN);
  assert.equal(parsed.logLevel, "INFO");
  assert.equal(configSchema.safeParse({ nope: 1 }).success, false);
});

Deno.test("config: values the engine or ZFS cannot take are refused, naming the key", async () => {
  await withTempDir((dir) => {
    const refused: [Record<string, unknown>, string, RegExp][] = [
      [{ mountDir: "/srv/a:b" }, "mountDir", /':' or ','/],
      [{ mountDir: "/srv/a,b" }, "mountDir", /':' or ','/],
      [{ mountDir: "/srv/a\nb" }, "mountDir", /control characters/],
      [{ mountDir: "/" }, "mountDir", /zvpg's own/],
      [{ mountDir: "/tmp/" }, "mountDir", /zvpg's own/],
      [{ mountDir: "/var/lib" }, "mountDir", /zvpg's own/],
      [{ dataSubdir: "a:b" }, "dataSubdir", /one path component/],
      [{ clonesSubdir: "a,b" }, "clonesSubdir", /one path component/],
      [{ socketSubdir: "s:1" }, "socketSubdir", /one path component/],
      [{ zfsPool: "mirror1" }, "zfsPool", /reserved/],
      [{ zfsPool: "raidz" }, "zfsPool", /reserved/],
      [{ zfsPool: "draidpool" }, "zfsPool", /reserved/],
      [{ zfsPool: "spares" }, "zfsPool", /reserved/],
      [{ zfsPool: "log" }, "zfsPool", /reserved/],
      [{ zfsPool: "c0t0d0" }, "zfsPool", /disk name/],
      [{ zfsPool: "1pool" }, "zfsPool", /start with a letter/],
      [{ zfsPool: "po%ol" }, "zfsPool", /start with a letter/],
      [{ bindAddress: "256.0.0.1" }, "bindAddress", /0-255/],
      [{ bindAddress: "127.0.0.999" }, "bindAddress", /IP address/],
      [{ bindAddress: "1.2.3" }, "bindAddress", /IP address/],
      [{ bindAddress: "01.2.3.4" }, "bindAddress", /IP address/],
      [{ bindAddress: ":::1" }, "bindAddress", /IP address/],
      [{ bindAddress: "localhost" }, "bindAddress", /IP address/],
      [{ zfsPoolSize: "1M" }, "zfsPoolSize", /at least 64M/],
      [{ zfsPoolSize: "1000" }, "zfsPoolSize", /at least 64M/],
      [{ pgBaseImage: "Postgres:17" }, "pgBaseImage", /image reference/],
      [{ pgBaseImage: "postgres:17@sha256:abc" }, "pgBaseImage", /image reference/],
      [{ pgBaseImage: "postgres::17" }, "pgBaseImage", /image reference/],
      [{ postgresUser: "pg_admin" }, "postgresUser", /reserves/],
      [{ branchDefault: "a b" }, "branchDefault", /white space/],
      [{ branchDefault: "-main" }, "branchDefault", /starts with '-'/],
      [{ logDir: "/var/log/a\tb" }, "logDir", /control characters/],
    ];
    for (const [values, key, why] of refused) {
      const e = expectError(dir, JSON.stringify(values), [key]);
      assert.match(e.message, new RegExp(`config .*: ${key} `), e.message);
      assert.match(e.message, why, e.message);
      assert.match(e.hint ?? "", /fix .*config\.json/);
    }
    const accepted: Record<string, unknown>[] = [
      { mountDir: "/var/lib/zvpg" },
      { mountDir: "/srv/zvpg dir" },
      { zfsPool: "tank" },
      { zfsPool: "pool:a.b-c_d" },
      { zfsPool: "cpool" },
      { zfsPool: "logs" },
      { bindAddress: "255.255.255.255" },
      { bindAddress: "fd00::1" },
      { pgBaseImage: "localhost/zvpg-postgres:15-bookworm-native" },
      { pgBaseImage: "registry:5000/team/pg_x/postgres:17.1" },
      { postgresUser: "admin" },
      { branchDefault: "trunk" },
    ];
    for (const values of accepted) loadText(dir, JSON.stringify(values));
  });
});

Deno.test("config: a bad environment variable is what the hint says to fix", async () => {
  await withTempDir((dir) => {
    const level = expectError(dir, `{}`, ["ZVPG_LOG_LEVEL"], { ZVPG_LOG_LEVEL: "bogus" });
    assert.match(level.hint ?? "", /environment variable ZVPG_LOG_LEVEL/);
    assert.doesNotMatch(level.hint ?? "", /config\.json/);
    const runtime = expectError(dir, `{}`, ["ZVPG_CONTAINER_RUNTIME"], {
      ZVPG_CONTAINER_RUNTIME: "bogus",
    });
    assert.match(runtime.hint ?? "", /environment variable ZVPG_CONTAINER_RUNTIME/);
    // the file's own value is still the file's to fix
    const file = expectError(dir, `{"logLevel": "bogus"}`, ["logLevel"]);
    assert.match(file.hint ?? "", /^fix .*config\.json/);
  });
});

Deno.test("config: sshOptions is a list of ssh arguments", async () => {
  await withTempDir((dir) => {
    const c = loadText(dir, JSON.stringify({ sshOptions: ["-i", "/root/.ssh/ci_key"] }));
    assert.deepEqual(c.sshOptions, ["-i", "/root/.ssh/ci_key"]);
    expectError(dir, `{"sshOptions": "-i /root/key"}`, ["sshOptions", "list of ssh arguments"]);
    expectError(dir, `{"sshOptions": ["-i", 3]}`, ["sshOptions"]);
  });
});
