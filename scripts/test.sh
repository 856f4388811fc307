#!/usr/bin/env bash
# Runs the whole test suite on a Debian machine, doing all set-up first (as root):
# Deno, zfs-fuse, the container engines, the PostgreSQL image. Unit tests drive the
# services through a strict fake runner; integration tests run the real CLI against
# real ZFS pools (one sparse file per test), real containers and real PostgreSQL.
# The last line is "N passed, N failed".
#
#   sudo bash scripts/test.sh                   # everything on this host's ZFS
#   sudo ZVPG_OPENZFS=1 bash scripts/test.sh    # and then the OpenZFS tier
#   sudo bash scripts/test.sh tests/unit        # a subset
#
# The OpenZFS tier (scripts/test_openzfs.sh) runs the core integration tests again on
# OpenZFS 2.x in a VM guest; its counts are added to the closing line. It is not yet part
# of the default run: without hardware KVM its guest build and software-CPU run would take
# most of the CI budget (see the README, "Which ZFS versions are tested").
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure_deno.sh
source scripts/counts.sh
if ! bash scripts/setup_env.sh; then
  echo "the test environment could not be set up (see above): integration tests cannot run"
  echo "0 passed, 1 failed"
  exit 1
fi
openzfs_tier=0
if [ "${ZVPG_OPENZFS:-0}" = 1 ]; then openzfs_tier=1; fi
# the OpenZFS guest is built (once; cached) beside the suite, at the lowest CPU priority
if [ "$openzfs_tier" = 1 ]; then
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
  echo "OpenZFS tier: not run (ZVPG_OPENZFS=1 runs it: scripts/test_openzfs.sh)"
fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
