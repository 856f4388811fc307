import assert from "node:assert/strict";
import {
  type Connection,
  connectionEnv,
  connectionUri,
  envLines,
  pgpassLine,
  shellQuote,
} from "../../src/domain/connection.ts";

const C: Connection = {
  branch: "feature/auth",
  host: "127.0.0.1",
  port: 6002,
  user: "postgres",
  database: "postgres",
  passfile: "/root/.zvpg/passfiles/feature_sauth.pgpass",
};

/** What `sh` makes of `export` lines: the environment the lines set, read back by env -0. */
async function evalInSh(lines: string, names: string[]): Promise<Record<string, string>> {
  const script = `${lines}\nfor n in ${names.join(" ")}; do printenv "$n"; printf '\\0'; done`;
  const out = await new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).output();
  const values = new TextDecoder().decode(out.stdout).split("\0");
  return Object.fromEntries(names.map((n, i) => [n, values[i].replace(/\n$/, "")]));
}

Deno.test("connectionUri: no secret without a password; the passfile as libpq's parameter", () => {
  assert.equal(connectionUri(C), "postgresql://postgres@127.0.0.1:6002/postgres");
  assert.equal(
    connectionUri(C, { passfile: C.passfile }),
    "postgresql://postgres@127.0.0.1:6002/postgres?passfile=%2Froot%2F.zvpg%2Fpassfiles%2Ffeature_sauth.pgpass",
  );
});

Deno.test("connectionUri: the password, user and database are percent-encoded; IPv6 in brackets", () => {
  const uri = connectionUri({ ...C, host: "::1", user: "a@b", database: "my db" }, {
    password: "p@ss:/word?",
  });
  assert.equal(uri, "postgresql://a%40b:p%40ss%3A%2Fword%3F@[::1]:6002/my%20db");
  const parsed = new URL(uri);
  assert.equal(decodeURIComponent(parsed.password), "p@ss:/word?");
});

Deno.test("pgpassLine: host and port exact, any database; ':' and '\\' escaped", () => {
  assert.equal(pgpassLine(C, "pw"), "127.0.0.1:6002:*:postgres:pw\n");
  assert.equal(pgpassLine({ ...C, host: "::1" }, "a:b\\c"), "\\:\\:1:6002:*:postgres:a\\:b\\\\c\n");
});

Deno.test("connectionEnv: DATABASE_URL holds no password unless given one", () => {
  const env = connectionEnv(C);
  assert.deepEqual(Object.keys(env), [
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSFILE",
    "DATABASE_URL",
  ]);
  assert.equal(env.DATABASE_URL, "postgresql://postgres@127.0.0.1:6002/postgres");
  assert.equal(
    connectionEnv(C, { password: "pw" }).DATABASE_URL,
    "postgresql://postgres:pw@127.0.0.1:6002/postgres",
  );
});

Deno.test("shellQuote: safe words bare, anything else single-quoted", () => {
  assert.equal(shellQuote("/root/.zvpg/x.pgpass"), "/root/.zvpg/x.pgpass");
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote(""), "''");
});

Deno.test("envLines (sh): eval gives back every value byte for byte, however odd", async () => {
  const odd = {
    A: "plain",
    B: "with space and 'quote' and \"dq\" and $HOME and `cmd` and \\ and ;|&*?[]",
    C: "/dir with space/pass file",
    D: "",
    E: "line1\nline2",
  };
  const back = await evalInSh(envLines(odd, "sh"), Object.keys(odd));
  assert.deepEqual(back, odd);
});

Deno.test("envLines (github): raw NAME=value lines; a newline uses the heredoc form", () => {
  assert.equal(envLines({ A: "x y", B: "$HOME" }, "github"), "A=x y\nB=$HOME");
  assert.equal(
    envLines({ A: "1\nZVPG_EOF" }, "github"),
    "A<<ZVPG_EOF_\n1\nZVPG_EOF\nZVPG_EOF_",
  );
});
