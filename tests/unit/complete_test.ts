import assert from "node:assert/strict";
import { buildProgram } from "../../src/cli/app.ts";
import { complete } from "../../src/cli/complete.ts";
import { completionScript } from "../../src/cli/completion_script.ts";

const program = buildProgram();

function words(line: string): string[] {
  return line.split(" ");
}

Deno.test("complete: commands come from the command tree (hidden ones left out)", () => {
  const top = complete(program, [""]);
  assert.equal(top.kind, "words");
  const names = top.kind === "words" ? top.words : [];
  for (const c of program.commands) {
    if (c.name().startsWith("_")) assert.ok(!names.includes(c.name()));
    else assert.ok(names.includes(c.name()), c.name());
  }
  assert.ok(names.includes("log") && names.includes("completions"));
  const branch = complete(program, words("branch "));
  assert.ok(
    branch.kind === "words" && branch.words.includes("url") && branch.words.includes("psql"),
  );
});

Deno.test("complete: options of the command and its ancestors, choices of an option", () => {
  const options = complete(program, words("branch create x --"));
  assert.ok(options.kind === "words");
  for (const o of ["--from", "--if-not-exists", "--format", "--config", "--help"]) {
    assert.ok(options.words.includes(o), o);
  }
  assert.deepEqual(complete(program, words("branch list -f ")), {
    kind: "words",
    words: ["table", "json"],
  });
  assert.deepEqual(complete(program, words("completions ")), {
    kind: "words",
    words: ["bash", "zsh", "fish"],
  });
});

Deno.test("complete: branch and snapshot names where the tree asks for existing ones", () => {
  const cases: [string, string][] = [
    ["branch info ", "branches"],
    ["branch show ", "branches"],
    ["branch url ", "branches"],
    ["branch psql ", "branches"],
    ["-c /etc/zvpg.json branch delete fe", "branches"],
    ["log ", "branches"],
    ["branch snapshot ", "branches"],
    ["branch create x --from ", "snapshots"],
    ["branch create x --parent ", "branches"],
    ["snapshot info ", "snapshots"],
    ["commit remove ", "snapshots"],
    ["snapshot create x -b ", "branches"],
    ["branch create ", "none"],
    ["snapshot create ", "none"],
    ["branch snapshot feature/a ", "none"],
    ["branch psql x -- ", "none"],
    ["branch info x ", "none"],
  ];
  for (const [line, kind] of cases) assert.equal(complete(program, words(line)).kind, kind, line);
});

Deno.test("complete: pulled snapshots (<remote>/<name>) where they are taken", () => {
  const pulled = { kind: "snapshots", pulled: true };
  for (
    const line of [
      "branch create x --from ",
      "snapshot info ",
      "snapshot show ",
      "snapshot delete ",
      "snapshot remove ",
      "commit show ",
      "commit remove ",
      "commit delete ",
    ]
  ) assert.deepEqual(complete(program, words(line)), pulled, line);
  // where a snapshot of this pool's own is needed, only those
  for (const line of ["branch reset x --to ", "push usb "]) {
    assert.deepEqual(complete(program, words(line)), { kind: "snapshots" }, line);
  }
});

Deno.test("completionScript: each shell's script calls 'zvpg __complete --'", () => {
  for (const shell of ["bash", "zsh", "fish"] as const) {
    assert.match(completionScript(shell), /zvpg __complete --/);
  }
  assert.match(completionScript("bash"), /complete -o default -F _zvpg_complete zvpg/);
});

Deno.test("complete: remote names where a remote is named; a pulled snapshot is not offered", () => {
  for (const line of ["fetch ", "push ", "pull ", "remote remove ", "remote rm "]) {
    assert.deepEqual(complete(program, words(line)), { kind: "remotes" }, line);
  }
  assert.deepEqual(complete(program, words("push usb ")), { kind: "snapshots" });
  assert.deepEqual(complete(program, words("pull usb ")), { kind: "none" });
  assert.deepEqual(complete(program, words("remote add ")), { kind: "none" });
});

Deno.test("complete: clone is a command; its URL and --snapshot (the remote's) offer no name", () => {
  const top = complete(program, words("cl"));
  assert.ok(top.kind === "words" && top.words.includes("clone"), JSON.stringify(top));
  const options = complete(program, words("clone --"));
  assert.ok(
    options.kind === "words" &&
      ["--snapshot", "--origin", "--device", "--pool-size"].every((o) => options.words.includes(o)),
    JSON.stringify(options),
  );
  for (const line of ["clone ", "clone ssh://db2 --snapshot ", "clone ssh://db2 --origin "]) {
    assert.equal(complete(program, words(line)).kind, "none", line);
  }
});
