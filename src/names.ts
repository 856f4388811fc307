/**
 * Branch and snapshot names: validation with a reason, and the injective mapping of
 * branch names (which may hold `/` and any Unicode letter) to ZFS dataset and container
 * name components (which may not).
 *
 * @module
 */
import { InvalidNameError } from "./errors.ts";

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
 * Maps a branch name to a string of `[A-Za-z0-9_-]` that is valid in ZFS dataset and
 * container names. The mapping is injective: `_` is the escape character (`__` for `_`,
 * `_s` for `/`, `_d` for `.`, `_uHEX_` for any other character), so `feature/a`
 * (`feature_sa`) and `feature_a` (`feature__a`) never collide.
 */
export function encodeBranchName(name: string): string {
  let out = "";
  for (const ch of name) {
    if (/^[A-Za-z0-9-]$/.test(ch)) out += ch;
    else if (ch === "_") out += "__";
    else if (ch === "/") out += "_s";
    else if (ch === ".") out += "_d";
    else out += `_u${ch.codePointAt(0)!.toString(16)}_`;
  }
  return out;
}

/** Inverse of {@link encodeBranchName}; undefined when `encoded` is not an encoding. */
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
      const code = parseInt(encoded.slice(i + 1, end), 16);
      if (!Number.isFinite(code)) return undefined;
      out += String.fromCodePoint(code);
      i = end;
    } else return undefined;
  }
  return out;
}

/** Shows a name in an error message without letting control characters through. */
export function printable(name: string, max = 80): string {
  // deno-lint-ignore no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > max ? clean.slice(0, max) + "…" : clean;
}
