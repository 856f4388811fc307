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
import { procTable } from "../../src/ops/data_holders.ts";
import { isLive, until } from "../support/processes.ts";
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
  constructor(readonly shell: string[], readonly dir: string, text = SUPERVISOR_SCRIPT) {
    const script = join(dir, "serve.sh");
    Deno.writeTextFileSync(script, text);
    this.child = new Deno.Command(shell[0], {
      args: [...shell.slice(1), script, ...SERVER, this.log],
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.child.status.then(() => this.ended = true);
  }
  /** Set once the supervisor has exited. */
  ended = false;
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
    return isLive(pid);
  }
  until(what: string, test: () => boolean): Promise<void> {
    return until(what, test, 5_000);
  }
  signal(signal: Deno.Signal): void {
    this.child.kill(signal);
  }
  /** The supervisor's live children, by command name. */
  children(): string[] {
    return procTable.pids()
      .filter((pid) => procTable.parent(pid) === this.child.pid && this.alive(pid))
      .map((pid) => procTable.command(pid))
      .sort();
  }
  /** Paused: the server has left and the supervisor naps, waiting for a start. */
  paused(): boolean {
    const children = this.children();
    return children.length === 1 && children[0] === "sleep";
  }
}

/**
 * The supervisor with `signal` sent to itself once, at the first pass of the command
 * boundary after line `at`: exactly as if zvpg's signal had arrived there (a trap runs
 * between two commands). `$?` is kept across the injection for the line after it.
 */
function injected(at: number, signal: "USR1" | "USR2" | "TERM"): string {
  const lines = SUPERVISOR_SCRIPT.split("\n");
  const inject =
    `inj_rc=$?; [ -n "\${inj:-}" ] || { inj=1; kill -${signal} $$; }; (exit "$inj_rc")`;
  return [...lines.slice(0, at + 1), inject, ...lines.slice(at + 1)].join("\n");
}

/** The line numbers of the supervisor's main loop, and where its phases begin. */
function loopBoundaries(): { run: number[]; stopped: number[]; all: number[] } {
  const lines = SUPERVISOR_SCRIPT.split("\n");
  const start = lines.indexOf("while :; do");
  const end = lines.lastIndexOf("done");
  const serverLeft = lines.findIndex((l) => l.trim().startsWith("while kill -0"));
  const napWait = lines.findIndex((l) => l.includes('wait "$nap"')) - 1;
  assert.ok(start >= 0 && serverLeft > start && napWait > serverLeft && end > napWait);
  const all: number[] = [];
  for (let i = start; i < end; i++) if (!lines[i].trim().startsWith("#")) all.push(i);
  return {
    all,
    // passed while the first server runs, before the supervisor waits for it to leave
    run: all.filter((i) => i < serverLeft),
    // passed only once a stopped server has left, while no start has been asked for
    // (the nap's wait and what follows it are passed only once something woke it)
    stopped: all.filter((i) => i >= serverLeft && i <= napWait),
  };
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

/**
 * Fault injection: each of zvpg's signals delivered at every command boundary of the
 * supervisor's loop, for the shells a container may have. A signal between the server's
 * start and `pg=$!` used to reach no server: a stop waited for ever (found by CI under
 * load, as "timed out waiting for server to stop").
 */
for (const shell of SHELLS) {
  const name = shell.join(" ");
  const { all, run, stopped } = loopBoundaries();

  Deno.test(`supervisor (${name}): a stop at any point while the server runs stops it, and only a start restarts it`, async () => {
    for (const at of run) {
      await withTempDir(async (dir) => {
        const s = new Supervised(shell, dir, injected(at, "USR1"));
        try {
          await s.until(`a pause for a stop after line ${at}`, () => s.paused());
          await new Promise((r) => setTimeout(r, 100));
          assert.ok(s.paused(), `no start without SIGUSR2 (stop after line ${at})`);
          s.signal("SIGUSR2");
          await s.until(`a start after line ${at}`, () => s.children().includes("perl"));
        } finally {
          s.signal("SIGTERM");
          await s.child.status;
        }
      });
    }
  });

  Deno.test(`supervisor (${name}): a start at any point after a stop restarts the server`, async () => {
    for (const at of stopped) {
      await withTempDir(async (dir) => {
        const s = new Supervised(shell, dir, injected(at, "USR2"));
        try {
          await s.until("the first start", () => s.starts().length === 1);
          await s.until("its pid known", () => s.children().includes("perl"));
          s.signal("SIGUSR1");
          await s.until(
            `a restart for a start after line ${at}`,
            () => s.starts().length === 2 && s.alive(s.starts()[1]),
          );
        } finally {
          s.signal("SIGTERM");
          await s.child.status;
        }
      });
    }
  });

  Deno.test(`supervisor (${name}): a container stop at any point ends it, with no server left`, async () => {
    for (const at of all) {
      await withTempDir(async (dir) => {
        const s = new Supervised(shell, dir, injected(at, "TERM"));
        try {
          // one whole cycle passes every boundary once: start, stop, pause, start again
          const steps: [string, () => boolean, Deno.Signal | null][] = [
            ["running", () => s.children().includes("perl"), "SIGUSR1"],
            ["paused", () => s.paused(), "SIGUSR2"],
            ["running again", () => s.children().includes("perl"), null],
          ];
          for (const [state, reached, next] of steps) {
            await s.until(`${state} or ended (TERM after line ${at})`, () => s.ended || reached());
            if (s.ended) break;
            if (next) s.signal(next);
          }
          await s.until(`the end for a TERM after line ${at}`, () => s.ended);
          for (const pid of s.starts()) assert.ok(!s.alive(pid), `server ${pid} left running`);
        } finally {
          try {
            s.signal("SIGKILL");
          } catch { /* already gone */ }
          await s.child.status;
        }
      });
    }
  });
}
