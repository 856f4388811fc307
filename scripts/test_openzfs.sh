#!/usr/bin/env bash
# Runs zvpg's integration tests on OpenZFS 2.x (the ZFS users run), inside a Debian trixie
# VM guest with the OpenZFS kernel module (zfs-dkms), docker and zvpg's image. As root.
#
#   bash scripts/test_openzfs.sh                      # the core subset (CI)
#   bash scripts/test_openzfs.sh tests/integration/   # everything (hardware KVM advised)
#   ZVPG_OPENZFS_FULL=1 bash scripts/test_openzfs.sh  # the same
#   ZVPG_OPENZFS_TIMEOUT=S                            # the guest run's bound (subset 2700 s)
#   bash scripts/test_openzfs.sh --save-images        # only `docker save` the images for the
#                                                     # guest (scripts/test.sh, before its suite
#                                                     # restarts dockerd)
#   bash scripts/test_openzfs.sh --build-only         # only build the guest (scripts/test.sh
#                                                     # does it niced, beside the main suite)
#
# The guest is built once and cached under $OZFS_DIR (default /var/tmp/ozfs, about 8 min
# the first time: debootstrap, kernel, dkms build of zfs, docker load of the image). Every
# run boots a throwaway overlay of that pristine image, so nothing leaks between runs.
# QEMU uses hardware KVM when /dev/kvm offers it and its software CPU otherwise (about
# 10x slower: the subset takes some 15-20 min then). The checkout, this host's deno and
# its module cache are copied in: the guest needs no network.
#
# Last line: "N passed, N failed" (from deno test in the guest), like scripts/test.sh.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/counts.sh
OZ=${OZFS_DIR:-/var/tmp/ozfs}
# the images the integration tests use (tests/support/itest.ts: TEST_IMAGE, OTHER_IMAGE)
IMAGES=("${ZVPG_TEST_IMAGE:-localhost/zvpg-postgres:17}" "${ZVPG_OTHER_IMAGE:-localhost/zvpg-postgres:15-bookworm-native}")
# the core on OpenZFS: init, snapshot with CHECKPOINT, branch create/start/stop/reset/
# delete, status health and repair (core_test.ts); push and pull over ssh between two pools
# in the guest (a network namespace with its own sshd), transfers killed mid-stream that
# resume with their token, checked by the sender, and partial receives of another snapshot
# discarded (remote_resume_test.ts); main's WAL archive and branches at a time or an LSN
# holding exactly the rows committed before it, reset --at, the window refused, gc of the
# archive (pitr_test.ts). The rest of the remote and point-in-time tests run on zfs-fuse
# only: the software-emulated guest would take many minutes more for them.
SUBSET=(
  tests/integration/core_test.ts
  tests/integration/remote_resume_test.ts
  tests/integration/pitr_test.ts
)
BUILD_ONLY=0 SAVE_ONLY=0
if [ "${1:-}" = --build-only ]; then BUILD_ONLY=1; shift; fi
if [ "${1:-}" = --save-images ]; then SAVE_ONLY=1; shift; fi
if [ $# -gt 0 ]; then FILES=("$@")
elif [ "${ZVPG_OPENZFS_FULL:-0}" = 1 ]; then FILES=(tests/integration/)
else FILES=("${SUBSET[@]}"); fi

say() { echo "test_openzfs: $*" >&2; }
fail() { say "ERROR: $*"; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (it builds and boots a VM)"
start=$SECONDS

# ---------------------------------------------------------------- the guest (cached)
tar_dir=$OZ/image-tars-src
mkdir -p "$tar_dir"
tars=()
for image in "${IMAGES[@]}"; do tars+=("$tar_dir/$(echo "$image" | tr '/:' '__').tar"); done
if [ "$(cat "$OZ/stamps/5-images" 2>/dev/null)" != "${tars[*]}" ]; then
  for i in "${!IMAGES[@]}"; do
    # a tarball --save-images just wrote is kept (dockerd may be restarting by now)
    [ "$SAVE_ONLY" = 0 ] && [ -s "${tars[$i]}" ] && continue
    docker image inspect "${IMAGES[$i]}" >/dev/null 2>&1 \
      || fail "image ${IMAGES[$i]} missing: run scripts/setup_env.sh"
    say "saving ${IMAGES[$i]} for the guest"
    docker save -o "${tars[$i]}.part" "${IMAGES[$i]}" && mv "${tars[$i]}.part" "${tars[$i]}" \
      || fail "docker save ${IMAGES[$i]} failed"
  done
fi
[ "$SAVE_ONLY" = 1 ] && exit 0
say "building the guest (cached under $OZ; the first build takes about 8 min)"
OZFS_DIR=$OZ OZFS_IMAGE_TARS="${tars[*]}" bash scripts/openzfs/build_guest.sh >&2 \
  || fail "the guest could not be built (see $OZ/build.log)"
say "guest: $(tr '\n' ' ' <"$OZ/guest/versions.txt") (built in $((SECONDS - start)) s)"
[ "$BUILD_ONLY" = 1 ] && exit 0

# ---------------------------------------------------------------- what the guest gets
share=$(mktemp -d /var/tmp/zvpg-ozfs-share.XXXXXX)
trap 'rm -rf "$share"' EXIT
stage=$share/stage
mkdir -p "$stage/zvpg" "$stage/bin"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$stage/zvpg" \
  || fail "cannot copy the checkout"
cp "$(readlink -f "$(command -v deno)")" "$stage/bin/deno"
# every module the tests import, in a cache of its own that goes into the guest (a copy of
# this host's cache, completed by `deno cache`)
host_cache=${DENO_DIR:-$HOME/.cache/deno}
[ -d "$host_cache" ] && cp -a "$host_cache" "$stage/deno-cache"
mapfile -t modules < <(for f in "${FILES[@]}"; do
  if [ -d "$f" ]; then find "$f" -name '*_test.ts'; else echo "$f"; fi
done)
DENO_DIR=$stage/deno-cache deno cache --quiet main.ts "${modules[@]}" >&2 \
  || fail "deno cache failed"
# one file: 9p under a software CPU reads one large file far faster than many small ones
tar -cf "$share/payload.tar" -C "$stage" . || fail "cannot pack the payload"
rm -rf "$stage"
cp scripts/openzfs/guest_itest.sh "$share/"

# ---------------------------------------------------------------- run
say "booting the guest: deno test ${FILES[*]}"
log=$(mktemp /tmp/zvpg-ozfs.XXXXXX.log)
# the subset is bounded well inside CI's budget (it took 11-18 min under load); more files get
# hours under a software CPU
if [ "${FILES[*]}" = "${SUBSET[*]}" ]; then timeout_s=2700; else timeout_s=28800; fi
bash scripts/openzfs/run_guest.sh --share "$share" --timeout "${ZVPG_OPENZFS_TIMEOUT:-$timeout_s}" -- \
  "bash guest_itest.sh ${FILES[*]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
read -r passed failed < <(deno_counts "$log" "$rc")
rm -f "$log"
say "OpenZFS tier done in $((SECONDS - start)) s (exit $rc)"
echo "${passed} passed, ${failed} failed"
exit "$rc"
