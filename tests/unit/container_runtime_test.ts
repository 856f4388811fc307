/**
 * Container runtimes: the argv of every command for docker, podman and nerdctl, and the
 * parsing of their `ps` and `version` output.
 */
import assert from "node:assert/strict";
import {
  type ContainerSpec,
  createRuntime,
  isNoSuchContainer,
  NerdctlRuntime,
  parseNerdctlVersion,
  parsePsJson,
  PodmanRuntime,
} from "../../src/adapters/container_runtime.ts";
import type { RUNTIMES } from "../../src/config/schema.ts";
import { CommandFailedError, RuntimeUnreachableError } from "../../src/errors.ts";
import { inspectStateCall } from "./helpers.ts";
import { FakeRunner } from "../../src/runtime/fake_runner.ts";

const FLAVORS: { program: string; flavor: typeof RUNTIMES[number]; psFormat: string }[] = [
  { program: "docker", flavor: "docker", psFormat: "{{json .}}" },
  { program: "/usr/bin/podman", flavor: "podman", psFormat: "json" },
  { program: "nerdctl", flavor: "nerdctl", psFormat: "{{json .}}" },
];

const FULL_SPEC: ContainerSpec = {
  image: "postgres:17",
  name: "zvpg_feature_sauth_6002",
  labels: {
    "zvpg.pool": "zvpg_pool",
    "zvpg.branch": "feature/auth",
    "zvpg.dataset": "zvpg_pool/clones/feature_sauth",
    "zvpg.port": "6002",
  },
  user: "999:999",
  mounts: [
    { source: "/var/lib/zvpg/clones/feature_sauth/pgdata", target: "/var/lib/postgresql/data" },
    { source: "/var/lib/zvpg/sockets/feature_sauth/sock", target: "/var/run/postgresql" },
    { source: "/var/lib/zvpg/sockets/feature_sauth/conf", target: "/etc/zvpg", readonly: true },
  ],
  publish: { hostAddress: "127.0.0.1", hostPort: 6002, containerPort: 5432 },
  stopSignal: "SIGINT",
  entrypoint: "postgres",
  args: ["-D", "/var/lib/postgresql/data", "-c", "config_file=/etc/zvpg/postgresql.conf"],
};

const FULL_ARGV = [
  "run",
  "-d",
  "--pull=never",
  "--name",
  "zvpg_feature_sauth_6002",
  "--label",
  "zvpg.pool=zvpg_pool",
  "--label",
  "zvpg.branch=feature/auth",
  "--label",
  "zvpg.dataset=zvpg_pool/clones/feature_sauth",
  "--label",
  "zvpg.port=6002",
  "--user",
  "999:999",
  "--mount",
  "type=bind,source=/var/lib/zvpg/clones/feature_sauth/pgdata,target=/var/lib/postgresql/data",
  "--mount",
  "type=bind,source=/var/lib/zvpg/sockets/feature_sauth/sock,target=/var/run/postgresql",
  "--mount",
  "type=bind,source=/var/lib/zvpg/sockets/feature_sauth/conf,target=/etc/zvpg,readonly=true",
  "-p",
  "127.0.0.1:6002:5432",
  "--stop-signal",
  "SIGINT",
  "--entrypoint",
  "postgres",
  "postgres:17",
  "-D",
  "/var/lib/postgresql/data",
  "-c",
  "config_file=/etc/zvpg/postgresql.conf",
];

Deno.test("runtime: createRuntime picks the class of each flavor", () => {
  const fake = new FakeRunner();
  assert.ok(createRuntime(fake, "/usr/bin/podman", "podman") instanceof PodmanRuntime);
  assert.ok(createRuntime(fake, "nerdctl", "nerdctl") instanceof NerdctlRuntime);
  const docker = createRuntime(fake, "docker", "docker");
  assert.ok(!(docker instanceof PodmanRuntime) && !(docker instanceof NerdctlRuntime));
  assert.equal(docker.program, "docker");
  assert.equal(docker.flavor, "docker");
});

for (const { program, flavor } of FLAVORS) {
  Deno.test(`runtime ${flavor}: runDetached passes the full spec as argv, never pulling`, async () => {
    const fake = new FakeRunner([
      {
        argv: [program, ...FULL_ARGV],
        result: { stdout: "a3f9c1e2b4d5\n" },
        check: (o) => {
          assert.equal(o.allowFailure, undefined);
          assert.equal(o.stdin, undefined);
        },
      },
    ]);
    const runtime = createRuntime(fake, program, flavor);
    assert.equal(await runtime.runDetached(FULL_SPEC), "a3f9c1e2b4d5");
    fake.assertDone();
    const argv = fake.calls[0];
    // no shell anywhere: the program is the runtime itself, each value its own element
    assert.equal(argv[0], program);
    assert.ok(!argv.some((a) => /^(sh|bash|-c .*)$/.test(a)));
    assert.ok(argv.includes("--pull=never"));
    assert.equal(argv.filter((a) => a === "--pull=never").length, 1);
  });

  Deno.test(`runtime ${flavor}: publish on an IPv6 address is bracketed`, async () => {
    const spec = (hostAddress: string): ContainerSpec => ({
      image: "postgres:17",
      publish: { hostAddress, hostPort: 6003, containerPort: 5432 },
    });
    const fake = new FakeRunner([
      { argv: [program, "run", "-d", "--pull=never", "-p", "[::1]:6003:5432", "postgres:17"] },
      { argv: [program, "run", "-d", "--pull=never", "-p", "[::]:6003:5432", "postgres:17"] },
      { argv: [program, "run", "-d", "--pull=never", "-p", "[fd00::1]:6003:5432", "postgres:17"] },
      { argv: [program, "run", "-d", "--pull=never", "-p", "0.0.0.0:6003:5432", "postgres:17"] },
    ]);
    const runtime = createRuntime(fake, program, flavor);
    await runtime.runDetached(spec("::1"));
    await runtime.runDetached(spec("::"));
    await runtime.runDetached(spec("[fd00::1]"));
    await runtime.runDetached(spec("0.0.0.0"));
    fake.assertDone();
  });

  Deno.test(`runtime ${flavor}: stop and remove tolerate a missing container`, async () => {
    const gone = flavor === "podman"
      ? 'Error: no container with name or ID "zvpg_x_6001" found: no such container\n'
      : "Error response from daemon: No such container: zvpg_x_6001\n";
    const fake = new FakeRunner([
      {
        argv: [program, "stop", "-t", "30", "zvpg_x_6001"],
        check: (o) => {
          assert.equal(o.allowFailure, undefined);
          assert.ok(o.tolerate?.({ code: 1, stdout: "", stderr: gone }));
          assert.ok(!o.tolerate?.({ code: 1, stdout: "", stderr: "Cannot connect\n" }));
          assert.equal(o.timeoutMs, 60_000);
        },
      },
      { argv: [program, "stop", "-t", "0", "zvpg_x_6001"], result: { code: 1, stderr: gone } },
      { argv: [program, "rm", "-f", "-v", "zvpg_x_6001"] },
      { argv: [program, "rm", "-f", "-v", "zvpg_x_6001"], result: { code: 1, stderr: gone } },
    ]);
    const runtime = createRuntime(fake, program, flavor);
    await runtime.stop("zvpg_x_6001", 30);
    await runtime.stop("zvpg_x_6001", 0);
    await runtime.remove("zvpg_x_6001");
    await runtime.remove("zvpg_x_6001");
    fake.assertDone();
  });

  Deno.test(`runtime ${flavor}: stop and remove rethrow other errors`, async () => {
    const denied = "permission denied while trying to connect to the daemon socket\n";
    const fake = new FakeRunner([
      { argv: [program, "stop", "-t", "30", "c1"], result: { code: 1, stderr: denied } },
      { argv: [program, "rm", "-f", "-v", "c1"], result: { code: 125, stderr: denied } },
    ]);
    const runtime = createRuntime(fake, program, flavor);
    await assert.rejects(runtime.stop("c1", 30), (e: unknown) => {
      assert.ok(e instanceof CommandFailedError);
      assert.equal(e.program, program);
      assert.equal(e.code, 1);
      assert.match(e.stderr, /permission denied/);
      return true;
    });
    await assert.rejects(runtime.remove("c1"), (e: unknown) => {
      assert.ok(e instanceof CommandFailedError);
      assert.equal(e.code, 125);
      return true;
    });
    fake.assertDone();
  });
}

Deno.test("runtime: list builds label filters and the per-flavor JSON format", async () => {
  for (const { program, flavor, psFormat } of FLAVORS) {
    const fake = new FakeRunner([
      {
        argv: [
          program,
          "ps",
          "-a",
          "--no-trunc",
          "--filter",
          "label=zvpg.pool=zvpg_pool",
          "--filter",
          "label=zvpg.branch=feature/auth",
          "--format",
          psFormat,
        ],
        result: { stdout: flavor === "podman" ? "[]\n" : "" },
      },
      { argv: [program, "ps", "-a", "--no-trunc", "--format", psFormat] },
    ]);
    const runtime = createRuntime(fake, program, flavor);
    assert.deepEqual(
      await runtime.list({ "zvpg.pool": "zvpg_pool", "zvpg.branch": "feature/auth" }),
      [],
    );
    assert.deepEqual(await runtime.list({}), []);
    fake.assertDone();
  }
});

Deno.test("runtime: list parses the docker, podman and nerdctl output", async () => {
  const fake = new FakeRunner([
    {
      argv: ["docker", "ps", "-a", "--no-trunc", "--filter", "label=a=b", "--format", "{{json .}}"],
      result: { stdout: DOCKER_PS },
    },
    {
      argv: ["podman", "ps", "-a", "--no-trunc", "--filter", "label=a=b", "--format", "json"],
      result: { stdout: PODMAN_PS },
    },
  ]);
  assert.equal((await createRuntime(fake, "docker", "docker").list({ a: "b" })).length, 2);
  assert.equal((await createRuntime(fake, "podman", "podman").list({ a: "b" })).length, 2);
  fake.assertDone();
});

Deno.test("runtime: other commands build exact argv", async () => {
  const fake = new FakeRunner([
    {
      argv: ["docker", "version", "--format", "{{.Server.Version}}"],
      result: { stdout: "20.10.24+dfsg1\n" },
      check: (o) => assert.ok((o.timeoutMs ?? 0) > 0),
    },
    { argv: ["docker", "image", "inspect", "postgres:17"], result: { stdout: "[{}]" } },
    {
      argv: ["docker", "image", "inspect", "nope:1"],
      result: { code: 1, stderr: "Error: No such image: nope:1\n" },
    },
    {
      argv: ["docker", "pull", "postgres:17"],
      check: (o) => assert.equal(o.timeoutMs, 120_000),
    },
    {
      argv: [
        "docker",
        "run",
        "--rm",
        "--pull=never",
        "--user",
        "999:999",
        "-e",
        "LANG=C.UTF-8",
        "--shm-size",
        "256m",
        "--entrypoint",
        "",
        "postgres:17",
        "id",
        "-u",
      ],
      result: { code: 0, stdout: "999\n" },
      check: (o) => {
        assert.equal(o.allowFailure, true);
        assert.equal(o.timeoutMs, 5000);
      },
    },
    inspectStateCall("c1", { stdout: "running 0\n" }),
    inspectStateCall("c2", { code: 1, stderr: "Error: No such container: c2\n" }),
    inspectStateCall("c3", { code: 1, stderr: "Cannot connect to the Docker daemon\n" }),
    {
      argv: ["docker", "logs", "--tail", "15", "c1"],
      result: { stdout: "out line\n", stderr: "FATAL: bad setting\n" },
    },
    {
      argv: ["docker", "exec", "--user", "999:999", "c1", "psql", "-c", "SELECT 1; -- $x"],
      result: { stdout: "1\n" },
      check: (o) => assert.equal(o.allowFailure, undefined),
    },
    { argv: ["docker", "exec", "c1", "true"] },
    {
      argv: ["docker", "exec", "-i", "--user", "999:999", "c1", "psql"],
      check: (o) => assert.equal(o.stdin, "SELECT 'secret';\n"),
    },
  ]);
  const rt = createRuntime(fake, "docker", "docker");
  assert.equal(await rt.version(), "20.10.24+dfsg1");
  assert.equal(await rt.imageExists("postgres:17"), true);
  assert.equal(await rt.imageExists("nope:1"), false);
  await rt.pullImage("postgres:17", 120_000);
  const done = await rt.runToCompletion({
    image: "postgres:17",
    user: "999:999",
    env: { LANG: "C.UTF-8" },
    shmSize: "256m",
    entrypoint: "",
    args: ["id", "-u"],
  }, 5000);
  assert.equal(done.stdout, "999\n");
  assert.deepEqual(await rt.inspectState("c1"), { state: "running", exitCode: 0 });
  assert.equal(await rt.inspectState("c2"), undefined);
  // an engine that does not answer is one error, whichever call noticed it
  await assert.rejects(rt.inspectState("c3"), (e: unknown) => {
    assert.ok(e instanceof RuntimeUnreachableError);
    assert.match(e.message, /^container runtime 'docker' is not reachable: Cannot connect/);
    return true;
  });
  assert.equal(await rt.logs("c1", 15), "out line\nFATAL: bad setting");
  assert.equal((await rt.exec("c1", "999:999", ["psql", "-c", "SELECT 1; -- $x"])).stdout, "1\n");
  await rt.exec("c1", undefined, ["true"]);
  // what goes on stdin is never in the argv (`exec -i` keeps stdin open)
  await rt.exec("c1", "999:999", ["psql"], { stdin: "SELECT 'secret';\n" });
  fake.assertDone();
});

Deno.test("runtime: nerdctl reads its version from JSON", async () => {
  const fake = new FakeRunner([
    {
      argv: ["nerdctl", "version", "--format", "{{json .}}"],
      result: { stdout: NERDCTL_VERSION },
    },
  ]);
  assert.equal(
    await createRuntime(fake, "nerdctl", "nerdctl").version(),
    "v1.7.6 (containerd v1.7.18)",
  );
  fake.assertDone();
});

/** `docker ps -a --no-trunc --format '{{json .}}'`: one object per line. */
const DOCKER_PS = [
  JSON.stringify({
    Command: '"postgres -D /var/lib/postgresql/data -c config_file=/etc/zvpg/postgresql.conf"',
    CreatedAt: "2026-11-24 11:33:23 +0000 UTC",
    ID: "3f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a4f3e2d1c0",
    Image: "postgres:17",
    Labels:
      "zvpg.branch=feature/auth,zvpg.dataset=zvpg_pool/clones/feature_sauth,zvpg.pool=zvpg_pool,zvpg.port=6002",
    LocalVolumes: "0",
    Mounts: "/var/lib/zvpg/c…,/var/lib/zvpg/s…",
    Names: "zvpg_feature_sauth_6002",
    Networks: "bridge",
    Ports: "127.0.0.1:6002->5432/tcp",
    RunningFor: "2 minutes ago",
    Size: "0B",
    State: "running",
    Status: "Up 2 minutes",
  }),
  JSON.stringify({
    Command: '"postgres -D …"',
    CreatedAt: "2026-11-24 11:30:00 +0000 UTC",
    ID: "0a1b2c3d4e5f",
    Image: "postgres:17",
    Labels: "",
    Names: "zvpg_main_6001",
    State: "exited",
    Status: "Exited (0) 5 seconds ago",
  }),
  "",
].join("\n");

/** `podman ps -a --no-trunc --format json`: one array. */
const PODMAN_PS = JSON.stringify(
  [
    {
      AutoRemove: false,
      Command: ["postgres", "-D", "/var/lib/postgresql/data"],
      Created: 1732448003,
      CreatedAt: "2 minutes ago",
      Exited: false,
      ExitCode: 0,
      Id: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
      Image: "localhost/zvpg-postgres:17",
      Labels: {
        "zvpg.branch": "main",
        "zvpg.dataset": "zvpg_pool/data",
        "zvpg.pool": "zvpg_pool",
        "zvpg.port": "6001",
      },
      Names: ["zvpg_main_6001"],
      Pid: 12345,
      Ports: [{ host_ip: "127.0.0.1", container_port: 5432, host_port: 6001, range: 1 }],
      State: "running",
      Status: "Up 2 minutes",
    },
    {
      Id: "1234",
      Image: "localhost/zvpg-postgres:17",
      Labels: null,
      Names: ["stray"],
      State: "created",
      Status: "Created",
    },
  ],
  null,
  2,
);

/** `nerdctl ps -a --no-trunc --format '{{json .}}'`: no State field, only Status. */
const NERDCTL_PS = [
  JSON.stringify({
    Command: '"postgres -D /var/lib/postgresql/data"',
    CreatedAt: "2026-11-24 11:33:23 +0000 UTC",
    ID: "c0ffee",
    Image: "docker.io/library/postgres:17",
    Platform: "linux/amd64",
    Names: "zvpg_main_6001",
    Ports: "127.0.0.1:6001->5432/tcp",
    Status: "Up 3 seconds",
    Runtime: "io.containerd.runc.v2",
    Size: "",
    Labels: "zvpg.branch=main,zvpg.pool=zvpg_pool,zvpg.port=6001",
  }),
  JSON.stringify({
    ID: "dead",
    Names: "zvpg_dev_6002",
    Status: "Exited (0) 2 minutes ago",
    Labels: "zvpg.branch=dev",
  }),
  JSON.stringify({ ID: "new", Names: "zvpg_new_6003", Status: "Created", Labels: "" }),
  JSON.stringify({ ID: "odd", Names: "zvpg_odd_6004", Status: "Paused", Labels: "" }),
].join("\n");

const NERDCTL_VERSION = JSON.stringify({
  Client: {
    Version: "v1.7.6",
    GitCommit: "845e989f69d25b420ae325fedc8e70186243fd93",
    GoVersion: "go1.22.4",
    Os: "linux",
    Arch: "amd64",
    Components: [{ Name: "buildctl", Version: "v0.13.2", Details: { GitCommit: "abc" } }],
  },
  Server: {
    Components: [
      { Name: "containerd", Version: "v1.7.18", Details: { GitCommit: "ae71819" } },
      { Name: "runc", Version: "1.1.13", Details: { GitCommit: "v1.1.13-0-g58aa920" } },
    ],
  },
});

Deno.test("runtime: parsePsJson on docker output", () => {
  assert.deepEqual(parsePsJson(DOCKER_PS), [
    {
      id: "3f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a4f3e2d1c0",
      name: "zvpg_feature_sauth_6002",
      state: "running",
      labels: {
        "zvpg.branch": "feature/auth",
        "zvpg.dataset": "zvpg_pool/clones/feature_sauth",
        "zvpg.pool": "zvpg_pool",
        "zvpg.port": "6002",
      },
    },
    { id: "0a1b2c3d4e5f", name: "zvpg_main_6001", state: "exited", labels: {} },
  ]);
});

Deno.test("runtime: parsePsJson on podman output", () => {
  assert.deepEqual(parsePsJson(PODMAN_PS), [
    {
      id: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
      name: "zvpg_main_6001",
      state: "running",
      labels: {
        "zvpg.branch": "main",
        "zvpg.dataset": "zvpg_pool/data",
        "zvpg.pool": "zvpg_pool",
        "zvpg.port": "6001",
      },
    },
    { id: "1234", name: "stray", state: "created", labels: {} },
  ]);
  assert.deepEqual(parsePsJson("[]"), []);
  assert.deepEqual(parsePsJson("[]\n"), []);
});

Deno.test("runtime: parsePsJson on nerdctl output (Status only)", () => {
  const list = parsePsJson(NERDCTL_PS);
  assert.deepEqual(list.map((c) => [c.id, c.name, c.state]), [
    ["c0ffee", "zvpg_main_6001", "running"],
    ["dead", "zvpg_dev_6002", "exited"],
    ["new", "zvpg_new_6003", "created"],
    ["odd", "zvpg_odd_6004", "paused"],
  ]);
  assert.deepEqual(list[0].labels, {
    "zvpg.branch": "main",
    "zvpg.pool": "zvpg_pool",
    "zvpg.port": "6001",
  });
  assert.deepEqual(list[1].labels, { "zvpg.branch": "dev" });
});

Deno.test("runtime: parsePsJson edge cases", () => {
  assert.deepEqual(parsePsJson(""), []);
  assert.deepEqual(parsePsJson("  \n \n"), []);
  // a label value holding '=' keeps it; a pair without '=' is dropped
  const [c] = parsePsJson(
    JSON.stringify({ ID: "x", Names: "n", State: "Running", Labels: "a=b=c,junk,=v,k=" }),
  );
  assert.equal(c.state, "running");
  assert.deepEqual(c.labels, { a: "b=c", k: "" });
  // podman numbers in labels are strings in the result
  const [p] = parsePsJson(JSON.stringify([{ Id: "y", Names: [], Labels: { n: 1 } }]));
  assert.deepEqual(p, { id: "y", name: "", state: "", labels: { n: "1" } });
  assert.throws(() => parsePsJson("not json"), SyntaxError);
});

Deno.test("runtime: parseNerdctlVersion", () => {
  assert.equal(parseNerdctlVersion(NERDCTL_VERSION), "v1.7.6 (containerd v1.7.18)");
  assert.equal(
    parseNerdctlVersion(JSON.stringify({ Client: { Version: "v2.0.0" }, Server: {} })),
    "v2.0.0",
  );
  assert.equal(
    parseNerdctlVersion(
      JSON.stringify({ Server: { Components: [{ Name: "containerd", Version: "v2.0.1" }] } }),
    ),
    "? (containerd v2.0.1)",
  );
  assert.equal(parseNerdctlVersion(JSON.stringify({ Server: { Components: [] } })), "unknown");
  assert.throws(
    () => parseNerdctlVersion(JSON.stringify({ Client: { Version: "v1.7.6" } })),
    /cannot reach containerd/,
  );
  assert.throws(() => parseNerdctlVersion(""), SyntaxError);
});

Deno.test("runtime: isNoSuchContainer", () => {
  for (
    const text of [
      "Error response from daemon: No such container: zvpg_main_6001",
      "Error: No such object: zvpg_main_6001",
      'Error: no container with name or ID "zvpg_main_6001" found: no such container',
      'time="2026-11-24T11:33:23Z" level=fatal msg="1 errors:\\nno such container: x"',
      'FATA[0000] container "x" not found',
      "Error: NO SUCH CONTAINER: x",
    ]
  ) {
    assert.equal(isNoSuchContainer(text), true, text);
  }
  for (
    const text of [
      "",
      "permission denied while trying to connect to the Docker daemon socket",
      "Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
      "Error response from daemon: cannot stop container: x: tried to kill container",
    ]
  ) {
    assert.equal(isNoSuchContainer(text), false, text);
  }
});
