import assert from "node:assert/strict";
import {
  ARCHIVE_SCRIPT,
  archiveWindow,
  chooseBase,
  formatLsn,
  parseLsn,
  parsePitrTarget,
  recoverySettings,
  segmentNumber,
  segmentsToRemove,
  systemIdentifier,
  WAL_SEGMENT_BYTES,
  windowText,
} from "../../src/domain/wal_archive.ts";
import { UsageError } from "../../src/errors.ts";

const NOW = new Date("2026-12-07T12:00:00.000Z");
const at = (s: number) => new Date(NOW.getTime() + s * 1000);
const seg = (n: number, s: number) => ({
  name: `00000001${(Math.floor(n / 256)).toString(16).toUpperCase().padStart(8, "0")}${
    (n % 256).toString(16).toUpperCase().padStart(8, "0")
  }`,
  mtime: at(s),
});
const lsnIn = (n: number, offset = 0x60) => BigInt(n) * BigInt(WAL_SEGMENT_BYTES) + BigInt(offset);

Deno.test("parsePitrTarget: an RFC 3339 time, an LSN, or a duration ago", () => {
  assert.deepEqual(parsePitrTarget("2026-12-07T11:05:00Z", NOW), {
    kind: "time",
    time: new Date("2026-12-07T11:05:00Z"),
  });
  assert.deepEqual(parsePitrTarget("16/B374D848", NOW), { kind: "lsn", lsn: 0x16B374D848n });
  assert.deepEqual(parsePitrTarget("-10m", NOW), { kind: "time", time: at(-600) });
  assert.throws(() => parsePitrTarget("yesterday", NOW), UsageError);
  assert.throws(() => parsePitrTarget("2026-12-07T12:00:01Z", NOW), /in the future/);
  assert.throws(() => parsePitrTarget("2026-02-30T12:00:00Z", NOW), /no day 30/);
  assert.throws(() => parsePitrTarget("2026-12-07T11:05:00", NOW), UsageError);
});

Deno.test("formatLsn/parseLsn: PostgreSQL's X/Y form both ways", () => {
  assert.equal(formatLsn(0x3000060n), "0/3000060");
  assert.equal(formatLsn(parseLsn("16/B374D848")!), "16/B374D848");
  assert.equal(parseLsn("0/zz"), undefined);
});

Deno.test("segmentNumber: the segment of a 24-digit name, nothing for others", () => {
  assert.equal(segmentNumber("000000010000000000000003"), 3);
  assert.equal(segmentNumber("000000020000000100000002"), 258);
  assert.equal(segmentNumber("00000002.history"), undefined);
  assert.equal(segmentNumber("000000010000000000000003.tmp"), undefined);
});

Deno.test("archiveWindow: bases since archiving started, to the newest segment", () => {
  const w = archiveWindow(
    [seg(1, 10), seg(2, 70), seg(3, 130)],
    [{ name: "old", taken: at(-100) }, { name: "s1", taken: at(20) }, {
      name: "s2",
      taken: at(80),
    }],
    undefined,
    [at(0)],
  );
  assert.deepEqual(w.bases.map((b) => b.name), ["s1", "s2"]);
  assert.deepEqual(w.from, at(22));
  assert.deepEqual(w.to, at(130));
  assert.equal(w.toLsn, 4n * BigInt(WAL_SEGMENT_BYTES));
  assert.equal(w.missing, 0);
  assert.match(
    windowText(w),
    /^2026-12-07T12:00:22.000Z \(LSN 0\/3000000\) to .* \(LSN 0\/4000000\)$/,
  );
});

Deno.test("archiveWindow: a gap starts the window again after it", () => {
  const w = archiveWindow(
    [seg(1, 10), seg(2, 70), seg(5, 200), seg(6, 260)],
    [{ name: "s1", taken: at(20) }, { name: "s5", taken: at(210) }],
    undefined,
    [at(0), at(190)],
  );
  assert.equal(w.missing, 2);
  assert.deepEqual(w.bases.map((b) => b.name), ["s5"]);
  assert.deepEqual(w.segments.map((s) => s.number), [5, 6]);
});

Deno.test("archiveWindow: a live end (the parent just switched) ends the window", () => {
  const w = archiveWindow([seg(1, 10)], [{ name: "s1", taken: at(5) }], {
    time: at(50),
    lsn: lsnIn(2),
  }, [at(0)]);
  assert.deepEqual(w.to, at(50));
  assert.equal(w.toLsn, lsnIn(2));
});

Deno.test("archiveWindow: no segment, or no base, is no window", () => {
  assert.equal(archiveWindow([], [{ name: "s", taken: at(0) }]).from, null);
  const w = archiveWindow([seg(1, 10)], [], undefined, [at(0)]);
  assert.equal(w.from, null);
  assert.match(windowText(w), /no point-in-time window/);
});

Deno.test("chooseBase: a time between two snapshots replays from the earlier one", () => {
  const w = archiveWindow(
    [seg(1, 10), seg(2, 70), seg(3, 130)],
    [{ name: "s1", taken: at(20) }, { name: "s2", taken: at(80) }],
    undefined,
    [at(0)],
  );
  assert.deepEqual(chooseBase(w, { kind: "time", time: at(50) }), { base: w.bases[0] });
  assert.deepEqual(chooseBase(w, { kind: "time", time: at(81) }), { base: w.bases[0] });
  assert.deepEqual(chooseBase(w, { kind: "time", time: at(83) }), { base: w.bases[1] });
  const early = chooseBase(w, { kind: "time", time: at(21) });
  assert.ok("problem" in early && /outside the point-in-time window/.test(early.problem));
  const late = chooseBase(w, { kind: "time", time: at(131) });
  assert.ok("problem" in late);
});

Deno.test("chooseBase: an LSN replays from a snapshot taken before its segment began", () => {
  const w = archiveWindow(
    [seg(1, 10), seg(2, 70), seg(3, 130)],
    [{ name: "s1", taken: at(20) }, { name: "s2", taken: at(80) }],
    undefined,
    [at(0)],
  );
  // segment 3 began after segment 2's last write (70 s): only s1 was taken before that
  assert.deepEqual(chooseBase(w, { kind: "lsn", lsn: lsnIn(3) }), { base: w.bases[0] });
  // segment 2 began when segment 1 ended (10 s): before any base
  assert.ok("problem" in chooseBase(w, { kind: "lsn", lsn: lsnIn(2) }));
  assert.ok("problem" in chooseBase(w, { kind: "lsn", lsn: lsnIn(9) }));
});

Deno.test("recoverySettings: a time with a numeric zone, promote at the target", () => {
  const s = recoverySettings({
    archiveDir: "/x",
    targetKind: "time",
    target: "2026-12-07T11:05:00.250Z",
  });
  assert.ok(s.includes("recovery_target_time=2026-12-07 11:05:00.250+00"));
  assert.ok(s.includes("recovery_target_action=promote"));
  assert.ok(s.some((a) => a.startsWith("restore_command=cp /var/lib/zvpg-restore/%f %p")));
});

Deno.test("systemIdentifier: the first 8 bytes of pg_control, little-endian", () => {
  const bytes = new Uint8Array(16);
  new DataView(bytes.buffer).setBigUint64(0, 7446027377474195000n, true);
  assert.equal(systemIdentifier(bytes), "7446027377474195000");
});

Deno.test("ARCHIVE_SCRIPT: never overwrites, writes a temporary name, syncs and renames", () => {
  assert.match(ARCHIVE_SCRIPT, /cmp -s "\$src" "\$dst" && exit 0/);
  assert.match(ARCHIVE_SCRIPT, /mv "\$tmp" "\$dst"/);
  assert.match(ARCHIVE_SCRIPT, /sync "\$tmp"/);
});

Deno.test("segmentsToRemove: keeps what the oldest base in the retention needs", () => {
  const archived = [seg(1, 10), seg(2, 70), seg(3, 130), seg(4, 190)];
  const bases = [{ name: "s1", taken: at(20) }, { name: "s2", taken: at(140) }];
  const day = 86400_000;
  // both bases within the retention: s1 needs segment 2 (in progress at 20 s) onwards
  assert.deepEqual(segmentsToRemove(archived, bases, at(200), day), [seg(1, 10).name]);
  // s1 older than the retention: s2 needs segment 4 onwards
  assert.deepEqual(segmentsToRemove(archived, bases, at(150), 15_000), [
    seg(1, 10).name,
    seg(2, 70).name,
    seg(3, 130).name,
  ]);
  // every base older than the retention: the newest still keeps its window
  assert.deepEqual(
    segmentsToRemove(archived, bases, at(100_000), 1000),
    [seg(1, 10).name, seg(2, 70).name, seg(3, 130).name],
  );
  // no base at all: only the retention counts
  assert.deepEqual(segmentsToRemove(archived, [], at(160), 60_000), [
    seg(1, 10).name,
    seg(2, 70).name,
  ]);
});
