/**
 * The supervisor every branch container runs as its first process: a POSIX `sh` script
 * (every PostgreSQL image has `sh`) that runs the server and can stop it and start it
 * again inside the same container. A reset that rolls the data back in place then keeps
 * the container, its port and its mounts, and pays no container engine call at all.
 *
 * Its protocol is two signals, sent by zvpg to the supervisor's host pid (found from
 * `/proc`, see src/ops/server_control.ts):
 * - `SIGUSR1`: stop the server at once (immediate shutdown) and wait; the container
 *   stays up. The stop is over when no process works in the data directory.
 * - `SIGUSR2`: start the server again. It may come at any moment after the `SIGUSR1`,
 *   also before the server has left or before the script is back to waiting: each signal
 *   sets a flag that the script reads once the server has exited, never lost in between
 *   (the race that used to end the container instead: tests/unit/server_supervisor_test.ts).
 * - A stop (or the container's stop) is sent again each second until the server has
 *   gone. A server discards these signals until it has its own handlers (a shell starts
 *   a background job with SIGINT and SIGQUIT ignored), and a request may come before the
 *   script knows the server's pid (a trap runs between two commands): once sent, the
 *   request was lost there, the server ran on and the stop waited for ever (found by CI
 *   under load). The tests inject each signal at every command boundary of the loop.
 *
 * Invariants, as when the server ran as the first process itself: the container's stop
 * signal (SIGINT or SIGTERM) reaches the server as a fast shutdown and ends the
 * container; a server that exits on its own ends the container with its exit code (the
 * engine's restart policy decides what follows). Never two servers: the script starts
 * one only after the previous one has exited. An image without `sleep` runs the server
 * as the first process, unsupervised (zvpg then restarts the container instead).
 *
 * @module
 */

/** The file name of the supervisor in the branch's config directory. */
export const SUPERVISOR_FILE = "serve.sh";

/** The supervisor script (see the module documentation). `"$@"` is the server command. */
export const SUPERVISOR_SCRIPT =
  `# zvpg's server supervisor: the first process of a branch's container.
# It runs PostgreSQL ("$@"); SIGUSR1 stops it (immediate shutdown) and keeps the container
# up, SIGUSR2 starts it again. SIGINT/SIGTERM: fast shutdown, and the container ends. A
# server that exits on its own ends the container with its exit code.
# A request is a flag, read only once the server has exited: a SIGUSR2 may come at any
# moment after the SIGUSR1 (even before the server has left); traps run between commands,
# so the flag is read again after the nap's pid is known, and no request is lost.
cd / || exit 1
command -v sleep >/dev/null 2>&1 || exec "$@"
pg='' nap='' term='' stop='' go='' timer=''
# ask: send the server the pending stop, and again each second (SIGALRM) until it has
# gone: a server discards SIGINT and SIGQUIT until it has its handlers (a background job
# starts with them ignored), and a request may come before its pid is known.
ask() {
  [ -n "$pg" ] || return 0
  if [ -n "$term" ]; then kill -INT "$pg" 2>/dev/null
  elif [ -n "$stop" ]; then kill -QUIT "$pg" 2>/dev/null
  else return 0; fi
  [ -n "$timer" ] || { (sleep 1 && kill -ALRM $$ 2>/dev/null) & timer=$!; }
}
trap 'term=1; ask; [ -z "$nap" ] || kill "$nap" 2>/dev/null' INT TERM
trap 'stop=1 go=; ask' USR1
trap 'go=1; [ -z "$nap" ] || kill "$nap" 2>/dev/null' USR2
trap 'timer=; ask' ALRM
while :; do
  "$@" &
  pg=$!
  ask
  # a trapped signal interrupts wait: wait again until the server has really exited
  while kill -0 "$pg" 2>/dev/null; do wait "$pg"; done
  wait "$pg"
  code=$?
  pg=''
  [ -z "$timer" ] || kill "$timer" 2>/dev/null
  timer=''
  [ -z "$term" ] || exit "$code"
  [ -n "$stop" ] || exit "$code"
  while [ -z "$go" ] && [ -z "$term" ]; do
    sleep 86400 &
    nap=$!
    [ -n "$go" ] || [ -n "$term" ] || wait "$nap"
    kill "$nap" 2>/dev/null
    nap=''
  done
  [ -z "$term" ] || exit 0
  stop='' go=''
done
`;
