/**
 * What a `zfs send` stream is, read from its first record (`DRR_BEGIN`), before ZFS
 * receives any of it. A stream comes from another host (a remote's `serve`, a client's
 * push, a file someone could replace), so it is untrusted: its header, not the request
 * around it, decides what `zfs receive` makes.
 *
 * zvpg sends only plain `zfs send [-i BASE] SNAP` (or `send -t` to resume one): a single
 * filesystem substream. A compound stream (`send -R`, `-I`, `-p`) is refused: it makes
 * child datasets and sets properties the sender chose (a `mountpoint` over a path of the
 * receiving host, mounted by the next `zfs mount -a`). So is a volume, and a stream of
 * another snapshot (GUID) or from another base than the one agreed on.
 *
 * Layout (`dmu_replay_record_t`, in the sender's byte order, told by the magic):
 * type u32 @0 (0 = BEGIN), payloadlen u32 @4, magic u64 @8, versioninfo u64 @16 (its low
 * two bits: 1 substream, 2 compound), creation u64 @24, objset type u32 @32 (2 = ZFS
 * filesystem), flags u32 @36, toguid u64 @40, fromguid u64 @48 (0: whole), toname @56.
 *
 * @module
 */

/** The bytes of the first record that say what the stream is. */
export const STREAM_HEADER_BYTES = 56;

const DMU_BACKUP_MAGIC = 0x2f5bacbacn;
const DRR_BEGIN = 0;
const DMU_SUBSTREAM = 1n;
const DMU_OST_ZFS = 2;

/** What a stream's header says. */
export interface StreamHeader {
  /** Whether it is a compound (package) stream: `send -R`, `-I`, `-p`. */
  compound: boolean;
  /** The objset type (2: a filesystem; 3: a volume). */
  objsetType: number;
  /** The GUID of the snapshot it makes. */
  toguid: string;
  /** The GUID of the snapshot it is an increment from; null for a whole stream. */
  fromguid: string | null;
}

/** Reads the header of a stream from its first {@link STREAM_HEADER_BYTES} bytes; undefined when it is none. */
export function parseStreamHeader(bytes: Uint8Array): StreamHeader | undefined {
  if (bytes.length < STREAM_HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  if (view.getBigUint64(8, true) === DMU_BACKUP_MAGIC) little = true;
  else if (view.getBigUint64(8, false) === DMU_BACKUP_MAGIC) little = false;
  else return undefined;
  if (view.getUint32(0, little) !== DRR_BEGIN) return undefined;
  const from = view.getBigUint64(48, little);
  return {
    compound: (view.getBigUint64(16, little) & 3n) !== DMU_SUBSTREAM,
    objsetType: view.getUint32(32, little),
    toguid: view.getBigUint64(40, little).toString(),
    fromguid: from === 0n ? null : from.toString(),
  };
}

/** What a stream must be: the snapshot with GUID `guid`, from `base` (null: whole; undefined: unchecked). */
export interface ExpectedStream {
  guid: string;
  base?: string | null;
}

/** Why a stream whose header is `header` is not `expected`; undefined when it is. */
export function streamProblem(
  header: StreamHeader | undefined,
  expected: ExpectedStream,
): string | undefined {
  if (!header) return "it is no zfs send stream";
  if (header.compound) return "it is a replication or property stream (zfs send -R, -I or -p)";
  if (header.objsetType !== DMU_OST_ZFS) return "it is not of a filesystem";
  if (header.toguid !== expected.guid) {
    return `it is of snapshot GUID ${header.toguid}, not ${expected.guid}`;
  }
  if (expected.base !== undefined && header.fromguid !== expected.base) {
    const what = (g: string | null) => g === null ? "whole" : `an increment from GUID ${g}`;
    return `it is ${what(header.fromguid)}, not ${what(expected.base)}`;
  }
  return undefined;
}
