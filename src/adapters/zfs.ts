/**
 * The ZFS adapter: pools, datasets, snapshots, clones and user properties through the
 * `zfs` and `zpool` programs. It keeps to the command forms that both Debian's zfs-fuse
 * (an old dialect: no `zfs list -p`, no `zfs get -t`, one property per `zfs set`) and
 * OpenZFS 2.x accept.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { CommandFailedError } from "../errors.ts";
import { log } from "../runtime/log.ts";
import { PipeEnd } from "../runtime/os_pipe.ts";
import type { CommandRunner } from "../runtime/runner.ts";

/** One dataset or snapshot with the properties that were asked for. */
export interface ZfsEntry {
  name: string;
  /** `filesystem`, `snapshot` or `volume`. */
  type: string;
  /** Property values; unset properties (ZFS prints `-`) are absent. */
  props: Record<string, string>;
}

/** Health and space of a pool, in bytes. */
export interface PoolStatus {
  name: string;
  health: string;
  size: number;
  allocated: number;
  free: number;
}

/**
 * Which ZFS answers: OpenZFS 2.x (a kernel module, and more: `written`, `zfs diff`,
 * `-p` everywhere) or Debian's zfs-fuse 0.7 (a FUSE daemon, the old dialect).
 */
export type ZfsFlavor = "openzfs" | "zfs-fuse";

/** The flavor of this host's ZFS: OpenZFS exactly when its kernel module is loaded. */
export function hostZfsFlavor(moduleDir = "/sys/module/zfs"): ZfsFlavor {
  return existsSync(moduleDir) ? "openzfs" : "zfs-fuse";
}

/** How long to keep retrying an operation that failed with "dataset is busy". */
const BUSY_RETRY_MS = 5_000;

/** Drives `zfs` and `zpool`. */
export class Zfs {
  constructor(
    private readonly runner: CommandRunner,
    /** What the adapter may ask for beyond the common dialect. */
    readonly flavor: ZfsFlavor = "zfs-fuse",
    private readonly zfs = "zfs",
    private readonly zpool = "zpool",
  ) {}

  /** Whether the `zfs` program runs and the ZFS service answers. */
  async available(): Promise<{ ok: boolean; detail: string }> {
    const result = await this.runner.run(this.zpool, ["list", "-H", "-o", "name"], {
      allowFailure: true,
      timeoutMs: 30_000,
    });
    return { ok: result.code === 0, detail: (result.stderr || result.stdout).trim() };
  }

  /** Whether `zpool list` takes `-p` (OpenZFS does, zfs-fuse does not); learnt on first use. */
  #zpoolParsable: boolean | undefined;

  /**
   * The pool's health and space, or undefined when no such pool is imported. Sizes are
   * exact on OpenZFS (`-p`) and parsed from human units on zfs-fuse.
   */
  async poolStatus(pool: string): Promise<PoolStatus | undefined> {
    const columns = ["-o", "name,health,size,allocated,free", pool];
    if (this.#zpoolParsable !== false) {
      const exact = await this.runner.run(this.zpool, ["list", "-H", "-p", ...columns], {
        allowFailure: true,
      });
      if (exact.code === 0) {
        this.#zpoolParsable = true;
        return parsePoolList(exact.stdout)[0];
      }
      if (!/invalid option|illegal option|unrecognized option/i.test(exact.stderr)) {
        return undefined;
      }
      this.#zpoolParsable = false;
    }
    const result = await this.runner.run(this.zpool, ["list", "-H", ...columns], {
      allowFailure: true,
    });
    if (result.code !== 0) return undefined;
    return parsePoolList(result.stdout)[0];
  }

  /** Creates a pool on `vdevs` whose root dataset is not mounted. */
  async createPool(pool: string, vdevs: string[]): Promise<void> {
    await this.runner.run(this.zpool, ["create", "-m", "none", pool, ...vdevs]);
  }

  /** Imports an exported pool, looking for its devices in `dir`. */
  async importPool(pool: string, dir: string): Promise<boolean> {
    const result = await this.runner.run(this.zpool, ["import", "-d", dir, pool], {
      allowFailure: true,
    });
    return result.code === 0;
  }

  /** Names of the exported pools whose devices are in `dir` (`zpool import -d dir` lists them). */
  async importablePools(dir: string): Promise<string[]> {
    const result = await this.runner.run(this.zpool, ["import", "-d", dir], {
      allowFailure: true,
    });
    return [...result.stdout.matchAll(/^\s*pool:\s*(\S+)\s*$/gm)].map((m) => m[1]);
  }

  /** Exports a pool (its datasets are unmounted). */
  async exportPool(pool: string): Promise<void> {
    await this.retryBusy(() => this.runner.run(this.zpool, ["export", pool]));
  }

  /** Destroys a whole pool. Only used for pools zvpg created for tests and demos. */
  async destroyPool(pool: string): Promise<void> {
    await this.retryBusy(() => this.runner.run(this.zpool, ["destroy", "-f", pool]));
  }

  /** Whether a dataset or snapshot exists. */
  async exists(name: string): Promise<boolean> {
    const result = await this.runner.run(this.zfs, ["list", "-H", "-o", "name", name], {
      allowFailure: true,
    });
    return result.code === 0;
  }

  /** Creates a filesystem with the given properties. */
  async create(dataset: string, props: Record<string, string> = {}): Promise<void> {
    await this.runner.run(this.zfs, ["create", ...propArgs(props), dataset]);
  }

  /** Clones `snapshot` into a new filesystem `dataset`. */
  async clone(
    snapshot: string,
    dataset: string,
    props: Record<string, string> = {},
  ): Promise<void> {
    await this.runner.run(this.zfs, ["clone", ...propArgs(props), snapshot, dataset]);
  }

  /** Takes a snapshot `dataset@name`, setting user properties on it in the same call. */
  async snapshot(fullName: string, props: Record<string, string> = {}): Promise<void> {
    await this.runner.run(this.zfs, ["snapshot", ...propArgs(props), fullName]);
  }

  /**
   * Sets properties: on OpenZFS in one `zfs set` (atomically), on zfs-fuse one call each
   * (its dialect takes one property per call).
   */
  async set(name: string, props: Record<string, string>): Promise<void> {
    const pairs = Object.entries(props).map(([key, value]) => `${key}=${value}`);
    if (pairs.length === 0) return;
    if (this.flavor === "openzfs") {
      await this.runner.run(this.zfs, ["set", ...pairs, name]);
      return;
    }
    for (const pair of pairs) await this.runner.run(this.zfs, ["set", pair, name]);
  }

  /** Removes a locally set property so it is inherited again (for user props: unset). */
  async inherit(name: string, prop: string): Promise<void> {
    await this.runner.run(this.zfs, ["inherit", prop, name]);
  }

  /** Destroys a dataset or snapshot, retrying briefly while ZFS answers "busy". */
  async destroy(name: string, options: { recursive?: boolean } = {}): Promise<void> {
    const args = ["destroy", ...(options.recursive ? ["-r"] : []), name];
    await this.retryBusy(() => this.runner.run(this.zfs, args));
  }

  /** Renames a dataset (its snapshots and the clones made from them follow by object). */
  async rename(from: string, to: string, busyWaitMs = BUSY_RETRY_MS): Promise<void> {
    await this.retryBusy(() => this.runner.run(this.zfs, ["rename", from, to]), busyWaitMs);
  }

  /**
   * Puts hold `tag` on a snapshot, so `zfs destroy` of it fails (EBUSY) until released. A
   * tag already there counts as done.
   */
  async hold(tag: string, snapshot: string): Promise<void> {
    await this.runner.run(this.zfs, ["hold", tag, snapshot], {
      tolerate: (r) => /tag already exists/i.test(r.stderr),
    });
  }

  /** Releases hold `tag` from a snapshot; a tag not there counts as done. */
  async release(tag: string, snapshot: string): Promise<void> {
    await this.runner.run(this.zfs, ["release", tag, snapshot], {
      tolerate: (r) => /no such tag/i.test(r.stderr),
    });
  }

  /**
   * The user holds on `snapshots` (those with none are left out): their number
   * (`userrefs`, one `zfs get`) and, on OpenZFS, their tags (`zfs holds -H`). zfs-fuse
   * cannot list tags (its `zfs holds` needs a Python helper Debian does not ship): there
   * `tags` is null, and a caller releases the tags it knows.
   */
  async holds(snapshots: string[]): Promise<Map<string, { count: number; tags: string[] | null }>> {
    const held = new Map<string, { count: number; tags: string[] | null }>();
    for (const e of await this.get(snapshots, ["userrefs"])) {
      const count = Number(e.props.userrefs);
      if (count > 0) held.set(e.name, { count, tags: null });
    }
    if (held.size === 0) return held;
    for (const { snapshot, tag } of (await this.holdTags([...held.keys()])) ?? []) {
      const entry = held.get(snapshot);
      if (entry) entry.tags = [...(entry.tags ?? []), tag];
    }
    return held;
  }

  /**
   * The holds on `snapshots` (OpenZFS `zfs holds -H`: name, tag and time, tab-separated),
   * missing snapshots skipped; undefined on zfs-fuse, whose `zfs holds` runs a Python
   * module Debian does not ship ("internal error: /usr/lib/zfs/pyzfs.py not found").
   */
  async holdTags(snapshots: string[]): Promise<{ snapshot: string; tag: string }[] | undefined> {
    if (this.flavor !== "openzfs") return undefined;
    if (snapshots.length === 0) return [];
    const result = await this.runner.run(this.zfs, ["holds", "-H", ...snapshots], {
      tolerate: (r) => r.stdout.trim() !== "" || /does not exist/i.test(r.stderr),
    });
    return parseHolds(result.stdout);
  }

  /**
   * Rolls a dataset back to its most recent snapshot `snapshot`; with `later`, to an older
   * one, destroying the snapshots taken after it (`rollback -r`).
   */
  async rollback(snapshot: string, options: { later?: boolean } = {}): Promise<void> {
    await this.runner.run(this.zfs, ["rollback", ...(options.later ? ["-r"] : []), snapshot]);
  }

  /** Promotes a clone so that it no longer depends on its origin. */
  async promote(dataset: string): Promise<void> {
    await this.runner.run(this.zfs, ["promote", dataset]);
  }

  /** Mounts a filesystem (no-op when it is mounted already). */
  async mount(dataset: string): Promise<void> {
    await this.runner.run(this.zfs, ["mount", dataset], {
      tolerate: (r) => /already mounted/i.test(r.stderr),
    });
  }

  /**
   * Writes the send stream of `snapshot` into `file`, a new file (0600): the whole
   * snapshot, or with `from` only what changed since that earlier snapshot of its lineage
   * (`-i`; a clone's origin counts, named in full). Plain `send [-i FROM] SNAP`, which
   * zfs-fuse and OpenZFS both take (no `-c`, `-L`, `-e` or `-w`: zfs-fuse has none). A
   * failed or stopped send leaves no file.
   */
  async sendToFile(snapshot: string, file: string, options: { from?: string } = {}): Promise<void> {
    const from = options.from === undefined ? [] : ["-i", options.from];
    await this.runner.run(this.zfs, ["send", ...from, snapshot], { stdoutFile: file });
  }

  /**
   * Writes the send stream of `snapshot` into `out`, a stream or an OS pipe's write end
   * (see {@link sendToFile} for `from`),
   * or, with `token`, the rest of the partial receive that resume token names
   * (`send -t`, OpenZFS; check the token with {@link resumeTokenTarget} first).
   */
  async sendStream(
    snapshot: string,
    out: WritableStream<Uint8Array> | PipeEnd,
    options: { from?: string; token?: string; signal?: AbortSignal } = {},
  ): Promise<void> {
    const args = options.token !== undefined
      ? ["send", "-t", options.token]
      : ["send", ...(options.from === undefined ? [] : ["-i", options.from]), snapshot];
    await this.runner.run(this.zfs, args, {
      ...(out instanceof PipeEnd ? { stdoutEnd: out } : { stdoutStream: out }),
      signal: options.signal,
    });
  }

  /**
   * The size in bytes of the stream {@link sendStream} would write (`send -nP`, nothing is
   * sent), for progress; undefined on a ZFS without it (zfs-fuse) or when it cannot tell.
   */
  async sendSize(snapshot: string, options: { from?: string } = {}): Promise<number | undefined> {
    if (this.flavor !== "openzfs") return undefined;
    const from = options.from === undefined ? [] : ["-i", options.from];
    const result = await this.runner.run(this.zfs, ["send", "-nP", ...from, snapshot], {
      tolerate: () => true,
    });
    const size = /^size\s+(\d+)\s*$/m.exec(`${result.stdout}\n${result.stderr}`)?.[1];
    return result.code === 0 && size !== undefined ? Number(size) : undefined;
  }

  /**
   * Receives the stream read from `input` as `snapshot` (`<dataset>@<name>`), unmounted
   * (`receive -u`): a whole stream creates the dataset, an increment needs its base as the
   * newest snapshot of the dataset. The snapshot keeps its GUID. `resumable` (OpenZFS): a
   * stream cut short leaves a partial receive whose `receive_resume_token` a later send
   * resumes (`receive -s`). zfs-fuse and OpenZFS both take this form.
   *
   * The target is always a snapshot name: received into a bare dataset, a stream names its
   * snapshot itself. What the stream makes is still the stream's to say (a `send -R` or
   * `-p` stream makes children and sets properties): check its header first
   * (domain/send_stream.ts).
   */
  async receiveStream(
    snapshot: string,
    input: ReadableStream<Uint8Array> | PipeEnd,
    options: { resumable?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    const args = [
      "receive",
      "-u",
      ...(options.resumable ? ["-s"] : []),
      receiveTarget(snapshot),
    ];
    await this.runner.run(this.zfs, args, {
      ...(input instanceof PipeEnd ? { stdinEnd: input } : { stdinStream: input }),
      signal: options.signal,
    });
  }

  /**
   * The resume token of a partial receive into `dataset` (OpenZFS's
   * `receive_resume_token`); null when there is none, or on a ZFS without resume.
   */
  async resumeToken(dataset: string): Promise<string | null> {
    if (this.flavor !== "openzfs") return null;
    const [entry] = await this.get([dataset], ["receive_resume_token"]);
    const token = entry?.props.receive_resume_token;
    return token === undefined || token === "" || token === "-" ? null : token;
  }

  /**
   * What resume token `token` would send: the snapshot it names (`toname`) and its GUID,
   * read with `send -nvP -t` (nothing is sent); undefined when ZFS cannot read it.
   */
  async resumeTokenTarget(token: string): Promise<{ toname: string; toguid: string } | undefined> {
    const result = await this.runner.run(this.zfs, ["send", "-nvP", "-t", token], {
      tolerate: () => true,
    });
    if (result.code !== 0) return undefined;
    const text = `${result.stdout}\n${result.stderr}`;
    const toname = /^\s*toname = (\S+)$/m.exec(text)?.[1];
    const toguid = /^\s*toguid = (0x[0-9a-f]+|\d+)$/m.exec(text)?.[1];
    if (toname === undefined || toguid === undefined) return undefined;
    return { toname, toguid: BigInt(toguid).toString() };
  }

  /**
   * Discards the partial receive into `dataset` (`receive -A`, OpenZFS): an increment's
   * hidden `%recv` child, or the dataset itself when a whole receive was creating it.
   * None, or no such dataset, is fine.
   */
  async abortReceive(dataset: string): Promise<void> {
    await this.runner.run(this.zfs, ["receive", "-A", dataset], {
      tolerate: (r) =>
        /does not have any resumable receive state|dataset does not exist/i.test(r.stderr),
    });
  }

  /**
   * The GUID of a dataset or snapshot: its identity, which `send` and `receive` keep
   * whatever the names (undefined when it does not exist).
   */
  async guid(name: string): Promise<string | undefined> {
    const [entry] = await this.get([name], ["guid"]);
    return entry?.props.guid;
  }

  /** The GUID of every snapshot below `roots` (missing roots skipped), by ZFS name. */
  async snapshotGuids(roots: string[]): Promise<Map<string, string>> {
    const guids = new Map<string, string>();
    for (const e of await this.getTree(roots, ["guid"])) {
      if (e.name.includes("@") && e.props.guid !== undefined) guids.set(e.name, e.props.guid);
    }
    return guids;
  }

  /**
   * Reads `props` of `roots` and everything below them (snapshots included) in one call:
   * `zfs get -H -p -r -o name,property,value,source PROPS ROOTS...`. Missing roots are
   * skipped. User properties (`module:name`) are kept only where they are set locally:
   * ZFS hands them down to child datasets and snapshots, which did not get them from zvpg.
   */
  getTree(roots: string[], props: string[]): Promise<ZfsEntry[]> {
    return this.#get(["-r"], roots, props);
  }

  /**
   * Reads `props` of exactly `names` (datasets or snapshots), or with `depth` of them and
   * that many levels below (a dataset's snapshots are one level below it), in one call.
   * Missing names are skipped; user properties are kept as in {@link getTree}. Its cost
   * grows with the entries it returns only, not with the rest of the pool.
   */
  get(names: string[], props: string[], depth?: number): Promise<ZfsEntry[]> {
    return this.#get(depth === undefined ? [] : ["-d", String(depth)], names, props);
  }

  /**
   * The values of native properties `props` of one dataset and whether each is set on it
   * (`local`) rather than inherited or default, to put them back later.
   */
  async localProps(
    name: string,
    props: string[],
  ): Promise<Record<string, { value: string; local: boolean }>> {
    const result = await this.runner.run(this.zfs, [
      ...["get", "-H", "-o", "property,value,source", props.join(","), name],
    ]);
    const out: Record<string, { value: string; local: boolean }> = {};
    for (const line of result.stdout.split("\n")) {
      const [prop, value, source] = line.split("\t");
      if (prop && value !== undefined) out[prop] = { value, local: source === "local" };
    }
    return out;
  }

  /**
   * The user properties set locally on `name` (`zfs get ... all NAME`, one call whatever
   * their number), or undefined when it does not exist.
   */
  async userProps(name: string): Promise<Record<string, string> | undefined> {
    const result = await this.runner.run(
      this.zfs,
      ["get", "-H", "-p", "-o", "name,property,value,source", "all", name],
      { tolerate: (r) => /does not exist|no such pool/i.test(r.stderr) },
    );
    const entry = parseGetOutput(result.stdout).find((e) => e.name === name);
    if (!entry) return undefined;
    return Object.fromEntries(Object.entries(entry.props).filter(([key]) => isUserProp(key)));
  }

  async #get(scope: string[], roots: string[], props: string[]): Promise<ZfsEntry[]> {
    if (roots.length === 0) return [];
    const allProps = props.includes("type") ? props : ["type", ...props];
    const result = await this.runner.run(
      this.zfs,
      [
        "get",
        "-H",
        "-p",
        ...scope,
        "-o",
        "name,property,value,source",
        allProps.join(","),
        ...roots,
      ],
      {
        // the roots that exist are listed, the missing ones named on stderr
        tolerate: (r) =>
          r.stdout.trim() !== "" ||
          /does not exist|no such pool|dataset does not exist/i.test(r.stderr),
      },
    );
    return parseGetOutput(result.stdout);
  }

  async retryBusy<T>(action: () => Promise<T>, waitMs = BUSY_RETRY_MS): Promise<T> {
    const deadline = Date.now() + waitMs;
    while (true) {
      try {
        return await action();
      } catch (error) {
        const busy = error instanceof CommandFailedError && /busy/i.test(error.stderr);
        if (!busy || Date.now() > deadline) throw error;
        log.debug("zfs: busy, retrying");
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

function propArgs(props: Record<string, string>): string[] {
  return Object.entries(props).flatMap(([key, value]) => ["-o", `${key}=${value}`]);
}

/** Whether a property is a user property (`module:name`), which ZFS lets children inherit. */
export function isUserProp(prop: string): boolean {
  return prop.includes(":");
}

/**
 * Parses `zfs get -H -p -o name,property,value,source` output into entries, in output
 * order. Both dialects print the source as `-`, `local`, `default`, `inherited from X`
 * (zfs-fuse and OpenZFS alike). An inherited user property is dropped: only the dataset
 * it was set on carries it. A value may hold tabs: the source is the last column.
 */
export function parseGetOutput(stdout: string): ZfsEntry[] {
  const byName = new Map<string, ZfsEntry>();
  for (const raw of stdout.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const first = line.indexOf("\t");
    const second = line.indexOf("\t", first + 1);
    const last = line.lastIndexOf("\t");
    if (first < 0 || second < 0 || last <= second) continue;
    const name = line.slice(0, first);
    const prop = line.slice(first + 1, second);
    const value = line.slice(second + 1, last);
    const source = line.slice(last + 1);
    let entry = byName.get(name);
    if (!entry) {
      entry = { name, type: "", props: {} };
      byName.set(name, entry);
    }
    if (prop === "type") entry.type = value;
    if (value === "-") continue;
    if (isUserProp(prop) && source !== "local") continue;
    entry.props[prop] = value;
  }
  return [...byName.values()];
}

/** Parses OpenZFS `zfs holds -H` output: `NAME<TAB>TAG<TAB>TIMESTAMP` per hold. */
export function parseHolds(stdout: string): { snapshot: string; tag: string }[] {
  return stdout.split("\n").flatMap((line) => {
    const [snapshot, tag] = line.replace(/\r$/, "").split("\t");
    return snapshot && tag ? [{ snapshot, tag }] : [];
  });
}

/** Parses `zpool list -H -o name,health,size,allocated,free` (raw or human sizes). */
export function parsePoolList(stdout: string): PoolStatus[] {
  return stdout.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const [name, health, size, allocated, free] = line.split("\t");
    return {
      name,
      health,
      size: parseSize(size),
      allocated: parseSize(allocated),
      free: parseSize(free),
    };
  });
}

/** Parses a ZFS size: raw bytes (`1234`) or human (`1.98G`, `512K`, `0`). */
export function parseSize(text: string | undefined): number {
  if (text === undefined) return 0;
  const match = text.trim().match(/^([0-9]+(?:\.[0-9]+)?)([BKMGTPE]?)$/i);
  if (!match) return 0;
  const units = "BKMGTPE";
  const power = match[2] === "" ? 0 : units.indexOf(match[2].toUpperCase());
  return Math.round(parseFloat(match[1]) * 1024 ** power);
}

/**
 * `snapshot` as the target of a receive: a snapshot name, never a bare dataset (whose
 * stream would name what it makes; see {@link Zfs.receiveStream}).
 */
function receiveTarget(snapshot: string): string {
  const at = snapshot.indexOf("@");
  if (at <= 0 || at === snapshot.length - 1) {
    throw new Error(`zfs receive: '${snapshot}' is no snapshot name`);
  }
  return snapshot;
}
