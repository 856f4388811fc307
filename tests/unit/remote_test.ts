/**
 * Remote URLs and names: what `remote add` takes, what it refuses (a one-line usage error
 * naming the URL and how to write it), and the text of the remotes file.
 */
import assert from "node:assert/strict";
import { InvalidNameError, InvalidRemoteUrlError } from "../../src/errors.ts";
import { MAX_REMOTE_NAME, remoteNameProblem, validateRemoteName } from "../../src/domain/names.ts";
import {
  parseRemoteUrl,
  readRemotesFile,
  readRemoteUrl,
  redactedUrl,
  type Remote,
  remotesFileText,
} from "../../src/domain/remote.ts";
import { assertOneLine } from "./helpers.ts";

Deno.test("parseRemoteUrl: ssh URLs with and without user, port and path", () => {
  const cases: [string, unknown][] = [
    ["ssh://db2", { user: null, host: "db2", port: null, path: null }],
    ["ssh://db2/", { user: null, host: "db2", port: null, path: null }],
    [
      "ssh://backup@db2.example.com:2222/tank/zvpg",
      { user: "backup", host: "db2.example.com", port: 2222, path: "/tank/zvpg" },
    ],
    ["ssh://root@10.0.0.7/tank/", { user: "root", host: "10.0.0.7", port: null, path: "/tank" }],
    ["ssh://u@[::1]:22/a", { user: "u", host: "::1", port: 22, path: "/a" }],
    ["ssh://[fe80::1]", { user: null, host: "fe80::1", port: null, path: null }],
    ["SSH://h:65535", { user: null, host: "h", port: 65535, path: null }],
    ["ssh://my_alias", { user: null, host: "my_alias", port: null, path: null }],
  ];
  for (const [url, want] of cases) {
    assert.deepEqual(parseRemoteUrl(url), { kind: "ssh", href: url, ...want as object }, url);
  }
});

Deno.test("parseRemoteUrl: file URLs name an absolute directory, escapes decoded", () => {
  const cases: [string, string][] = [
    ["file:///srv/zvpg-remote", "/srv/zvpg-remote"],
    ["file:///srv/zvpg-remote/", "/srv/zvpg-remote"],
    ["file:///media/my%20usb/zvpg", "/media/my usb/zvpg"],
    ["file:///a:b@c/d", "/a:b@c/d"],
  ];
  for (const [url, path] of cases) {
    assert.deepEqual(parseRemoteUrl(url), { kind: "file", href: url, path }, url);
  }
});

Deno.test("parseRemoteUrl: a refused URL says what is wrong and how to write it", () => {
  const cases: [string, RegExp, RegExp][] = [
    ["", /it is empty/, /ssh:\/\/\[user@\]host\[:port\]\[\/path\] or file:\/\/\/abs\/dir/],
    [" ssh://h", /white space/, /remove the white space/],
    ["ssh://h\n", /control character/, /write it as/],
    ["/srv/zvpg", /a path is not a URL/, /^write it as file:\/\/\/srv\/zvpg$/],
    ["db2:/tank/zvpg", /scp's host:path/, /^write it as ssh:\/\/db2\/tank\/zvpg$/],
    ["backup@db2:tank", /scp's host:path/, /^write it as ssh:\/\/backup@db2\/tank$/],
    ["origin", /it has no scheme/, /write it as ssh:/],
    ["https://example.com/x", /no 'https' remotes/, /use ssh:/],
    ["s3://bucket/x", /no 's3' remotes/, /use ssh:/],
    ["ssh://", /names no host/, /ssh:\/\/\[user@\]host/],
    ["ssh://@h", /user before '@' is empty/, /ssh:/],
    ["ssh://-oProxyCommand=sh/x", /host starts with '-'/, /ssh:/],
    ["ssh://-l@h", /user starts with '-'/, /ssh:/],
    ["ssh://h;rm", /host 'h;rm' has a character/, /ssh:/],
    ["ssh://h:0", /port '0' is not a number from 1 to 65535/, /ssh:/],
    ["ssh://h:65536", /port '65536'/, /ssh:/],
    ["ssh://h:ssh", /port 'ssh'/, /ssh:/],
    ["ssh://[::1", /no closing '\]'/, /ssh:/],
    ["ssh://[db2]", /not an IPv6 address/, /ssh:/],
    ["ssh://h/tank//zvpg", /empty component/, /ssh:/],
    ["ssh://h/tank/../x", /'\.' or '\.\.' component/, /ssh:/],
    ["ssh://h/tank zvpg", /path has a character/, /ssh:/],
    ["ssh://h/x?y=1", /'\?' part/, /ssh:/],
    ["file://srv/zvpg", /names host 'srv' \(file URLs take none\)/, /three slashes/],
    ["file://", /names no directory/, /file:\/\/\/abs\/dir/],
    ["file:///", /root directory/, /file:/],
    ["file:///a/./b", /'\.' or '\.\.' component/, /file:/],
    ["file:///a%zz", /'%' that is not an escape/, /file:/],
    ["file:///a%0Ab", /control character/, /file:/],
    ["file:///a#b", /'#' part/, /file:/],
  ];
  for (const [url, problem, fix] of cases) {
    assert.throws(() => parseRemoteUrl(url), (e: unknown) => {
      assert.ok(e instanceof InvalidRemoteUrlError, url);
      assert.equal(e.exitCode, 2);
      assertOneLine(e.message);
      assertOneLine(e.hint ?? "");
      assert.ok(e.message.startsWith("invalid remote URL '"), e.message);
      assert.match(e.message, problem, url);
      assert.match(e.hint ?? "", fix, url);
      return true;
    });
  }
});

Deno.test("parseRemoteUrl: a password is refused and never shown", () => {
  for (const url of ["ssh://backup:s3cret@db2/tank", "backup:s3cret@db2:/tank"]) {
    assert.throws(() => parseRemoteUrl(url), (e: unknown) => {
      assert.ok(e instanceof InvalidRemoteUrlError);
      assert.match(e.message, /holds a password/);
      assert.match(e.hint ?? "", /ssh key/);
      assert.doesNotMatch(`${e.message} ${e.hint}`, /s3cret/);
      assert.match(e.message, /backup:\*\*\*@db2/);
      return true;
    });
  }
  assert.equal(redactedUrl("ssh://u:pw@h:22/x"), "ssh://u:***@h:22/x");
  assert.equal(redactedUrl("ssh://u@[::1]:22/x"), "ssh://u@[::1]:22/x");
  assert.equal(redactedUrl("file:///a:b@c"), "file:///a:b@c");
});

Deno.test("validateRemoteName: a branch name's rules, without '/', at most 32", () => {
  for (const name of ["origin", "backup-2", "usb_disk", "db2.example", "zürich"]) {
    assert.equal(remoteNameProblem(name), undefined, name);
  }
  const refused: [string, RegExp][] = [
    ["", /empty/],
    ["team/a", /contains '\/'/],
    ["-x", /starts with '-'/],
    [".x", /starts with '\.'/],
    ["a..b", /'\.\.'/],
    ["a b", /white space/],
    ["a:b", /contains ':'/],
    ["x.lock", /\.lock/],
    ["x".repeat(MAX_REMOTE_NAME + 1), /longer than 32/],
  ];
  for (const [name, reason] of refused) {
    assert.match(remoteNameProblem(name) ?? "", reason, name);
    assert.throws(() => validateRemoteName(name), (e: unknown) => {
      assert.ok(e instanceof InvalidNameError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /^invalid remote name '/);
      return true;
    });
  }
});

Deno.test("remotesFileText and readRemotesFile: a round trip in the order added", () => {
  const remotes: Remote[] = [
    { name: "origin", url: parseRemoteUrl("ssh://backup@db2:2222/tank/zvpg") },
    { name: "usb", url: parseRemoteUrl("file:///media/usb/zvpg") },
  ];
  const text = remotesFileText(remotes);
  assert.deepEqual(JSON.parse(text), {
    remotes: [
      { name: "origin", url: "ssh://backup@db2:2222/tank/zvpg" },
      { name: "usb", url: "file:///media/usb/zvpg" },
    ],
  });
  assert.deepEqual(readRemotesFile(text), remotes);
  assert.deepEqual(readRemotesFile('{"remotes": []}'), []);
});

Deno.test("readRemotesFile: a file it cannot read in full is a problem naming the entry", () => {
  const cases: [string, RegExp][] = [
    ["{", /not valid JSON/],
    ["[]", /an object with a "remotes" list/],
    ['{"remotes": {}}', /an object with a "remotes" list/],
    ['{"remotes": [{"name": "a"}]}', /remote #1 has no "name" and "url"/],
    ['{"remotes": [{"name": "a/b", "url": "ssh://h"}]}', /remote 'a\/b': it contains '\/'/],
    ['{"remotes": [{"name": "a", "url": "h:/x"}]}', /remote 'a' has URL 'h:\/x': scp's/],
    ['{"remotes": [{"name": "a", "url": "ssh://u:pw@h"}]}', /URL 'ssh:\/\/u:\*\*\*@h'/],
    [
      '{"remotes": [{"name": "a", "url": "ssh://h"}, {"name": "a", "url": "ssh://g"}]}',
      /remote 'a' is there twice/,
    ],
  ];
  for (const [text, problem] of cases) {
    const read = readRemotesFile(text);
    assert.ok("problem" in read, text);
    assertOneLine(read.problem);
    assert.match(read.problem, problem, text);
    assert.doesNotMatch(read.problem, /pw@/);
  }
});

Deno.test("readRemoteUrl: every URL it accepts reads back the same from the file", () => {
  for (const url of ["ssh://h", "ssh://u@h:1/a/b", "file:///x y/z"]) {
    const parsed = readRemoteUrl(url);
    assert.ok(!("problem" in parsed), url);
    assert.deepEqual(readRemotesFile(remotesFileText([{ name: "r", url: parsed }])), [
      { name: "r", url: parsed },
    ]);
  }
});
