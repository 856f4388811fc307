/**
 * Where everything lives: dataset names, mount points, container names, files.
 * Every dataset zvpg touches is derived here, so nothing can reach outside its tree.
 *
 * @module
 */
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { encodeBranchName } from "./names.ts";

/** Label keys zvpg puts on its containers. */
export const LABELS = {
  pool: "zvpg.pool",
  branch: "zvpg.branch",
  dataset: "zvpg.dataset",
  port: "zvpg.port",
} as const;

/** ZFS user properties zvpg keeps its metadata in. */
export const PROPS = {
  /**
   * On branch datasets: the branch's real name. On snapshots pulled from a remote: the
   * branch they were taken on.
   */
  branch: "zvpg:branch",
  /** On branch datasets: the branch it was made from. */
  parent: "zvpg:parent",
  /** On branch datasets: creating | running | stopped | deleting | resetting. */
  state: "zvpg:state",
  /**
   * On branch datasets: pid of the zvpg process creating or deleting it. On a take-over's
   * `@zvpg-adopt` snapshot: pid of the zvpg taking the dataset over.
   */
  pid: "zvpg:pid",
  /** On branch datasets: the port it was last started on. */
  port: "zvpg:port",
  /** On branch datasets: the engine (docker, podman, nerdctl) that runs or last ran it. */
  runtime: "zvpg:runtime",
  /** On branch datasets: creation time, RFC 3339 with milliseconds. */
  created: "zvpg:created",
  /** On snapshots: the message. */
  message: "zvpg:message",
  /** On snapshots: creation time, RFC 3339 with milliseconds. */
  taken: "zvpg:taken",
  /** On snapshots: the tool version that took it. */
  tool: "zvpg:tool",
  /**
   * On snapshots zvpg took for itself (a branch of a parent's current state): the branch it
   * was taken for. Such a snapshot goes when nothing depends on it any more.
   */
  auto: "zvpg:auto",
  /** On branch datasets: when it expires (RFC 3339); `zvpg gc` deletes it after that. */
  expires: "zvpg:expires",
  /** On branch datasets: its TTL in seconds, when set with one (a reset restarts it). */
  ttl: "zvpg:ttl",
  /** On branch datasets: "on" while protected (refuses delete, reset, expiry, gc). */
  protected: "zvpg:protected",
  /** On a branch being reset: the state it returns to (running | stopped). */
  resume: "zvpg:resume",
  /**
   * On the new dataset of a reset: the branch it is for. Removed once the reset is done,
   * so a branch dataset that still has it is the new one of an unfinished reset.
   */
  resetOf: "zvpg:reset-of",
  /**
   * On branch datasets zvpg made for one command (a `branch diff`/`merge` clone): the pid of
   * that process. Such a branch goes when the command ends, or, once that process is dead,
   * at the next diff or merge, or by `status health --repair`.
   */
  temporary: "zvpg:temporary",
  /**
   * On snapshots: the remotes whose next push goes on from it, comma-separated; each also
   * holds it (`zfs hold zvpg-remote-<remote>`, see src/domain/remote_bases.ts).
   */
  remoteBases: "zvpg:remote-bases",
  /**
   * On main and on the snapshot of each masked import: `sha256:<hex>` of the masking rules
   * file its data was masked with (docs/masking.md); absent: not masked.
   */
  masked: "zvpg:masked",
  /** On a branch's WAL dataset (see `Layout.walDataset`): "on" while it archives, else "off". */
  archive: "zvpg:archive",
} as const;

/**
 * ZFS user properties of zvpg's claims index, kept on the sockets dataset (a leaf: nothing
 * inherits them). Each claim is one property, so one `zfs get` of that dataset answers
 * "who holds snapshot name X" and "which ports do branches hold by record" whatever the
 * number of branches and snapshots (see src/domain/claims.ts).
 */
export const INDEX_PROPS = {
  /** "1" once the index holds every claim of the pool (set by `init env` and repair). */
  complete: "zvpg:index",
  /** `zvpg:snapshot:<encoded name>` = the branch that holds the snapshot of that name. */
  snapshotPrefix: "zvpg:snapshot:",
  /** `zvpg:port:<dataset hash>` = `<port> <dataset>`: that branch dataset records the port. */
  portPrefix: "zvpg:port:",
} as const;

/** The `zfs hold` tag on a protected branch's snapshots. */
export const HOLD_TAG = "zvpg-protect";

/**
 * The start of the `zfs hold` tags that keep a remote's incremental base
 * (`zvpg-remote-<remote>`): released before a remote-tracking snapshot is destroyed.
 */
export const REMOTE_HOLD_PREFIX = "zvpg-remote-";

/** The `zfs hold` tag that keeps `remote`'s incremental base ({@link REMOTE_HOLD_PREFIX}). */
export function remoteHoldTag(remote: string): string {
  return `${REMOTE_HOLD_PREFIX}${remote}`;
}

/**
 * ZFS user properties of the data dataset recording where main's data was imported from
 * (never a password); read only by `refresh`, so not part of the inventory's reads.
 */
export const SOURCE_PROPS = {
  /** The source: a password-less URI or a path. */
  source: "zvpg:source",
  /** How it was imported (logical or physical). */
  sourceMode: "zvpg:source-mode",
  /** The databases named with --database, comma-separated. */
  sourceDatabases: "zvpg:source-databases",
  /** The masking rules file main is refreshed with (an absolute path), when masked. */
  maskRules: "zvpg:mask-rules",
} as const;

/**
 * ZFS user property of the `@zvpg-adopt` snapshot a take-over of a user's dataset starts
 * from (src/ops/datadir_adoption.ts): everything giving the dataset back needs (see
 * `TakeOverRecord` in src/domain/datadir_adoption.ts), set with the snapshot in one
 * `zfs snapshot -o`, beside {@link PROPS}.pid. Never a password: the dataset's name,
 * mountpoint and own properties (which `zfs get` shows anyway) and what the import makes.
 * Not part of the inventory's reads: only `status health` and `init env --from` read it.
 */
export const ADOPT_PROPS = {
  /** The take-over's record: base64 of its JSON. */
  record: "zvpg:adopt",
} as const;

/** {@link PROPS}.temporary (a `branch diff`/`merge` clone's process). */
export const TEMPORARY_PROP = PROPS.temporary;

/** The data directory path inside every branch container. */
export const CONTAINER_PGDATA = "/var/lib/postgresql/data";
/** The socket directory inside every branch container. */
export const CONTAINER_SOCKET_DIR = "/var/run/postgresql";
/** Where the PostgreSQL config files are mounted inside every branch container. */
export const CONTAINER_CONF_DIR = "/etc/zvpg";

/**
 * The bare name of the snapshot a take-over of a user's dataset starts from (see
 * src/ops/datadir_adoption.ts): it carries the take-over's record ({@link ADOPT_PROPS}).
 */
export const ADOPT_SNAPSHOT = "zvpg-adopt";

/** The bare name of every branch's birth snapshot (see `Layout.birthSnapshot`). */
export const BIRTH_SNAPSHOT = ".zvpg-origin";

/** Whether a bare snapshot name is one zvpg keeps for itself and never lists (a dot first). */
export function isHiddenSnapshot(name: string): boolean {
  return name.startsWith(".");
}

/**
 * The `postgres` arguments of every server zvpg runs on a data directory: zvpg's own config
 * files, its private socket directory, and TCP on port 5432 of every interface of the
 * container (`tcp`) or none at all (an import's loader, reached by its socket only).
 */
export function serverArgs(tcp: boolean): string[] {
  return [
    ...["-D", CONTAINER_PGDATA],
    ...["-c", `config_file=${CONTAINER_CONF_DIR}/postgresql.conf`],
    ...["-c", `hba_file=${CONTAINER_CONF_DIR}/pg_hba.conf`],
    ...["-c", `ident_file=${CONTAINER_CONF_DIR}/pg_ident.conf`],
    ...(tcp ? ["-c", "port=5432", "-c", "listen_addresses=*"] : ["-c", "listen_addresses="]),
    ...["-c", `unix_socket_directories=${CONTAINER_SOCKET_DIR}`],
  ];
}

/** Names and paths derived from the configuration. */
export class Layout {
  readonly pool: string;
  readonly dataDataset: string;
  readonly clonesDataset: string;
  readonly socketsDataset: string;
  readonly dataMount: string;
  readonly clonesMount: string;
  readonly socketsMount: string;

  constructor(readonly config: Config) {
    this.pool = config.zfsPool;
    this.dataDataset = `${this.pool}/${config.dataSubdir}`;
    this.clonesDataset = `${this.pool}/${config.clonesSubdir}`;
    this.socketsDataset = `${this.pool}/${config.socketSubdir}`;
    this.dataMount = join(config.mountDir, config.dataSubdir);
    this.clonesMount = join(config.mountDir, config.clonesSubdir);
    this.socketsMount = join(config.mountDir, config.socketSubdir);
  }

  /** The sparse file backing a file-backed pool. */
  get poolImage(): string {
    return join(this.config.mountDir, `${this.pool}.img`);
  }

  /** The lock file every mutating zvpg process takes. */
  get lockFile(): string {
    return join(this.config.mountDir, ".zvpg.lock");
  }

  /**
   * The masking key (hex, 0600): the secret the deterministic fakes of a masked import are
   * keyed with (src/domain/mask_plan.ts); never in a rules file, a property or an argv.
   */
  get maskKeyFile(): string {
    return join(this.config.configDir, "mask.key");
  }

  /**
   * The scratch dataset a masked import loads the real data into and masks it in: outside
   * the branch tree, never snapshotted, cloned or sent, destroyed when the import ends.
   */
  get maskScratchDataset(): string {
    return `${this.pool}/zvpg-mask-scratch`;
  }

  /** Where {@link maskScratchDataset} is mounted. */
  get maskScratchMount(): string {
    return join(this.config.mountDir, "zvpg-mask-scratch");
  }

  /** The password file (libpq pgpass format). */
  get passFile(): string {
    return join(this.config.configDir, "pgpass");
  }

  /** The remotes file: each remote's name and URL (no secret), mode 0600. */
  get remotesFile(): string {
    return join(this.config.configDir, "remotes.json");
  }

  /**
   * The lock `remote add|remove` take to change the remotes file: in a 0700 directory of
   * its own, since the config directory given with `-c` may be shared and keeps its mode.
   */
  get remotesLockFile(): string {
    return join(this.config.configDir, "locks", "remotes.lock");
  }

  /**
   * The pgpass file `branch url|env|psql` write for one branch (0600, in a 0700
   * directory): the password for exactly that branch's host and port.
   */
  branchPassFile(branch: string): string {
    return join(this.config.configDir, "passfiles", `${encodeBranchName(branch)}.pgpass`);
  }

  isDefault(branch: string): boolean {
    return branch === this.config.branchDefault;
  }

  branchDataset(branch: string): string {
    return this.isDefault(branch)
      ? this.dataDataset
      : `${this.clonesDataset}/${encodeBranchName(branch)}`;
  }

  /**
   * The two datasets of a branch reset beside its own: the clone it is being reset to
   * (`new`) and its old data while they swap (`old`). Encoded branch names never contain
   * a dot, so these never collide with a branch.
   */
  resetDataset(branch: string, role: "new" | "old"): string {
    return `${this.clonesDataset}/${encodeBranchName(branch)}.reset-${role}`;
  }

  /**
   * The snapshot a branch's dataset gets the moment it is cloned: its data exactly as its
   * origin had it. A reset to the origin rolls back to it in place (same dataset, mount
   * and container). Hidden: its name starts with a dot, which no snapshot name a user
   * gives can (see `snapshotNameProblem`).
   */
  birthSnapshot(dataset: string): string {
    return `${dataset}@${BIRTH_SNAPSHOT}`;
  }

  branchMount(branch: string): string {
    return this.isDefault(branch)
      ? this.dataMount
      : join(this.clonesMount, encodeBranchName(branch));
  }

  /** The PostgreSQL data directory of a branch (a subdirectory of its dataset). */
  pgdata(branch: string): string {
    return join(this.branchMount(branch), "pgdata");
  }

  /** Per-branch runtime directory: `sock/` (unix socket) and `conf/` (config copies). */
  runtimeDir(branch: string): string {
    return join(this.socketsMount, encodeBranchName(branch));
  }

  containerName(branch: string, port: number): string {
    return `zvpg_${encodeBranchName(branch)}_${port}`;
  }

  /**
   * Whether a dataset or snapshot name lies in zvpg's branch tree: the data dataset, the
   * clones dataset's children, and anything below them (which may be a user's own).
   */
  inTree(name: string): boolean {
    const dataset = name.split("@")[0];
    return dataset === this.dataDataset || dataset.startsWith(`${this.dataDataset}/`) ||
      dataset.startsWith(`${this.clonesDataset}/`);
  }

  /**
   * Whether a dataset is where zvpg puts branches: the data dataset or a direct child of
   * the clones dataset. Anything deeper was made by someone else.
   */
  isBranchSlot(dataset: string): boolean {
    if (dataset === this.dataDataset) return true;
    const prefix = `${this.clonesDataset}/`;
    return dataset.startsWith(prefix) && !/[/@]/.test(dataset.slice(prefix.length));
  }

  /** The branch and role of a dataset that is one of a reset's {@link resetDataset}s. */
  resetPartOf(dataset: string): { role: "new" | "old" } | undefined {
    const prefix = `${this.clonesDataset}/`;
    if (!dataset.startsWith(prefix)) return undefined;
    const m = /^[A-Za-z0-9_-]+\.reset-(new|old)$/.exec(dataset.slice(prefix.length));
    return m ? { role: m[1] as "new" | "old" } : undefined;
  }

  /**
   * The parent of every remote-tracking dataset (`<pool>/remotes`, made with
   * `mountpoint=none`): what `pull` receives is mounted nowhere and is never a branch.
   */
  get remotesDataset(): string {
    return `${this.pool}/remotes`;
  }

  /**
   * The remote-tracking dataset a branch's snapshots pulled from `remote` are received
   * into (`<pool>/remotes/<remote>/<encoded branch>`, read-only, no container).
   */
  remoteBranchDataset(remote: string, branch: string): string {
    return `${this.remoteDataset(remote)}/${encodeBranchName(branch)}`;
  }

  /** The dataset holding the remote-tracking datasets of `remote`. */
  remoteDataset(remote: string): string {
    return `${this.remotesDataset}/${remote}`;
  }

  /**
   * The parts of a snapshot of a remote-tracking dataset,
   * `<pool>/remotes/<remote>/<encoded branch>@<snapshot>`: its remote, dataset and bare
   * name; undefined for any other name (deeper or shallower ones are nobody's tracking).
   */
  trackedSnapshotOf(
    zfsName: string,
  ): { remote: string; dataset: string; snapshot: string } | undefined {
    const prefix = `${this.remotesDataset}/`;
    const at = zfsName.indexOf("@");
    if (!zfsName.startsWith(prefix) || at === -1) return undefined;
    const parts = zfsName.slice(prefix.length, at).split("/");
    if (parts.length !== 2 || parts.some((p) => p === "")) return undefined;
    return { remote: parts[0], dataset: zfsName.slice(0, at), snapshot: zfsName.slice(at + 1) };
  }

  /** The dataset that carries zvpg's claims index ({@link INDEX_PROPS}): the sockets one. */
  get indexDataset(): string {
    return this.socketsDataset;
  }

  /**
   * The parent of the WAL archives (`<pool>/wal`): outside the branch tree, so no clone
   * ever copies an archive, and a branch's delete or reset leaves it.
   */
  get walRoot(): string {
    return `${this.pool}/wal`;
  }

  /** The WAL archive dataset of a branch (`<pool>/wal/<encoded branch>`). */
  walDataset(branch: string): string {
    return `${this.walRoot}/${encodeBranchName(branch)}`;
  }

  /** Where the WAL archive of a branch is mounted on the host. */
  walMount(branch: string): string {
    return join(this.config.mountDir, "wal", encodeBranchName(branch));
  }

  /**
   * The file beside a branch's data directory (in its dataset, outside `pgdata`) holding
   * the recovery of a point-in-time branch until it has promoted.
   */
  recoveryFile(branch: string): string {
    return join(this.branchMount(branch), "zvpg-recovery.json");
  }

  /** Host address clients use to reach published ports. */
  get connectHost(): string {
    const bind = this.config.bindAddress;
    if (bind === "0.0.0.0") return "127.0.0.1";
    if (bind === "::") return "::1";
    return bind.replace(/^\[|\]$/g, "");
  }
}
