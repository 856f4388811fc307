/**
 * The pool the CLI tests run against: `main` running on 6001, its named snapshot
 * `baseline`, branch `feature/auth` made from it (stopped, last port 6002) and the
 * automatic snapshot it has. Every call a command makes is built here, so a change in
 * how services read the pool is made in one place.
 *
 * @module
 */
import type { ExpectedCall } from "../../src/runtime/fake_runner.ts";
import { portClaimKey, snapshotClaimKey } from "../../src/domain/claims.ts";
import {
  branchGetCall,
  completeIndex,
  dockerPsCall,
  dockerPsLine,
  type FixtureEntry,
  indexCall,
  slotsCall,
  takeOversCall,
  zfsGetCall,
  zfsGetOutput,
} from "../unit/helpers.ts";

/** The zvpg process id, as written in `zvpg:pid`. */
export const PID = String(Deno.pid);

/** `tpool/data`: the default branch. */
export function mainDataset(state = "running"): FixtureEntry {
  return {
    name: "tpool/data",
    props: {
      type: "filesystem",
      used: "42151936",
      referenced: "41930752",
      creation: "1795000000",
      createtxg: "10",
      mountpoint: "/var/lib/zvpg/data",
      usedbydataset: "41930752",
      usedbysnapshots: "221184",
      "zvpg:branch": "main",
      "zvpg:state": state,
      "zvpg:port": "6001",
      "zvpg:runtime": "docker",
    },
  };
}

/** `tpool/data@baseline`: a snapshot someone named. */
export const BASELINE: FixtureEntry = {
  name: "tpool/data@baseline",
  props: {
    type: "snapshot",
    used: "221184",
    referenced: "41930752",
    creation: "1795000100",
    createtxg: "20",
    "zvpg:message": "Initial state",
    "zvpg:taken": "2026-11-24T10:00:00.000Z",
    "zvpg:tool": "zvpg/test",
  },
};

/** `tpool/clones`. */
export const CLONES: FixtureEntry = { name: "tpool/clones", props: { type: "filesystem" } };

/** `feature/auth`, cloned from baseline. */
export function featureDataset(state = "stopped"): FixtureEntry {
  return {
    name: "tpool/clones/feature_sauth",
    props: {
      type: "filesystem",
      used: "331776",
      referenced: "41897984",
      creation: "1795000200",
      createtxg: "100",
      origin: "tpool/data@baseline",
      mountpoint: "/var/lib/zvpg/clones/feature_sauth",
      "zvpg:branch": "feature/auth",
      "zvpg:parent": "main",
      "zvpg:state": state,
      "zvpg:port": "6002",
      "zvpg:runtime": "docker",
      "zvpg:created": "2026-11-24T11:00:00.000Z",
    },
  };
}

/** The whole pool, `feature/auth` in `state`. */
export function pool(state = "stopped"): FixtureEntry[] {
  return [mainDataset(), BASELINE, CLONES, featureDataset(state)];
}

/** `docker ps` line of main's container. */
export const MAIN_PS = dockerPsLine({ branch: "main", port: 6001, name: "zvpg_main_6001" });
/** `docker ps` line of feature/auth's container. */
export const FEATURE_PS = dockerPsLine({
  branch: "feature/auth",
  port: 6002,
  name: "zvpg_feature_sauth_6002",
});

/** The inventory's two calls: the pool as `entries`, the containers as `ps`. */
export function inventory(entries = pool(), ps = [MAIN_PS]): ExpectedCall[] {
  return [zfsGetCall(zfsGetOutput(entries)), dockerPsCall(ps.map((l) => l + "\n").join(""))];
}

/** The inventory's two calls, the remote-tracking datasets read too. */
export function inventoryWithTracking(entries: FixtureEntry[], ps = [MAIN_PS]): ExpectedCall[] {
  return [
    zfsGetCall(zfsGetOutput(entries), undefined, { tracking: true }),
    dockerPsCall(ps.map((l) => l + "\n").join("")),
  ];
}

/**
 * The claims index of {@link pool}, complete: main's port and the name `baseline`
 * (`feature/auth` is stopped: it claims no port; automatic snapshots are claimed too).
 */
export function poolIndex(extra: Record<string, string> = {}): ExpectedCall {
  return completeIndex({
    [snapshotClaimKey("baseline")]: "main",
    [portClaimKey("tpool/data")]: "6001 tpool/data",
    ...extra,
  });
}

/** `zpool list` of the test pool. */
export const ZPOOL_LIST: ExpectedCall = {
  argv: ["zpool", "list", "-H", "-p", "-o", "name,health,size,allocated,free", "tpool"],
  result: { stdout: "tpool\tONLINE\t10737418240\t43306189\t10694112051\n" },
};

/** The read of the take-overs recorded in the pool: none (see `findTakeOvers`). */
export const NO_TAKE_OVERS: ExpectedCall = takeOversCall(pool());

/** `docker version`. */
export const DOCKER_VERSION: ExpectedCall = {
  argv: ["docker", "version", "--format", "{{.Server.Version}}"],
  result: { stdout: "20.10.24+dfsg1\n" },
};

/** `docker image inspect` of the default image. */
export const IMAGE_INSPECT: ExpectedCall = {
  argv: ["docker", "image", "inspect", "postgres:17"],
  result: { stdout: "[{}]\n" },
};

/**
 * The snapshot commands' one call: the pool as `entries` (with `tracking`, the
 * remote-tracking datasets read too).
 */
export function zfsOnly(entries = pool(), options: { tracking?: boolean } = {}): ExpectedCall[] {
  return [zfsGetCall(zfsGetOutput(entries), undefined, options)];
}

/** `tpool/remotes/usb/main`: the remote-tracking dataset of branch main of remote `usb`. */
export const TRACKING = "tpool/remotes/usb/main";

/**
 * The remote-tracking datasets of remote `usb`, holding `usb/baseline` and `usb/v2` pulled
 * from it (taken there on main).
 */
export function pulled(): FixtureEntry[] {
  const snapshot = (name: string, txg: string, time: string, message: string) => ({
    name: `${TRACKING}@${name}`,
    props: {
      type: "snapshot",
      used: "0",
      referenced: "41930752",
      creation: "1795000300",
      createtxg: txg,
      "zvpg:branch": "main",
      "zvpg:message": message,
      "zvpg:taken": time,
    },
  });
  return [
    { name: "tpool/remotes", props: { type: "filesystem", mountpoint: "none" } },
    { name: "tpool/remotes/usb", props: { type: "filesystem" } },
    { name: TRACKING, props: { type: "filesystem", createtxg: "200" } },
    snapshot("baseline", "210", "2026-11-23T09:00:00.000Z", "Their state"),
    snapshot("v2", "220", "2026-11-23T12:00:00.000Z", "Their second"),
  ];
}

/**
 * `feature/auth` cloned from `usb/v2` (pulled from remote `usb`) instead of `baseline`.
 */
export function featureFromPulled(state = "stopped"): FixtureEntry {
  const feature = featureDataset(state);
  return {
    ...feature,
    props: { ...feature.props, origin: `${TRACKING}@v2`, "zvpg:parent": "usb/main" },
  };
}

/** `feature/auth`'s dataset. */
export const FEATURE = "tpool/clones/feature_sauth";

/**
 * The narrow read of one branch (its dataset and the default branch's), with the branch
 * slots when `slots`, and that branch's containers `ps`.
 */
export function branchScope(
  branch = "feature/auth",
  dataset = FEATURE,
  options: { entries?: FixtureEntry[]; ps?: string[]; slots?: boolean; known?: boolean } = {},
): ExpectedCall[] {
  const entries = options.entries ?? pool();
  return [
    branchGetCall(entries, [dataset]),
    ...(options.slots ? [indexCall()] : []),
    // `known`: the caller knows the branch's containers, the engine is not asked
    ...(options.known
      ? []
      : [dockerPsCall((options.ps ?? []).map((l) => l + "\n").join(""), branch)]),
    ...(options.slots ? [slotsCall(entries)] : []),
  ];
}

/**
 * The calls moving remote `remote`'s base hold to `snapshot`, the snapshots of its dataset
 * snapshots answering with the remotes they record (`held`).
 */
export function baseHoldCalls(
  snapshot: string,
  held: Record<string, string | undefined>,
  remote = "usb",
): ExpectedCall[] {
  const prop = "zvpg:remote-bases";
  const dataset = snapshot.slice(0, snapshot.indexOf("@"));
  const stdout = Object.entries(held).map(([name, remotes], i) =>
    `${name}\ttype\tsnapshot\t-\n${name}\t${prop}\t${remotes ?? "-"}\t${
      remotes ? "local" : "-"
    }\n${name}\tcreatetxg\t${10 + i}\t-\n`
  ).join("");
  const recorded = held[snapshot]?.split(",").includes(remote) ?? false;
  const released = Object.entries(held)
    .filter(([name, remotes]) => name !== snapshot && remotes?.split(",").includes(remote))
    .flatMap(([name]) => [
      { argv: ["zfs", "release", `zvpg-remote-${remote}`, name] },
      { argv: ["zfs", "inherit", prop, name] },
    ]);
  return [
    {
      argv: ["zfs", "get", "-H", "-p", "-d", "1", "-o", "name,property,value,source"]
        .concat([`type,${prop},createtxg`, dataset]),
      result: { stdout: `${dataset}\ttype\tfilesystem\t-\n${stdout}` },
    },
    ...(recorded ? [] : [{ argv: ["zfs", "set", `${prop}=${remote}`, snapshot] }]),
    { argv: ["zfs", "hold", `zvpg-remote-${remote}`, snapshot] },
    ...released,
  ];
}

/** The ssh argv zvpg runs to reach the remote `origin` (`ssh://db2/tank`) of the CLI tests. */
export const SSH_ORIGIN = [
  "ssh",
  ...["-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-e", "none", "-T"],
  ...["--", "db2", "zvpg", "serve", "--stdio"],
];
