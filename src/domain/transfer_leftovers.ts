/**
 * What a killed transfer (push, pull, or a receive on this host's side of one) can leave
 * behind, found from what was read (pure): `status health` reports it as drift and
 * `status health --repair` removes it.
 *
 * - a remote-tracking dataset `<pool>/remotes/<remote>/<branch>` without any snapshot: a
 *   whole receive that never finished (repair destroys it; the next pull receives it whole);
 * - a dataset with a `receive_resume_token` (OpenZFS `receive -s` cut short): reported with
 *   how to go on; repair aborts it (`zfs receive -A`), which OpenZFS alone can;
 * - a hidden partial receive `<dataset>/%recv`, where ZFS shows one (repair destroys it);
 * - the hold and record of a remote no longer in the remotes file (`zvpg remote remove`
 *   after a push): repair releases them, so the snapshot can go;
 * - a file remote's temporary stream `.<guid>.zstream.<pid>.tmp` whose zvpg is dead.
 *
 * @module
 */
import type { ZfsEntry } from "../adapters/zfs.ts";
import { PROPS } from "./layout.ts";
import { parseRemoteBases } from "./remote_bases.ts";

/** One leftover of a killed transfer. */
export type TransferLeftover =
  | { kind: "unfinished-receive"; dataset: string }
  | { kind: "resumable-receive"; dataset: string }
  | { kind: "partial-receive"; dataset: string }
  | { kind: "orphan-remote-hold"; snapshot: string; remote: string; recorded: string[] }
  | { kind: "stale-stream"; file: string; pid: number };

/** What {@link findTransferLeftovers} reads from. */
export interface TransferFacts {
  /** `<pool>/remotes`. */
  remotesDataset: string;
  /**
   * Everything below `<pool>/remotes` (snapshots included) with `zvpg:remote-bases`, and
   * on OpenZFS `receive_resume_token`.
   */
  tracking: ZfsEntry[];
  /** Snapshots of branches and the remotes they record as bases (from the inventory). */
  bases: { zfsName: string; remotes?: string[] }[];
  /** The remotes of the remotes file. */
  remotes: string[];
  /** Temporary stream files found in file remotes' directories (full paths). */
  streamFiles: string[];
  /** Whether the zvpg process with this pid is still at work. */
  alive: (pid: number) => boolean;
}

/** Every leftover of a killed transfer in `facts` (pure). */
export function findTransferLeftovers(facts: TransferFacts): TransferLeftover[] {
  const found: TransferLeftover[] = [];
  const datasets = facts.tracking.filter((e) => e.type !== "snapshot");
  const withSnapshots = new Set(
    facts.tracking.filter((e) => e.type === "snapshot").map((e) => e.name.split("@")[0]),
  );
  for (const d of datasets) {
    if (d.name.includes("%")) {
      found.push({ kind: "partial-receive", dataset: d.name });
    } else if (d.props.receive_resume_token !== undefined) {
      found.push({ kind: "resumable-receive", dataset: d.name });
    } else if (isTrackingDataset(facts.remotesDataset, d.name) && !withSnapshots.has(d.name)) {
      found.push({ kind: "unfinished-receive", dataset: d.name });
    }
  }
  const known = new Set(facts.remotes);
  const recorded = [
    ...facts.bases.map((s) => ({ name: s.zfsName, remotes: s.remotes ?? [], own: undefined })),
    ...facts.tracking.filter((e) => e.type === "snapshot").map((e) => ({
      name: e.name,
      remotes: parseRemoteBases(e.props[PROPS.remoteBases]),
      // a received snapshot is the base of the next transfer with the host it came from,
      // which is a remote here (a pull) or a host that pushes here (serve), never listed
      own: e.name.slice(facts.remotesDataset.length + 1).split("/")[0],
    })),
  ];
  for (const s of recorded) {
    for (const remote of s.remotes.filter((r) => !known.has(r) && r !== s.own)) {
      found.push({ kind: "orphan-remote-hold", snapshot: s.name, remote, recorded: s.remotes });
    }
  }
  for (const file of facts.streamFiles) {
    const pid = streamFilePid(file);
    if (pid !== undefined && !facts.alive(pid)) found.push({ kind: "stale-stream", file, pid });
  }
  return found;
}

/** Whether `dataset` is a remote-tracking dataset: `<remotes>/<remote>/<branch>`. */
function isTrackingDataset(remotesDataset: string, dataset: string): boolean {
  if (!dataset.startsWith(`${remotesDataset}/`)) return false;
  return dataset.slice(remotesDataset.length + 1).split("/").length === 2;
}

/** The pid in a temporary stream file's name `.<guid>.zstream.<pid>.tmp`, else undefined. */
export function streamFilePid(file: string): number | undefined {
  const match = file.match(/(?:^|\/)\.[^/]+\.zstream\.([0-9]+)\.tmp$/);
  return match ? Number(match[1]) : undefined;
}

/** One line for `status health`. */
export function describeLeftover(l: TransferLeftover): string {
  switch (l.kind) {
    case "unfinished-receive":
      return `${l.dataset} holds no snapshot: a receive that never finished (repair destroys it; pull again)`;
    case "resumable-receive":
      return `${l.dataset} holds a partial receive: resume it by pushing or pulling again, or abort it with 'zfs receive -A ${l.dataset}' (repair aborts it)`;
    case "partial-receive":
      return `${l.dataset} is a partial receive a killed transfer left (repair destroys it)`;
    case "orphan-remote-hold":
      return `${l.snapshot} is held for remote '${l.remote}', which is no longer in the remotes file (repair releases it)`;
    case "stale-stream":
      return `${l.file} is the temporary stream of a push whose zvpg (pid ${l.pid}) is gone (repair removes it)`;
  }
}
