#!/usr/bin/env bash
# Runs the whole test suite on a Debian machine as root (no sudo needed), set-up first:
# Deno, zfs-fuse, the container engines, the PostgreSQL image. Unit tests drive the
# services through a strict fake runner; integration tests run the real CLI against
# real ZFS pools (one sparse file per test), real containers and real PostgreSQL.
# The last line is "N passed, N failed".
#
#   bash scripts/test.sh                        # everything, the OpenZFS tier included
#   ZVPG_OPENZFS=0 bash scripts/test.sh         # without the OpenZFS tier (said in the output)
#   bash scripts/test.sh tests/unit             # a subset (no OpenZFS tier)
#
# The OpenZFS tier (scripts/test_openzfs.sh) runs the core integration tests again on
# OpenZFS 2.x in a VM guest; its counts are added to the closing line. The guest is built
# once (cached under /var/tmp/ozfs) beside the suite at the lowest CPU priority, and booted
# after it, so the two never compete for the CPU under the timing-sensitive tests.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure_deno.sh
source scripts/counts.sh
if ! bash scripts/setup_env.sh; then
  echo "the test environment could not be set up (see above): integration tests cannot run"
  echo "0 passed, 1 failed"
  exit 1
fi
# the whole suite includes the OpenZFS tier; a subset of files or ZVPG_OPENZFS=0 leaves it out
openzfs_tier=1
if [ "${ZVPG_OPENZFS:-1}" = 0 ] || [ $# -gt 0 ]; then openzfs_tier=0; fi
# the OpenZFS guest is built (once; cached) beside the suite, at the lowest CPU priority
if [ "$openzfs_tier" = 1 ]; then
  # the images go into tarballs first: the chaos suite restarts dockerd under the build
  bash scripts/test_openzfs.sh --save-images || echo "OpenZFS tier: saving the images failed"
  build_log=$(mktemp /tmp/zvpg-ozfs-build.XXXXXX.log)
  nice -n 19 bash scripts/test_openzfs.sh --build-only >"$build_log" 2>&1 &
  build_pid=$!
fi
# the chaos suite restarts dockerd and zfs-fuse too (its test then runs alone on the machine)
export ZVPG_CHAOS_DISRUPTIVE=${ZVPG_CHAOS_DISRUPTIVE:-1}
log=$(mktemp /tmp/zvpg-test.XXXXXX.log)
NO_COLOR=1 deno test --allow-all "${@:-tests/}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
read -r passed failed < <(deno_counts "$log" "$rc")
rm -f "$log"
if [ "$openzfs_tier" = 1 ]; then
  wait "$build_pid" || { echo "OpenZFS guest build failed:"; tail -n 20 "$build_log"; }
  rm -f "$build_log"
  ozfs_log=$(mktemp /tmp/zvpg-ozfs-tier.XXXXXX.log)
  bash scripts/test_openzfs.sh 2>&1 | tee "$ozfs_log"
  ozfs_rc=${PIPESTATUS[0]}
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$ozfs_log" | tail -1)
  rm -f "$ozfs_log"
  read -r op of < <(echo "${line:-0 passed, 1 failed}" | sed -E 's/ passed, / /; s/ failed//')
  if [ "$ozfs_rc" -ne 0 ] && [ "$of" -eq 0 ]; then of=1; fi
  echo "OpenZFS tier: ${op} passed, ${of} failed"
  passed=$((passed + op)) failed=$((failed + of))
  [ "$ozfs_rc" -ne 0 ] && rc=$ozfs_rc
else
  echo "OpenZFS tier: not run (ZVPG_OPENZFS=0 or a subset of files: scripts/test_openzfs.sh runs it)"
fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
