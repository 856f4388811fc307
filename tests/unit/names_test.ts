/**
 * Branch and snapshot names: validation rules and the injective encoding to
 * `[A-Za-z0-9_-]`.
 */
import assert from "node:assert/strict";
import { GIT_BRANCH_PATTERN } from "../../src/config/schema.ts";
import { InvalidNameError } from "../../src/errors.ts";
import {
  branchNameProblem,
  decodeBranchName,
  encodeBranchName,
  MAX_BRANCH_NAME,
  MAX_ENCODED_BRANCH,
  MAX_SNAPSHOT_NAME,
  printable,
  snapshotNameProblem,
  validateBranchName,
  validateSnapshotName,
} from "../../src/domain/names.ts";
import { assertOneLine } from "./helpers.ts";

const P = GIT_BRANCH_PATTERN;

/** A small deterministic PRNG (mulberry32), so failures can be reproduced. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An independent reference of the plain (unhashed) encoding. */
function plainEncoding(name: string): string {
  let out = "";
  for (const ch of name) {
    if (/[A-Za-z0-9-]/.test(ch)) out += ch;
    else if (ch === "_") out += "__";
    else if (ch === "/") out += "_s";
    else if (ch === ".") out += "_d";
    else out += "_u" + ch.codePointAt(0)!.toString(16) + "_";
  }
  return out;
}

/** Checks encode and decode of one name against the reference. */
function checkRoundTrip(name: string): string {
  const encoded = encodeBranchName(name);
  const plain = plainEncoding(name);
  assert.match(encoded, /^[A-Za-z0-9_-]*$/, JSON.stringify(name));
  assert.ok(encoded.length <= MAX_ENCODED_BRANCH, `${encoded.length}: ${encoded}`);
  if (plain.length <= MAX_ENCODED_BRANCH) {
    assert.equal(encoded, plain, JSON.stringify(name));
    assert.equal(decodeBranchName(encoded), name, JSON.stringify(name));
  } else {
    assert.match(encoded, /_h[0-9a-f]{16}$/);
    assert.ok(plain.startsWith(encoded.slice(0, -18)), "the prefix is a prefix of the plain one");
    assert.equal(decodeBranchName(encoded), undefined);
  }
  return encoded;
}

function randomString(next: () => number, alphabet: string[], maxLen: number): string {
  const len = Math.floor(next() * (maxLen + 1));
  let s = "";
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(next() * alphabet.length)];
  return s;
}

const ASCII_ALLOWED = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/."];
const UNICODE_LETTERS = [..."éÉàçßøΩжЖ功能中文한글ñü"];
/** Every kind of character the encoder must cope with, allowed in branch names or not. */
const WIDE = [
  ...ASCII_ALLOWED,
  ...UNICODE_LETTERS,
  "_",
  "_",
  "/",
  ".",
  " ",
  "\t",
  "\u0000",
  "\u007f",
  "@",
  "{",
  "$",
  "`",
  "'",
  '"',
  ";",
  "\u00a0",
  "\u200b",
  "😀",
  "𝔘",
  "\ud800", // a lone surrogate
];

Deno.test("names: valid branch names", () => {
  const valid = [
    "main",
    "feature/auth",
    "feature/user-auth",
    "fix-1",
    "fix_1",
    "release/2026/11",
    "a",
    "A-B_c/d-e",
    "fonctionnalité/é",
    "功能",
    "ветка/тест",
    "x".repeat(MAX_BRANCH_NAME),
    "é".repeat(MAX_BRANCH_NAME),
  ];
  for (const name of valid) {
    assert.equal(branchNameProblem(name, P), undefined, name);
    validateBranchName(name, P);
  }
});

Deno.test("names: every invalid branch rule gives its own reason", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["x".repeat(MAX_BRANCH_NAME + 1), /longer than 100/],
    ["é".repeat(MAX_BRANCH_NAME + 1), /longer than 100/],
    ["a\u0000b", /control character/],
    ["a\tb", /control character/],
    ["a\nb", /control character/],
    ["a\u007fb", /control character/],
    ["a b", /white space/],
    ["a\u00a0b", /white space/],
    ["a\u3000b", /white space/],
    ["-x", /starts with '-'/],
    ["--force", /starts with '-'/],
    ["/x", /starts with '\/'/],
    [".x", /starts with '\.'/],
    ["x/", /ends with '\/'/],
    ["a..b", /'\.\.'/],
    ["a//b", /'\/\/'/],
    ["a/.b", /component starts with '\.'/],
    ["a.lock", /ends with '\.lock'/],
    ["feature/x.lock", /ends with '\.lock'/],
    ["a@{1}", /'@\{'/],
    ["@", /'@\{' or is '@'/],
    ["a;b", /contains ';'/],
    ["a$b", /contains '\$'/],
    ["$(rm -rf /)", /contains '\$'|white space/],
    ["a`id`", /contains '`'/],
    ["a'b", /contains '''/],
    ['a"b', /contains '"'/],
    ["a|b", /contains '\|'/],
    ["a&b", /contains '&'/],
    ["a>b", /contains '>'/],
    ["a<b", /contains '<'/],
    ["a*b", /contains '\*'/],
    ["a?b", /contains '\?'/],
    ["a[b", /contains '\['/],
    ["a\\b", /contains '\\'/],
    ["a~b", /contains '~'/],
    ["a^b", /contains '\^'/],
    ["a:b", /contains ':'/],
    ["a!b", /contains '!'/],
    ["a#b", /contains '#'/],
    ["a%b", /contains '%'/],
    ["a,b", /contains ','/],
    ["a=b", /contains '='/],
    ["a+b", /contains '\+'/],
    ["a(b)", /contains '\('/],
    ["a@b", /contains '@'/],
    ["v1.2", /does not match branchNamingPattern/], // git's pattern has no '.'
    ["😀", /does not match branchNamingPattern/],
    ["a\u200bb", /does not match branchNamingPattern/],
  ];
  for (const [name, reason] of cases) {
    const problem = branchNameProblem(name, P);
    assert.ok(problem !== undefined, `'${name}' should be invalid`);
    assert.match(problem, reason, `${JSON.stringify(name)}: ${problem}`);
    assert.throws(() => validateBranchName(name, P), (e: unknown) => {
      assert.ok(e instanceof InvalidNameError);
      assert.equal(e.exitCode, 2);
      assertOneLine(e.message);
      assert.match(e.message, /^invalid branch name '/);
      assert.ok(e.message.includes(problem));
      assert.ok(e.hint);
      return true;
    });
  }
});

Deno.test("names: error messages never carry control characters", () => {
  assert.throws(() => validateBranchName("evil\u001b[31mred\nline", P), (e: unknown) => {
    assert.ok(e instanceof InvalidNameError);
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\u0000-\u001f]/.test(e.message), JSON.stringify(e.message));
    assert.ok(e.message.includes("evil?[31mred?line"));
    return true;
  });
  assert.equal(printable("a\u0000b\u007f"), "a?b?");
  assert.equal(printable("x".repeat(100)), "x".repeat(80) + "…");
  assert.equal(printable("abc", 2), "ab…");
});

Deno.test("names: a custom pattern applies on top of the built-in rules", () => {
  const lower = "^[a-z]+(/[a-z]+)?$";
  assert.equal(branchNameProblem("feature/x", lower), undefined);
  assert.match(branchNameProblem("Feature", lower)!, /does not match branchNamingPattern/);
  assert.ok(branchNameProblem("Feature", lower)!.includes(lower));
  assert.match(branchNameProblem("a/b/c", lower)!, /does not match/);
  // A permissive pattern does not lift the built-in rules.
  const anything = ".*";
  assert.equal(branchNameProblem("whatever-1", anything), undefined);
  assert.match(branchNameProblem("a b", anything)!, /white space/);
  assert.match(branchNameProblem("a;b", anything)!, /';'/);
  assert.match(branchNameProblem("-a", anything)!, /'-'/);
  // The pattern is Unicode-aware.
  assert.equal(branchNameProblem("é", "^\\p{L}+$"), undefined);
});

Deno.test("names: valid snapshot names", () => {
  for (
    const name of [
      "baseline",
      "v1.2",
      "release:2026-11-24",
      "_private",
      "a",
      "A_B-c.d:e",
      "0day",
      "x".repeat(MAX_SNAPSHOT_NAME),
      "auto-20261124T113323150Z-ab12",
    ]
  ) {
    assert.equal(snapshotNameProblem(name), undefined, name);
    validateSnapshotName(name);
  }
});

Deno.test("names: invalid snapshot names", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["x".repeat(MAX_SNAPSHOT_NAME + 1), /longer than 64/],
    ["pool/fs@snap", /'@' or '\/'/],
    ["zvpg_pool/data@baseline", /'@' or '\/'/],
    ["a@b", /'@'/],
    ["a/b", /'\/'/],
    ["@snap", /'@'/],
    ["-x", /starts with '-'/],
    ["-", /starts with '-'/],
    [".hidden", /only letters/],
    [":x", /only letters/],
    ["a b", /only letters/],
    ["é", /only letters/],
    ["a;b", /only letters/],
    ["a$b", /only letters/],
    ["a\nb", /only letters/],
    ["a`b`", /only letters/],
  ];
  for (const [name, reason] of cases) {
    const problem = snapshotNameProblem(name);
    assert.ok(problem !== undefined, `'${name}' should be invalid`);
    assert.match(problem, reason, `${JSON.stringify(name)}: ${problem}`);
    assert.throws(() => validateSnapshotName(name), (e: unknown) => {
      assert.ok(e instanceof InvalidNameError);
      assert.equal(e.exitCode, 2);
      assertOneLine(e.message);
      assert.match(e.message, /^invalid snapshot name '/);
      return true;
    });
  }
});

Deno.test("names: encodeBranchName examples", () => {
  assert.equal(encodeBranchName("main"), "main");
  assert.equal(encodeBranchName("fix-1"), "fix-1");
  assert.equal(encodeBranchName("feature/a"), "feature_sa");
  assert.equal(encodeBranchName("feature_a"), "feature__a");
  assert.equal(encodeBranchName("feature_sa"), "feature__sa");
  assert.equal(encodeBranchName("feature/user-auth"), "feature_suser-auth");
  assert.equal(encodeBranchName("v1.2"), "v1_d2");
  assert.equal(encodeBranchName("é"), "_ue9_");
  assert.equal(encodeBranchName("功能"), "_u529f__u80fd_");
  assert.equal(encodeBranchName("😀"), "_u1f600_");
  assert.equal(encodeBranchName(""), "");
});

Deno.test("names: feature/a, feature_a and feature_sa do not collide", () => {
  const names = ["feature/a", "feature_a", "feature_sa", "feature__a", "feature/sa", "feature.a"];
  const encoded = names.map(encodeBranchName);
  assert.equal(new Set(encoded).size, names.length, encoded.join(" "));
  for (const name of names) assert.equal(decodeBranchName(encodeBranchName(name)), name);
});

Deno.test("names: encode/decode round trip over many random strings (property)", () => {
  const next = rng(0x5eed);
  const seen = new Map<string, string>();
  let hashed = 0;
  for (let i = 0; i < 5000; i++) {
    const name = randomString(next, WIDE, i % 10 === 0 ? 80 : 20);
    const encoded = checkRoundTrip(name);
    assert.equal(encodeBranchName(name), encoded, "deterministic");
    const previous = seen.get(encoded);
    assert.ok(previous === undefined || previous === name, `collision: ${previous} / ${name}`);
    seen.set(encoded, name);
    if (decodeBranchName(encoded) === undefined) hashed++;
  }
  assert.ok(hashed > 0, "some names were long enough to be hashed");
});

Deno.test("names: random valid branch names validate and round trip (property)", () => {
  const next = rng(42);
  const alphabet = [...ASCII_ALLOWED, ...UNICODE_LETTERS];
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    const name = randomString(next, alphabet, 30);
    const problem = branchNameProblem(name, P);
    if (problem !== undefined) continue;
    accepted++;
    assert.match(checkRoundTrip(name), /^[A-Za-z0-9_-]+$/);
  }
  assert.ok(accepted > 500, `only ${accepted} random names were valid`);
});

Deno.test("names: names built from escape-like pieces never collide (property)", () => {
  // Strings made only of the characters the escapes use are the likeliest to collide.
  const next = rng(7);
  const pieces = ["_", "s", "d", "u", "/", ".", "h", "_s", "e9", "é"];
  const seen = new Map<string, string>();
  for (let i = 0; i < 5000; i++) {
    let name = "";
    const n = 1 + Math.floor(next() * 8);
    for (let j = 0; j < n; j++) name += pieces[Math.floor(next() * pieces.length)];
    const encoded = encodeBranchName(name);
    const previous = seen.get(encoded);
    assert.ok(previous === undefined || previous === name, `collision: ${previous} / ${name}`);
    seen.set(encoded, name);
    checkRoundTrip(name);
  }
});

Deno.test("names: long names are hashed to at most 60 characters and stay distinct", () => {
  const a = "feature/" + "a".repeat(90);
  const b = "feature/" + "a".repeat(89) + "b";
  const ea = encodeBranchName(a);
  const eb = encodeBranchName(b);
  assert.ok(ea.length <= MAX_ENCODED_BRANCH);
  assert.ok(eb.length <= MAX_ENCODED_BRANCH);
  assert.notEqual(ea, eb);
  assert.match(ea, /^feature_sa+_h[0-9a-f]{16}$/);
  assert.equal(decodeBranchName(ea), undefined);
  // The prefix keeps whole encoded characters: an escape is never cut in half.
  const u = encodeBranchName("é".repeat(40));
  assert.match(u, /^(_ue9_)+_h[0-9a-f]{16}$/);
  // Exactly at the limit the encoding is still plain.
  const sixty = "x".repeat(MAX_ENCODED_BRANCH);
  assert.equal(encodeBranchName(sixty), sixty);
  assert.match(encodeBranchName(sixty + "x"), /_h[0-9a-f]{16}$/);
  assert.equal(encodeBranchName("_".repeat(30)), "_".repeat(60));
  assert.match(encodeBranchName("_".repeat(31)), /_h[0-9a-f]{16}$/);
});

Deno.test("names: decoding something that is not an encoding gives undefined", () => {
  const garbage = [
    "_",
    "a_",
    "_x",
    "_S",
    "_u",
    "_u12",
    "_u_",
    "_uzz_",
    "has space",
    "é",
    "a.b",
    "a/b",
    "a@b",
    "_h0123456789abcdef",
    "abc_h0123456789abcdef",
  ];
  for (const text of garbage) assert.equal(decodeBranchName(text), undefined, text);
  assert.equal(decodeBranchName(""), "");
  for (const text of ["_u110000_", "_u-1_", "_u1g_", "_u41_", "_u0041_", "_uE9_"]) {
    assert.equal(decodeBranchName(text), undefined, text);
  }
});
