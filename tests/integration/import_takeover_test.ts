/**
 * A zero-copy take-over of the user's dataset interrupted at each of its steps, on the real
 * stack: the dataset comes back as it was every time (name, every property it had and none
 * of zvpg's, mounted at its mountpoint, the same data), and a retry takes it over.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { itest, sh, TEST_IMAGE, type TestEnv } from "../support/itest.ts";
import { logSize, sleep, waitForLog } from "../support/fault_support.ts";
import { freePort, SourceServer, tableHashes as hashes } from "../support/source_server.ts";

const MAIN_TS = new URL("../../main.ts", import.meta.url).pathname;

/** The take-over's fault points, in the order an import passes them. */
const TAKE_OVER_POINTS = [
  "import.adopt.after-snapshot",
  "import.adopt.after-rename",
  "import.adopt.after-set",
  "import.adopt.after-mount",
  "import.adopt.after-move",
  "import.after-adopt",
  "import.after-load",
  "import.after-start",
  "import.after-snapshot",
];

/** The properties set locally on `dataset` (`property=value`, sorted). */
async function localProps(dataset: string): Promise<string[]> {
  const r = await sh("zfs", ["get", "-H", "-o", "property,value,source", "all", dataset]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").map((l) => l.split("\t")).filter((f) => f[2] === "local")
    .map((f) => `${f[0]}=${f[1]}`).sort();
}

/** Where /proc/mounts says `dataset` is mounted ("" when it is not). */
function mountedAt(dataset: string): string {
  const line = readFileSync("/proc/mounts", "utf8").split("\n")
    .find((l) => l.split(" ")[0] === dataset);
  return line?.split(" ")[1] ?? "";
}

/** Every file below `dir` with its size, mode, owner and a digest of its bytes. */
async function treeDigest(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p);
      const base = `${p.slice(dir.length)} ${st.mode.toString(8)} ${st.uid}:${st.gid}`;
      if (e.isDirectory()) {
        out.push(base);
        await walk(p);
      } else {
        const sum = await crypto.subtle.digest("SHA-256", readFileSync(p));
        out.push(`${base} ${st.size} ${btoa(String.fromCharCode(...new Uint8Array(sum)))}`);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

/** `init env --from <dir>` interrupted (SIGINT) while paused at `point`. */
async function interruptAt(env: TestEnv, from: string, point: string, busyFor = 0) {
  const offset = logSize(env);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN_TS, "init", "env", "--from", from],
    env: {
      ZVPG_CONFIG_DIR: env.configDir,
      ZVPG_LOG_LEVEL: "INFO",
      ZVPG_FAULT_DELAY: `${point}:4000`,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let holder: Deno.ChildProcess | undefined;
  try {
    const reached = await Promise.race([
      waitForLog(env, `fault point '${point}'`, 180_000, offset).then(() => true),
      child.status.then(() => false),
    ]);
    if (!reached) {
      const out = await output;
      throw new Error(
        `${point}: zvpg ended (exit ${out.code}) before the fault point:\n${
          new TextDecoder().decode(out.stderr)
        }`,
      );
    }
    if (busyFor > 0) {
      // a process working in the taken-over dataset keeps it busy while it is given back
      holder = new Deno.Command("sleep", {
        args: [String(busyFor)],
        cwd: join(env.mountDir, "data"),
        stdin: "null",
      }).spawn();
      await sleep(200);
    }
  } finally {
    try {
      child.kill("SIGINT");
    } catch {
      // it ended already: the error above says how
    }
  }
  const out = await output;
  await holder?.status;
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

itest(
  "init env --from <data directory on zvpg's pool>: interrupted at every step of the take-over, the dataset comes back with its name, properties, mount and data; a retry takes it over",
  async (env) => {
    mkdirSync(env.mountDir, { recursive: true });
    const image = join(env.mountDir, `${env.pool}.img`);
    assert.equal((await sh("truncate", ["-s", "3G", image])).code, 0);
    const created = await sh("zpool", ["create", "-m", "none", env.pool, image]);
    assert.equal(created.code, 0, created.stderr);
    const src = new SourceServer(freePort(), TEST_IMAGE, 999);
    const legacy = `${env.pool}/legacy`;
    try {
      // the user's own settings, which must come back: a native one and a user property
      const made = await sh("zfs", [
        ...["create", "-o", `mountpoint=${src.pgdata}`, "-o", "atime=on"],
        ...["-o", "com.example:owner=alice", legacy],
      ]);
      assert.equal(made.code, 0, made.stderr);
      await src.start();
      const expected = await hashes((sql) => src.psql("app", sql));
      await src.stop();
      const guid = (await sh("zfs", ["get", "-H", "-o", "value", "guid", legacy])).stdout.trim();
      const props = await localProps(legacy);
      assert.ok(props.includes("com.example:owner=alice"), props.join(" "));
      const data = await treeDigest(src.pgdata);

      for (const point of TAKE_OVER_POINTS) {
        const busy = point === "import.after-load" ? 3 : 0;
        const r = await interruptAt(env, src.pgdata, point, busy);
        assert.equal(r.code, 130, `${point}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /not given back|could not remove/, `${point}: ${r.stderr}`);
        const guidNow = await sh("zfs", ["get", "-H", "-o", "value", "guid", legacy]);
        assert.equal(guidNow.stdout.trim(), guid, `${point}: the same dataset, under its name`);
        assert.deepEqual(await localProps(legacy), props, `${point}: its properties, no others`);
        assert.equal(mountedAt(legacy), src.pgdata, `${point}: mounted at its mountpoint`);
        assert.deepEqual(await treeDigest(src.pgdata), data, `${point}: the same files`);
        assert.deepEqual(await env.datasets(), [env.pool, legacy].sort(), `${point}: no snapshot`);
        assert.deepEqual(await env.containers(), [], point);
      }

      const ok = await env.ok(["init", "env", "--from", src.pgdata, "-f", "json"]);
      const steps = JSON.parse(ok.stdout).steps as { step: string }[];
      assert.ok(steps.some((s) => s.step === "adopt"), ok.stdout);
      const taken = await sh("zfs", ["get", "-H", "-o", "value", "guid", `${env.pool}/data`]);
      assert.equal(taken.stdout.trim(), guid, "taken over, not copied");
      const port = await env.port("main");
      assert.deepEqual(await hashes((sql) => env.psql(port, sql, "app")), expected);
      assert.ok(!existsSync(join(src.pgdata, "PG_VERSION")), "no longer at its old place");
    } finally {
      await env.cleanup();
      await src.remove();
    }
  },
  { init: false },
);
