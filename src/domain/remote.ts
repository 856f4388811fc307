/**
 * Remotes: a name for another place zvpg snapshots go to and come from, and the URL that
 * says where it is. Pure: parsing and checking URLs, and the text of the remotes file.
 *
 * - Two kinds of URL: `ssh://[user@]host[:port][/path]` (another host, over ssh) and
 *   `file:///abs/dir` (a directory of stream files on this host).
 * - A URL never holds a secret: a password in it is refused (ssh keys authenticate).
 * - Nothing in a URL may read as an option of the program that will get it: a user or
 *   host starting with `-` is refused.
 * - A refused URL is a usage error that names the URL, what is wrong and how to write it.
 *
 * @module
 */
import { InvalidRemoteUrlError } from "../errors.ts";
import { MAX_REMOTE_NAME, printable, remoteNameProblem } from "./names.ts";

/** Where a remote is, parsed from its URL. */
export type RemoteUrl =
  | {
    kind: "ssh";
    /** The URL as given. */
    href: string;
    /** null: ssh's own default (the local user, or `User` in ~/.ssh/config). */
    user: string | null;
    /** A name, an IPv4 address, or an IPv6 address (without its brackets). */
    host: string;
    /** null: ssh's own default (22, or `Port` in ~/.ssh/config). */
    port: number | null;
    /** The path after the host (e.g. `/tank/zvpg`), null when none is given. */
    path: string | null;
  }
  | {
    kind: "file";
    href: string;
    /** An absolute directory, percent-escapes decoded. */
    path: string;
  };

/** A remote: its name and where it is. */
export interface Remote {
  name: string;
  url: RemoteUrl;
  /** Push refuses every snapshot that is not masked (docs/masking.md). */
  maskedOnly?: boolean;
}

/** The URL forms, as the usage text and every hint write them. */
export const REMOTE_URL_FORMS = "ssh://[user@]host[:port][/path] or file:///abs/dir";

/** Why a URL was refused, and how to write it instead. */
export interface RemoteUrlProblem {
  problem: string;
  fix: string;
}

/**
 * Parses a remote URL. Throws {@link InvalidRemoteUrlError} (a usage error) naming the URL,
 * what is wrong and how to write it.
 */
export function parseRemoteUrl(url: string): RemoteUrl {
  const parsed = readRemoteUrl(url);
  if ("problem" in parsed) {
    throw new InvalidRemoteUrlError(
      `invalid remote URL '${printable(redactedUrl(url))}': ${parsed.problem}`,
      { hint: parsed.fix },
    );
  }
  return parsed;
}

/** The parsed URL, or why it is refused and how to write it. */
export function readRemoteUrl(url: string): RemoteUrl | RemoteUrlProblem {
  const generic = `write it as ${REMOTE_URL_FORMS}`;
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(url)) {
    return { problem: "it contains a control character", fix: generic };
  }
  if (url.trim() === "") return { problem: "it is empty", fix: generic };
  if (passwordSpan(url)) {
    return {
      problem: "it holds a password, and a remote is stored in a file",
      fix: "remove ':password' and authenticate with an ssh key (ssh-agent or ~/.ssh/config)",
    };
  }
  if (/\s/.test(url[0]) || /\s/.test(url.at(-1)!)) {
    return { problem: "it starts or ends with white space", fix: "remove the white space" };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1];
  if (scheme === undefined) return schemeless(url);
  const rest = url.slice(scheme.length + 3);
  switch (scheme.toLowerCase()) {
    case "ssh":
      return readSsh(url, rest);
    case "file":
      return readFile(url, rest);
    default:
      return { problem: `zvpg has no '${scheme}' remotes`, fix: `use ${REMOTE_URL_FORMS}` };
  }
}

/** Where the password of a URL's user part is (`:pw` in `ssh://u:pw@h`), if it has one. */
function passwordSpan(url: string): { start: number; end: number } | undefined {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0].length ?? 0;
  const slash = url.indexOf("/", scheme);
  const at = url.lastIndexOf("@", slash < 0 ? url.length : slash);
  const colon = at < scheme ? -1 : url.indexOf(":", scheme);
  return colon < 0 || colon > at ? undefined : { start: colon, end: at };
}

/**
 * `url` with the password of its user part, if any, replaced by `***` (`ssh://u:***@h`):
 * what error messages show.
 */
export function redactedUrl(url: string): string {
  const span = passwordSpan(url);
  return span ? `${url.slice(0, span.start)}:***${url.slice(span.end)}` : url;
}

/** A URL without `scheme://`: a bare path or scp's `host:path` get the URL they meant. */
function schemeless(url: string): RemoteUrlProblem {
  if (url.startsWith("/")) {
    return { problem: "a path is not a URL", fix: `write it as file://${url}` };
  }
  const scp = /^(?:([^@/:]+)@)?([^@/:]+):(.*)$/.exec(url);
  if (scp && !scp[3].startsWith("//")) {
    const [, user, host, path] = scp;
    const dir = path === "" ? "" : path.startsWith("/") ? path : `/${path}`;
    return {
      problem: "scp's host:path form is not a URL",
      fix: `write it as ssh://${user === undefined ? "" : `${user}@`}${host}${dir}`,
    };
  }
  return { problem: "it has no scheme", fix: `write it as ${REMOTE_URL_FORMS}` };
}

const SSH_FIX = "write it as ssh://[user@]host[:port][/path], e.g. ssh://backup@db2:2222/tank/zvpg";

function readSsh(href: string, rest: string): RemoteUrl | RemoteUrlProblem {
  const at = rest.lastIndexOf("@", rest.search(/\/|$/));
  const userinfo = at < 0 ? null : rest.slice(0, at);
  const afterUser = rest.slice(at + 1);
  const slash = afterUser.indexOf("/");
  const authority = slash < 0 ? afterUser : afterUser.slice(0, slash);
  const rawPath = slash < 0 ? "" : afterUser.slice(slash);
  const extra = /[?#]/.exec(rest);
  if (extra) {
    return { problem: `it has a '${extra[0]}' part, which remotes do not take`, fix: SSH_FIX };
  }
  if (userinfo !== null) {
    const problem = userProblem(userinfo);
    if (problem) return { problem, fix: SSH_FIX };
  }
  const hostPort = readHostPort(authority);
  if ("problem" in hostPort) return hostPort;
  const path = sshPath(rawPath);
  if (typeof path === "object" && path !== null) return path;
  return { kind: "ssh", href, user: userinfo, ...hostPort, path };
}

function userProblem(user: string): string | undefined {
  if (user === "") return "the user before '@' is empty";
  if (user.startsWith("-")) return "the user starts with '-' (ssh would read it as an option)";
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(user)) {
    return `the user '${user}' has a character other than letters, digits, '.', '_' and '-'`;
  }
  return undefined;
}

function readHostPort(
  authority: string,
): { host: string; port: number | null } | RemoteUrlProblem {
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return { problem: "its IPv6 address has no closing ']'", fix: SSH_FIX };
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) {
      return { problem: `'${after}' follows the IPv6 address`, fix: SSH_FIX };
    }
    portText = after === "" ? undefined : after.slice(1);
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(":")) {
      return { problem: `'[${host}]' is not an IPv6 address`, fix: SSH_FIX };
    }
  } else {
    const colon = authority.indexOf(":");
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    if (host === "") return { problem: "it names no host", fix: SSH_FIX };
    if (host.startsWith("-")) {
      return { problem: "the host starts with '-' (ssh would read it as an option)", fix: SSH_FIX };
    }
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(host)) {
      return {
        problem: `the host '${host}' has a character other than letters, digits, '.', '_' and '-'`,
        fix: SSH_FIX,
      };
    }
  }
  if (portText === undefined) return { host, port: null };
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535) {
    return { problem: `the port '${portText}' is not a number from 1 to 65535`, fix: SSH_FIX };
  }
  return { host, port };
}

/** The path after an ssh host: null when none (or only `/`). */
function sshPath(raw: string): string | null | RemoteUrlProblem {
  if (raw === "" || raw === "/") return null;
  const path = raw.endsWith("/") ? raw.slice(0, -1) : raw;
  const problem = pathProblem(path) ??
    (/^[A-Za-z0-9_./:-]+$/.test(path)
      ? undefined
      : "the path has a character other than letters, digits, '/', '.', ':', '_' and '-'");
  return problem ? { problem, fix: SSH_FIX } : path;
}

const FILE_FIX = "write it as file:///abs/dir (three slashes: no host, an absolute path)";

function readFile(href: string, rest: string): RemoteUrl | RemoteUrlProblem {
  if (!rest.startsWith("/")) {
    const host = rest.split("/")[0];
    return {
      problem: host === ""
        ? "it names no directory"
        : `it names host '${host}' (file URLs take none) or a relative path`,
      fix: FILE_FIX,
    };
  }
  const extra = /[?#]/.exec(rest);
  if (extra) {
    return { problem: `it has a '${extra[0]}' part, which remotes do not take`, fix: FILE_FIX };
  }
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    return { problem: "it has a '%' that is not an escape such as %20", fix: FILE_FIX };
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) {
    return { problem: "its path holds a control character", fix: FILE_FIX };
  }
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  if (path === "/") return { problem: "it names the root directory '/'", fix: FILE_FIX };
  const problem = pathProblem(path);
  return problem ? { problem, fix: FILE_FIX } : { kind: "file", href, path };
}

/** A path's components must be plain: no empty, `.` or `..` one. */
function pathProblem(path: string): string | undefined {
  const parts = path.split("/").slice(1);
  if (parts.some((p) => p === "")) return "its path has an empty component ('//')";
  if (parts.some((p) => p === "." || p === "..")) {
    return "its path has a '.' or '..' component";
  }
  return undefined;
}

/** The remotes file: `{ "remotes": [ { "name", "url" } ] }`, in the order they were added. */
export interface RemotesFile {
  remotes: { name: string; url: string; maskedOnly?: true }[];
}

/** The text of the remotes file holding `remotes`. */
export function remotesFileText(remotes: readonly Remote[]): string {
  const doc: RemotesFile = {
    remotes: remotes.map((r) => ({
      name: r.name,
      url: r.url.href,
      ...(r.maskedOnly ? { maskedOnly: true as const } : {}),
    })),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

/**
 * Reads the text of the remotes file: every remote, or the first problem found (which
 * names the entry), so a hand-edited file never gets used half-read.
 */
export function readRemotesFile(text: string): Remote[] | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return { problem: `it is not valid JSON: ${(error as Error).message.replace(/\s+/g, " ")}` };
  }
  const list = (doc as Partial<RemotesFile> | null)?.remotes;
  if (typeof doc !== "object" || doc === null || !Array.isArray(list)) {
    return { problem: `it is not an object with a "remotes" list` };
  }
  const remotes: Remote[] = [];
  for (const [i, entry] of list.entries()) {
    const { name, url, maskedOnly } = (entry ?? {}) as {
      name?: unknown;
      url?: unknown;
      maskedOnly?: unknown;
    };
    if (typeof name !== "string" || typeof url !== "string") {
      return { problem: `remote #${i + 1} has no "name" and "url" strings` };
    }
    const nameProblem = remoteNameProblem(name);
    if (nameProblem) return { problem: `remote '${printable(name)}': ${nameProblem}` };
    if (remotes.some((r) => r.name === name)) {
      return { problem: `remote '${name}' is there twice` };
    }
    const parsed = readRemoteUrl(url);
    if ("problem" in parsed) {
      return {
        problem: `remote '${name}' has URL '${printable(redactedUrl(url))}': ${parsed.problem}`,
      };
    }
    if (maskedOnly !== undefined && typeof maskedOnly !== "boolean") {
      return { problem: `remote '${name}' has a "maskedOnly" that is not true or false` };
    }
    remotes.push({ name, url: parsed, ...(maskedOnly === true ? { maskedOnly: true } : {}) });
  }
  return remotes;
}

/**
 * The name this host goes by on the hosts it pushes to (its pushes land there under
 * `<name>/`): its host name's first label, lower-cased, every character a remote name
 * cannot hold made `-`; `host` when nothing is left. A server's `serve --as` overrides it.
 */
export function identityOf(hostname: string): string {
  const label = hostname.split(".")[0].toLowerCase().replace(/[^a-z0-9_-]+/g, "-");
  const name = label.replace(/^[-_]+/, "").slice(0, MAX_REMOTE_NAME).replace(/-+$/, "");
  return name === "" || remoteNameProblem(name) !== undefined ? "host" : name;
}
