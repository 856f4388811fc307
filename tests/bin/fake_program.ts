/**
 * A fake external program for black-box runs of the real entry point (after neonctl's
 * mocks/bin): `tests/bin/{zfs,zpool,docker}` run it with their own name first. It logs
 * its argv as one JSON line to `$ZVPG_FAKE_LOG` and answers from `$ZVPG_FAKE_FIXTURES`,
 * a JSON array of `{argv, stdout?, stderr?, code?}`: the first entry whose argv is
 * exactly the call's. A call with no answer fails with exit 127.
 *
 * @module
 */

/** One answer of a fake program. */
export interface FakeAnswer {
  argv: string[];
  stdout?: string;
  stderr?: string;
  code?: number;
}

function answer(argv: string[]): FakeAnswer | undefined {
  const file = Deno.env.get("ZVPG_FAKE_FIXTURES");
  if (!file) return undefined;
  const answers = JSON.parse(Deno.readTextFileSync(file)) as FakeAnswer[];
  return answers.find((a) => JSON.stringify(a.argv) === JSON.stringify(argv));
}

if (import.meta.main) {
  const argv = Deno.args;
  const log = Deno.env.get("ZVPG_FAKE_LOG");
  if (log) Deno.writeTextFileSync(log, JSON.stringify({ argv }) + "\n", { append: true });
  const found = answer(argv);
  if (!found) {
    console.error(`fake ${argv[0]}: no answer for ${JSON.stringify(argv)}`);
    Deno.exit(127);
  }
  const encoder = new TextEncoder();
  if (found.stdout) Deno.stdout.writeSync(encoder.encode(found.stdout));
  if (found.stderr) Deno.stderr.writeSync(encoder.encode(found.stderr));
  Deno.exit(found.code ?? 0);
}
