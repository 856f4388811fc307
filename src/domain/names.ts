/**
 * Branch and snapshot names: validation with a reason, and the injective mapping of
 * branch names (which may hold `/` and any Unicode letter) to ZFS dataset and container
 * name components (which may not).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InvalidNameError } from "../errors.ts";

/** Longest branch name accepted, in characters. */
export const MAX_BRANCH_NAME = 100;
/** Longest snapshot name accepted, in characters. */
export const MAX_SNAPSHOT_NAME = 64;

/**
 * Checks a branch name against git's rules and `pattern` (the configured
 * `branchNamingPattern`). Throws {@link InvalidNameError} naming the broken rule.
 */
export function validateBranchName(name: string, pattern: string): void {
  const reason = branchNameProblem(name, pattern);
  if (reason) {
    throw new InvalidNameError(`invalid branch name '${printable(name)}': ${reason}`, {
      hint: "use letters, digits, '-', '_' and '/' (e.g. feature/login)",
    });
  }
}

/** Why `name` is not a valid branch name, or undefined when it is. */
export function branchNameProblem(name: string, pattern: string): string | undefined {
  if (name === "") return "it is empty";
  if ([...name].length > MAX_BRANCH_NAME) return `it is longer than ${MAX_BRANCH_NAME} characters`;
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "it contains a control character";
  if (/\s/u.test(name)) return "it contains white space";
  if (name.startsWith("-")) return "it starts with '-' (it would read as an option)";
  if (name.startsWith("/")) return "it starts with '/'";
  if (name.startsWith(".")) return "it starts with '.'";
  if (name.endsWith("/")) return "it ends with '/'";
  if (name.includes("..")) return "it contains '..'";
  if (name.includes("//")) return "it contains '//'";
  if (name.includes("/.")) return "a component starts with '.'";
  if (name.endsWith(".lock")) return "it ends with '.lock'";
  if (name.includes("@{") || name === "@") return "it contains '@{' or is '@'";
  const shell = name.match(/[~^:?*\[\]\\$`'"!&;|<>(){}#%,=+@]/u);
  if (shell) return `it contains '${shell[0]}'`;
  if (!new RegExp(pattern, "u").test(name)) {
    return `it does not match branchNamingPattern ${pattern}`;
  }
  return undefined;
}

/** Longest remote name accepted, in characters. */
export const MAX_REMOTE_NAME = 32;

/**
 * Checks a remote name: a branch name's git rules, without `/` (a remote's snapshots are
 * named `<remote>/<snapshot>`). Throws {@link InvalidNameError} (a usage error).
 */
export function validateRemoteName(name: string): void {
  const reason = remoteNameProblem(name);
  if (reason) {
    throw new InvalidNameError(`invalid remote name '${printable(name)}': ${reason}`, {
      hint: "use letters, digits, '-', '_' and '.' (e.g. origin or backup-2)",
    });
  }
}

/** Why `name` is not a valid remote name, or undefined when it is. */
export function remoteNameProblem(name: string): string | undefined {
  if ([...name].length > MAX_REMOTE_NAME) return `it is longer than ${MAX_REMOTE_NAME} characters`;
  if (name.includes("/")) return "it contains '/' (its snapshots are named <remote>/<snapshot>)";
  return branchNameProblem(name, ".*");
}

/**
 * Checks a snapshot name. Snapshot names are flat (no `/` or `@`), so a ZFS path such as
 * `pool/fs@snap` is never taken for one.
 */
export function validateSnapshotName(name: string): void {
  const reason = snapshotNameProblem(name);
  if (reason) {
    throw new InvalidNameError(`invalid snapshot name '${printable(name)}': ${reason}`, {
      hint: "use letters, digits, '-', '_', '.' and ':' (e.g. baseline or v1.2), at most 64",
    });
  }
}

/** Why `name` is not a valid snapshot name, or undefined when it is. */
export function snapshotNameProblem(name: string): string | undefined {
  if (name === "") return "it is empty";
  if (name.length > MAX_SNAPSHOT_NAME) return `it is longer than ${MAX_SNAPSHOT_NAME} characters`;
  if (name.includes("@") || name.includes("/")) {
    return "it contains '@' or '/' (give a bare snapshot name, not a ZFS path)";
  }
  if (name.startsWith("-")) return "it starts with '-' (it would read as an option)";
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/.test(name)) {
    return "only letters, digits, '-', '_', '.' and ':' are allowed, starting with a letter, digit or '_'";
  }
  return undefined;
}

/**
 * Longest encoded branch name. ZFS names are at most 255 characters, and
 * `<zfsPool>/<clonesSubdir>/<encoded>@<snapshot>` must fit even with a 64-character pool,
 * clones subdir and snapshot name: 64 + 1 + 64 + 1 + 60 + 1 + 64 = 255.
 */
export const MAX_ENCODED_BRANCH = 60;

/** Hex digits of SHA-256 kept in the encoding of a long name. */
const HASH_DIGITS = 16;

/**
 * Maps a branch name to a string of `[A-Za-z0-9_-]`, at most {@link MAX_ENCODED_BRANCH}
 * characters, that is valid in ZFS dataset and container names. The mapping is injective:
 * `_` is the escape character (`__` for `_`, `_s` for `/`, `_d` for `.`, `_uHEX_` for any
 * other character), so `feature/a` (`feature_sa`) and `feature_a` (`feature__a`) never
 * collide. A name whose encoding would be longer keeps a prefix of whole encoded
 * characters and ends in `_h` and 16 hex digits of its SHA-256: `_h` never occurs in a
 * plain encoding, so long names cannot collide with short ones (the real name is kept in
 * the `zvpg:branch` property; such encodings do not decode).
 */
export function encodeBranchName(name: string): string {
  const parts = [...name].map(encodeChar);
  const plain = parts.join("");
  if (plain.length <= MAX_ENCODED_BRANCH) return plain;
  const budget = MAX_ENCODED_BRANCH - 2 - HASH_DIGITS;
  let prefix = "";
  for (const part of parts) {
    if (prefix.length + part.length > budget) break;
    prefix += part;
  }
  const digest = createHash("sha256").update(name).digest("hex").slice(0, HASH_DIGITS);
  return `${prefix}_h${digest}`;
}

function encodeChar(ch: string): string {
  if (/^[A-Za-z0-9-]$/.test(ch)) return ch;
  if (ch === "_") return "__";
  if (ch === "/") return "_s";
  if (ch === ".") return "_d";
  return `_u${ch.codePointAt(0)!.toString(16)}_`;
}

/**
 * Inverse of {@link encodeBranchName}; undefined when `encoded` is not a plain encoding
 * (hashed encodings of long names do not decode).
 */
export function decodeBranchName(encoded: string): string | undefined {
  let out = "";
  for (let i = 0; i < encoded.length; i++) {
    const ch = encoded[i];
    if (ch !== "_") {
      if (!/^[A-Za-z0-9-]$/.test(ch)) return undefined;
      out += ch;
      continue;
    }
    const next = encoded[++i];
    if (next === "_") out += "_";
    else if (next === "s") out += "/";
    else if (next === "d") out += ".";
    else if (next === "u") {
      const end = encoded.indexOf("_", i + 1);
      if (end < 0) return undefined;
      const hex = encoded.slice(i + 1, end);
      if (!/^[0-9a-f]{1,6}$/.test(hex)) return undefined;
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) return undefined;
      out += String.fromCodePoint(code);
      i = end;
    } else return undefined;
  }
  // only the canonical encoding decodes (`_u41_` is not "A": that is encoded "A")
  return encodeBranchName(out) === encoded ? out : undefined;
}

/**
 * Shows a name (or another host's text) in an error message without letting control
 * characters through, C1 ones (a terminal's 8-bit escapes) included.
 */
export function printable(name: string, max = 80): string {
  // deno-lint-ignore no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return clean.length > max ? clean.slice(0, max) + "…" : clean;
}
