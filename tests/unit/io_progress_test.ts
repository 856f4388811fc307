/**
 * The crash-recovery progress source: I/O counters of the processes working in a
 * branch's file system, read from a fake /proc.
 */
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ioBytes, ioProgressSampler, madeProgress } from "../../src/ops/io_progress.ts";
import { withTempDir } from "./helpers.ts";

const io = (rchar: number, wchar: number) =>
  `rchar: ${rchar}\nwchar: ${wchar}\nsyscr: 1\nsyscw: 1\nread_bytes: 0\nwrite_bytes: 0\n`;

Deno.test("ioBytes adds rchar and wchar; undefined for anything else", () => {
  assert.equal(ioBytes(io(100, 23)), 123);
  assert.equal(ioBytes(""), undefined);
  assert.equal(ioBytes("garbage"), undefined);
});

Deno.test("madeProgress: more I/O or a new process is progress; the same or less is not", () => {
  const before = new Map([[1, 100], [2, 50]]);
  assert.equal(madeProgress(before, new Map([[1, 100], [2, 50]])), false);
  assert.equal(madeProgress(before, new Map([[1, 101], [2, 50]])), true);
  assert.equal(madeProgress(before, new Map([[1, 100], [3, 0]])), true);
  assert.equal(madeProgress(before, new Map([[1, 100]])), false, "a process that exited");
  assert.equal(madeProgress(before, new Map()), false);
});

Deno.test("ioProgressSampler: counts only processes whose cwd is on the directory's file system", async () => {
  await withTempDir((dir) => {
    const data = join(dir, "pgdata");
    mkdirSync(data);
    const proc = join(dir, "proc");
    const processes = (list: [number, string, string][]) => {
      for (const [pid, cwd, text] of list) {
        mkdirSync(join(proc, String(pid)), { recursive: true });
        try {
          symlinkSync(cwd, join(proc, String(pid), "cwd"));
        } catch { /* exists */ }
        writeFileSync(join(proc, String(pid), "io"), text);
      }
    };
    // pid 20 works elsewhere (procfs is another file system): its I/O never counts
    processes([[10, data, io(1000, 10)], [20, "/proc", io(5, 5)]]);
    mkdirSync(join(proc, "self-not-a-pid"), { recursive: true });
    const progressed = ioProgressSampler(data, proc);
    assert.equal(progressed(), true, "the first sample sees a new process");
    assert.equal(progressed(), false, "nothing changed");
    processes([[20, "/proc", io(500, 500)]]);
    assert.equal(progressed(), false, "I/O of a process elsewhere");
    processes([[10, data, io(2000, 10)]]);
    assert.equal(progressed(), true, "the server read more");
    assert.equal(progressed(), false);
    assert.equal(ioProgressSampler(join(dir, "missing"), proc)(), false);
  });
});
