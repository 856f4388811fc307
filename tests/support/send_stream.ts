/**
 * The first bytes of a `zfs send` stream (its `DRR_BEGIN` record, little-endian) for tests
 * whose fake `zfs` never sends: what zvpg checks before a receive (domain/send_stream.ts).
 *
 * @module
 */

/** A stream of snapshot `guid`, whole or from `base`, then `rest`; `compound`: `send -R`. */
export function fakeSendStream(
  guid: string,
  base: string | null,
  options: { compound?: boolean; objsetType?: number; rest?: string } = {},
): Uint8Array {
  const rest = new TextEncoder().encode(options.rest ?? "stream-bytes");
  const bytes = new Uint8Array(312 + rest.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0, true);
  view.setBigUint64(8, 0x2f5bacbacn, true);
  view.setBigUint64(16, options.compound ? 2n : 1n, true);
  view.setUint32(32, options.objsetType ?? 2, true);
  view.setBigUint64(40, BigInt(guid), true);
  view.setBigUint64(48, base === null ? 0n : BigInt(base), true);
  bytes.set(new TextEncoder().encode("pool/fs@snap"), 56);
  bytes.set(rest, 312);
  return bytes;
}
