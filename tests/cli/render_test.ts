/**
 * `render()`: the one place that switches on the format.
 */
import assert from "node:assert/strict";
import { render, terminal, type View } from "../../src/cli/render.ts";
import { checksView } from "../../src/cli/views.ts";

function capture(fn: () => number): { code: number; out: string; err: string } {
  let out = "";
  let err = "";
  const saved = { ...terminal };
  terminal.out = (s) => void (out += s);
  terminal.err = (s) => void (err += s);
  try {
    return { code: fn(), out, err };
  } finally {
    Object.assign(terminal, saved);
  }
}

const view: View<number[]> = {
  json: (xs) => ({ count: xs.length }),
  text: (xs) => xs.join("\n"),
  note: (xs) => xs.length === 0 ? "nothing" : undefined,
};

Deno.test("render() writes one JSON document with -f json and no note", () => {
  assert.deepEqual(capture(() => render([], view, "json")), {
    code: 0,
    out: '{\n  "count": 0\n}\n',
    err: "",
  });
});

Deno.test("render() writes the text form, and the note on stderr", () => {
  assert.deepEqual(capture(() => render([1, 2], view, "table")), {
    code: 0,
    out: "1\n2\n",
    err: "",
  });
  assert.deepEqual(capture(() => render([], view, "table")), {
    code: 0,
    out: "",
    err: "nothing\n",
  });
});

Deno.test("render() returns the view's exit code: a failed check is 1 in both formats", () => {
  const checks = [{ name: "zfs", status: "fail" as const, detail: "missing", hint: "install" }];
  for (const format of ["table", "json"] as const) {
    assert.equal(capture(() => render({ checks }, checksView, format)).code, 1);
  }
  const passed = [{ name: "zfs", status: "warn" as const, detail: "old" }];
  assert.equal(capture(() => render({ checks: passed }, checksView, "table")).code, 0);
});
