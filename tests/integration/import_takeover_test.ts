/**
 * A zero-copy take-over of the user's dataset interrupted at each of its steps, on the real
 * stack, by Ctrl-C or by killing zvpg (then `status health --repair` gives it back): the
 * dataset comes back as it was every time (name, every property it had and none of zvpg's,
 * mounted at its mountpoint, the same data), and a retry takes it over.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { itest, sh, TEST_IMAGE, type TestEnv } from "../support/itest.ts";
import {
  assertKilled,
  failing,
  health,
  logSize,
  repair,
  sleep,
  waitForLog,
} from "../support/fault_support.ts";
import { freePort, SourceServer, tableHashes as hashes } from "../support/source_server.ts";
import { FAULT_POINTS } from "../../src/runtime/fault.ts";

const MAIN_TS = new URL("../../main.ts", import.meta.url).pathname;

/**
 * The take-over's fault points: those of FAULT_POINTS from its snapshot to main's that an
 * import passes (others in between, `mask.*`, belong to other kinds of import).
 */
const TAKE_OVER_POINTS = FAULT_POINTS.slice(
  FAULT_POINTS.indexOf("import.adopt.after-snapshot"),
  FAULT_POINTS.indexOf("import.after-snapshot") + 1,
).filter((point) => point.startsWith("import."));

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

/** `init env --from <dir>` killed by itself (SIGKILL, `ZVPG_FAULT`) at `point`. */
async function killAt(env: TestEnv, from: string, point: string) {
  const r = await env.zvpg(["init", "env", "--from", from], { ZVPG_FAULT: point });
  assertKilled(r, point);
}

/** The user's dataset holding a source's data directory, as it was before any take-over. */
interface Legacy {
  dataset: string;
  src: SourceServer;
  guid: string;
  props: string[];
  data: string[];
  /** The digests of the source's tables. */
  expected: Awaited<ReturnType<typeof hashes>>;
}

/**
 * Runs `body` on zvpg's pool (created by hand, with no zvpg dataset) holding the user's
 * dataset `legacy`, mounted where a source server's data directory is, with the user's
 * own settings, which must come back: a native one and a user property.
 */
async function withLegacy(env: TestEnv, body: (legacy: Legacy) => Promise<void>) {
  mkdirSync(env.mountDir, { recursive: true });
  const image = join(env.mountDir, `${env.pool}.img`);
  assert.equal((await sh("truncate", ["-s", "3G", image])).code, 0);
  const created = await sh("zpool", ["create", "-m", "none", env.pool, image]);
  assert.equal(created.code, 0, created.stderr);
  const src = new SourceServer(freePort(), TEST_IMAGE, 999);
  const dataset = `${env.pool}/legacy`;
  try {
    const made = await sh("zfs", [
      ...["create", "-o", `mountpoint=${src.pgdata}`, "-o", "atime=on"],
      ...["-o", "com.example:owner=alice", dataset],
    ]);
    assert.equal(made.code, 0, made.stderr);
    await src.start();
    const expected = await hashes((sql) => src.psql("app", sql));
    await src.stop();
    const guid = (await sh("zfs", ["get", "-H", "-o", "value", "guid", dataset])).stdout.trim();
    const props = await localProps(dataset);
    assert.ok(props.includes("com.example:owner=alice"), props.join(" "));
    await body({ dataset, src, guid, props, data: await treeDigest(src.pgdata), expected });
  } finally {
    await env.cleanup();
    await src.remove();
  }
}

/** The dataset is back as it was, and nothing of zvpg's is left in the pool. */
async function assertGivenBack(env: TestEnv, legacy: Legacy, point: string) {
  const guidNow = await sh("zfs", ["get", "-H", "-o", "value", "guid", legacy.dataset]);
  assert.equal(guidNow.stdout.trim(), legacy.guid, `${point}: the same dataset, under its name`);
  assert.deepEqual(await localProps(legacy.dataset), legacy.props, `${point}: its properties`);
  assert.equal(mountedAt(legacy.dataset), legacy.src.pgdata, `${point}: mounted`);
  assert.deepEqual(await treeDigest(legacy.src.pgdata), legacy.data, `${point}: the same files`);
  assert.deepEqual(
    await env.datasets(),
    [env.pool, legacy.dataset].sort(),
    `${point}: no snapshot, no dataset of zvpg's`,
  );
  assert.deepEqual(await env.containers(), [], point);
}

/** A retry takes the dataset over (the same guid) and main serves the source's data. */
async function assertRetryTakesOver(env: TestEnv, legacy: Legacy) {
  const ok = await env.ok(["init", "env", "--from", legacy.src.pgdata, "-f", "json"]);
  const steps = JSON.parse(ok.stdout).steps as { step: string }[];
  assert.ok(steps.some((s) => s.step === "adopt"), ok.stdout);
  const taken = await sh("zfs", ["get", "-H", "-o", "value", "guid", `${env.pool}/data`]);
  assert.equal(taken.stdout.trim(), legacy.guid, "taken over, not copied");
  const port = await env.port("main");
  assert.deepEqual(await hashes((sql) => env.psql(port, sql, "app")), legacy.expected);
  assert.ok(!existsSync(join(legacy.src.pgdata, "PG_VERSION")), "no longer at its old place");
}

/** Every property of the `@zvpg-adopt` snapshot in the pool, and its record decoded. */
async function adoptRecord(env: TestEnv): Promise<{ snapshot: string; all: string }> {
  const list = await sh("zfs", ["list", "-H", "-t", "snapshot", "-o", "name", "-r", env.pool]);
  const snapshot = list.stdout.split("\n").find((n) => n.endsWith("@zvpg-adopt"));
  assert.ok(snapshot, `no @zvpg-adopt snapshot in ${list.stdout}`);
  const all = await sh("zfs", ["get", "-H", "-o", "property,value", "all", snapshot]);
  const record = all.stdout.split("\n").find((l) => l.startsWith("zvpg:adopt\t"));
  assert.ok(record, all.stdout);
  const bytes = Uint8Array.from(atob(record.split("\t")[1]), (c) => c.charCodeAt(0));
  return { snapshot, all: `${all.stdout}\n${new TextDecoder().decode(bytes)}` };
}

itest(
  "init env --from <data directory on zvpg's pool>: interrupted at every step of the take-over, the dataset comes back with its name, properties, mount and data; a retry takes it over",
  (env) =>
    withLegacy(env, async (legacy) => {
      for (const point of TAKE_OVER_POINTS) {
        const busy = point === "import.after-load" ? 3 : 0;
        const r = await interruptAt(env, legacy.src.pgdata, point, busy);
        assert.equal(r.code, 130, `${point}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /not given back|could not remove/, `${point}: ${r.stderr}`);
        await assertGivenBack(env, legacy, point);
      }
      await assertRetryTakesOver(env, legacy);
    }),
  { init: false },
);

itest(
  "init env --from <data directory on zvpg's pool>: killed at every step of the take-over, status health names the dataset, a new import refuses, --repair gives it back whole; a retry takes it over",
  (env) =>
    withLegacy(env, async (legacy) => {
      for (const point of TAKE_OVER_POINTS) {
        await killAt(env, legacy.src.pgdata, point);
        // the record names the dataset, holds its properties, never a password
        const { snapshot, all } = await adoptRecord(env);
        assert.match(all, new RegExp(`"dataset":"${legacy.dataset}"`), `${point}: ${all}`);
        assert.match(all, /com\.example:owner":"alice"/, `${point}: ${all}`);
        if (existsSync(env.passFile)) {
          const secret = readFileSync(env.passFile, "utf8").trim().split(":").slice(4).join(":");
          assert.ok(!all.includes(secret), `${point}: zvpg's password in ${snapshot}`);
        }

        const h = await health(env);
        assert.equal(h.code, 1, `${point}: ${h.raw.stdout}`);
        const drift = h.checks.find((c) => c.name === "drift");
        assert.equal(drift?.status, "fail", `${point}: ${h.raw.stdout}`);
        assert.equal(
          drift?.detail,
          `dataset ${legacy.dataset}: a take-over by 'init env --from' was interrupted (its zvpg process is gone); repair will give it back as it was`,
          point,
        );

        const again = await env.zvpg(["init", "env", "--from", legacy.src.pgdata]);
        assert.equal(again.code, 1, `${point}: ${again.stderr}`);
        assert.equal(
          again.stderr.trim().split("\n").at(-1),
          `error: an interrupted take-over of ${legacy.dataset} was never given back — run 'zvpg status health --repair' to give it back as it was, then run this again`,
          point,
        );

        if (point === "import.after-start") {
          // a repair killed half-way through the give-back (renamed back, its properties
          // still zvpg's) leaves the record: the next repair finishes it
          const step = "import.give-back.after-rename";
          assertKilled(
            await env.zvpg(["status", "health", "--repair"], { ZVPG_FAULT: step }),
            step,
          );
          assert.equal(mountedAt(legacy.dataset), join(env.mountDir, "data"), "renamed back only");
          const still = await health(env);
          assert.match(failing(still.checks), new RegExp(`drift: dataset ${legacy.dataset}: `));
        }
        const fixed = await repair(env);
        assert.deepEqual(
          fixed.repairs.map((r) => [r.target, r.action, r.ok]),
          [[`dataset ${legacy.dataset}`, "give back", true]],
          `${point}: ${JSON.stringify(fixed)}`,
        );
        // zvpg is not set up (its datasets and files went with the import): no drift left
        assert.ok(!fixed.failed.some((f) => f.startsWith("drift")), fixed.failed.join("; "));
        await assertGivenBack(env, legacy, point);
      }
      await assertRetryTakesOver(env, legacy);
    }),
  { init: false },
);
