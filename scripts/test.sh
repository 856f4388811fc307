#!/usr/bin/env bash
# Runs the whole test suite on a Debian machine, doing all set-up first (as root):
# Deno, zfs-fuse, the container engines, the PostgreSQL image. Unit tests drive the
# services through a strict fake runner; integration tests run the real CLI against
# real ZFS pools (one sparse file per test), real containers and real PostgreSQL.
# The last line is "N passed, N failed".
#
#   sudo bash scripts/test.sh            # everything
#   sudo bash scripts/test.sh tests/unit # a subset
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure_deno.sh
if ! bash scripts/setup_env.sh; then
  echo "the test environment could not be set up (see above): integration tests cannot run"
  echo "0 passed, 1 failed"
  exit 1
fi
# the chaos suite restarts dockerd and zfs-fuse too (its test then runs alone on the machine)
export ZVPG_CHAOS_DISRUPTIVE=${ZVPG_CHAOS_DISRUPTIVE:-1}
log=$(mktemp /tmp/zvpg-test.XXXXXX.log)
NO_COLOR=1 deno test --allow-all "${@:-tests/}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -1)
passed=$(echo "$summary" | sed -E 's/.*\| ([0-9]+) passed.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*\| ([0-9]+) failed.*/\1/')
if [ -z "$summary" ]; then passed=0; failed=1; fi
if [ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
