/**
 * The supervisor script itself, run by the real `sh` (and busybox's, when there is one)
 * with a stand-in server: the protocol zvpg relies on for a reset in place.
 *
 * The stand-in is perl (in every Debian base): a server must install its own handlers
 * for SIGQUIT and SIGINT, which a shell's background job inherits ignored (PostgreSQL
 * does); each start appends a line to a log, so starts can be counted.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SUPERVISOR_SCRIPT } from "../../src/domain/server_supervisor.ts";
import { withTempDir } from "./helpers.ts";

const SERVER = [
  "perl",
  "-e",
  `$SIG{QUIT} = sub { exit 3 }; $SIG{INT} = $SIG{TERM} = sub { exit 0 };
   open(my $f, ">>", $ARGV[0]) or die; print $f "$$\\n"; close $f;
   sleep 1000 while 1;`,
];

/**
 * The shells a container's `sh` may be: dash in Debian images, busybox's ash in Alpine
 * ones (scripts/setup_env.sh installs busybox; without it these tests fail, never skip).
 */
const SHELLS = [["sh"], ["busybox", "sh"]];

/** A supervisor running the stand-in server, and what it has started. */
class Supervised {
  readonly child: Deno.ChildProcess;
  constructor(readonly shell: string[], readonly dir: string) {
    const script = join(dir, "serve.sh");
    Deno.writeTextFileSync(script, SUPERVISOR_SCRIPT);
    this.child = new Deno.Command(shell[0], {
      args: [...shell.slice(1), script, ...SERVER, this.log],
      stdout: "null",
      stderr: "null",
    }).spawn();
  }
  get log(): string {
    return join(this.dir, "starts");
  }
  /** The pids of the servers started so far, in order. */
  starts(): number[] {
    try {
      return Deno.readTextFileSync(this.log).trim().split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }
  alive(pid: number): boolean {
    try {
      // a zombie (exited, not yet reaped by the supervisor) no longer works
      return !/^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
    } catch {
      return false;
    }
  }
  async until(what: string, test: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  signal(signal: Deno.Signal): void {
    this.child.kill(signal);
  }
}

for (const shell of SHELLS) {
  const name = shell.join(" ");

  Deno.test(`supervisor (${name}): a stop then a start at once, as zvpg sends them, restarts the server every time`, async () => {
    await withTempDir(async (dir) => {
      const s = new Supervised(shell, dir);
      try {
        await s.until("the first start", () => s.starts().length === 1);
        for (let round = 1; round <= 200; round++) {
          const server = s.starts().at(-1)!;
          s.signal("SIGUSR1");
          // zvpg resumes as soon as no process works in the data directory any more
          await s.until(`server ${server} to stop (round ${round})`, () => !s.alive(server));
          s.signal("SIGUSR2");
          await s.until(
            `a new server (round ${round})`,
            () => s.starts().length === round + 1 && s.alive(s.starts().at(-1)!),
          );
        }
      } finally {
        s.signal("SIGTERM");
        const status = await s.child.status;
        assert.equal(status.code, 0, "a stop signal ends the supervisor with the server's code");
      }
    });
  });

  Deno.test(`supervisor (${name}): stays paused until told to start, and a stop signal then ends it`, async () => {
    await withTempDir(async (dir) => {
      const s = new Supervised(shell, dir);
      await s.until("the first start", () => s.starts().length === 1);
      const server = s.starts()[0];
      s.signal("SIGUSR1");
      await s.until("the server to stop", () => !s.alive(server));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(s.starts().length, 1, "no start without SIGUSR2");
      s.signal("SIGINT");
      assert.equal((await s.child.status).code, 0);
    });
  });

  Deno.test(`supervisor (${name}): a server that exits on its own ends it with the server's code`, async () => {
    await withTempDir(async (dir) => {
      const s = new Supervised(shell, dir);
      await s.until("the first start", () => s.starts().length === 1);
      // SIGQUIT not sent by the supervisor: the server dies of its own accord (code 3)
      Deno.kill(s.starts()[0], "SIGQUIT");
      assert.equal((await s.child.status).code, 3);
      assert.equal(s.starts().length, 1, "never restarted without a stop request");
    });
  });

  Deno.test(`supervisor (${name}): a start request that came before the server left restarts it once`, async () => {
    await withTempDir(async (dir) => {
      const s = new Supervised(shell, dir);
      try {
        await s.until("the first start", () => s.starts().length === 1);
        s.signal("SIGUSR1");
        s.signal("SIGUSR2");
        await s.until(
          "one restart",
          () => s.starts().length === 2 && s.alive(s.starts()[1]),
        );
      } finally {
        s.signal("SIGTERM");
        await s.child.status;
      }
    });
  });
}
