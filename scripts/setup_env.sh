#!/usr/bin/env bash
# Prepare a Debian 12 machine (run as root) for zvpg development and CI:
#   packages, zfs-fuse daemon, dockerd, podman config, PostgreSQL 17 image.
# Idempotent: every step checks first and only acts when needed.
# Prints one line per step on stderr; on failure exits non-zero with a one-line reason.
#
# Environment:
#   ZVPG_IMAGE          image tag (default localhost/zvpg-postgres:17)
#   ZVPG_OTHER_IMAGE    second test image, PostgreSQL 15 with Debian's postgres uid
#                       (default localhost/zvpg-postgres:15-bookworm-native)
#   ZVPG_SKIP_PODMAN=1  skip podman configuration / image load
#   ZVPG_SKIP_IMAGE=1   skip building the image
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=${ZVPG_IMAGE:-localhost/zvpg-postgres:17}
OTHER_IMAGE=${ZVPG_OTHER_IMAGE:-localhost/zvpg-postgres:15-bookworm-native}
DOCKERD_LOG=/var/log/dockerd-zvpg.log
DOCKERD_PIDFILE=/run/dockerd-zvpg.pid
ZFS_PIDFILE=/run/zfs-fuse.pid
PODMAN_CONF=/etc/containers/containers.conf.d/zvpg.conf
export DEBIAN_FRONTEND=noninteractive

step() { echo "setup_env: $*" >&2; }
die() { echo "setup_env: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------------------------------------------------------------- packages
# command -> Debian package that provides it (bookworm)
declare -A PKG_FOR=(
  [zfs-fuse]=zfs-fuse [dockerd]=docker.io [podman]=podman [debootstrap]=debootstrap
  [psql]=postgresql-client [pg_isready]=postgresql-client [jq]=jq
  # bookworm ships pgbench in the server package; see createcluster.d below
  [pgbench]=postgresql [gnuplot]=gnuplot-nox
  # busybox: its sh (Alpine images') runs the server supervisor in its unit test
  [busybox]=busybox
  # the second hosts of the remote tests: a network namespace running its own sshd
  [sshd]=openssh-server [ssh]=openssh-client [ssh-keygen]=openssh-client [ip]=iproute2
)
# OpenZFS (the kernel module and its userland, which answers `zfs version`) is used as it
# is: zfs-fuse is installed only where no ZFS is, and never beside OpenZFS
openzfs() { PATH=/usr/sbin:/sbin:$PATH zfs version >/dev/null 2>&1; }
missing=()
for cmd in "${!PKG_FOR[@]}"; do
  if [ "$cmd" = zfs-fuse ] && openzfs; then continue; fi
  if [ "${ZVPG_SKIP_PODMAN:-0}" = 1 ] && [ "$cmd" = podman ]; then continue; fi
  if ! PATH=/usr/sbin:/sbin:$PATH command -v "$cmd" >/dev/null 2>&1; then
    missing+=("${PKG_FOR[$cmd]}")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  step "installing packages: ${missing[*]}"
  # never let the postgresql package create/start a host cluster
  mkdir -p /etc/postgresql-common/createcluster.d
  [ -f /etc/postgresql-common/createcluster.d/zvpg.conf ] \
    || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/zvpg.conf
  apt-get update -qq >/tmp/zvpg-apt.log 2>&1 || die "apt-get update failed (see /tmp/zvpg-apt.log)"
  apt-get install -y -qq "${missing[@]}" >>/tmp/zvpg-apt.log 2>&1 \
    || die "apt-get install ${missing[*]} failed (see /tmp/zvpg-apt.log)"
else
  step "packages present"
fi
export PATH=/usr/sbin:/sbin:$PATH

# ---------------------------------------------------------------- ZFS
zfs_ok() { zpool list >/dev/null 2>&1; }
if openzfs; then
  zfs_ok || modprobe zfs 2>/dev/null || true
  zfs_ok || die "OpenZFS $(zfs version 2>/dev/null | head -1) is installed but 'zpool list' fails: load the module ('modprobe zfs')"
  step "OpenZFS $(zfs version | head -1 | sed 's/^zfs-//') answers"
elif zfs_ok; then
  step "zfs-fuse daemon running"
else
  [ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
  [ -e /dev/fuse ] || die "/dev/fuse missing: zfs-fuse needs FUSE"
  if ! pgrep -x zfs-fuse >/dev/null; then
    # zfs-fuse refuses to start (exit 1, no message) while its pid file exists
    rm -f "$ZFS_PIDFILE" /var/run/zfs-fuse.pid
    step "starting zfs-fuse daemon"
    zfs-fuse -p "$ZFS_PIDFILE" || die "zfs-fuse failed to start (exit $?)"
  else
    step "zfs-fuse process present, waiting for it to answer"
  fi
  for _ in $(seq 1 80); do zfs_ok && break; sleep 0.25; done
  zfs_ok || die "zfs-fuse daemon does not answer 'zpool list' after 20s"
  # Pools listed in /var/lib/zfs/zpool.cache come back with the daemon, but their
  # datasets are not mounted, and a killed daemon leaves dead FUSE mounts
  # ("Transport endpoint is not connected") that make zfs think they are mounted.
  stale=0
  while read -r _ mnt fstype _; do
    [ "$fstype" = fuse.zfs ] || continue
    mnt=$(printf '%b' "$mnt")
    if ! stat "$mnt" >/dev/null 2>&1; then umount -l "$mnt" 2>/dev/null && stale=$((stale + 1)) || true; fi
  done < <(sort -r -k2,2 /proc/mounts)
  zfs mount -a 2>/dev/null || true
  step "zfs-fuse up (pools: $(zpool list -H -o name | tr '\n' ' ')removed $stale stale mounts, ran zfs mount -a)"
fi

# ---------------------------------------------------------------- dockerd
docker_ok() { timeout 10 docker info >/dev/null 2>&1; }
start_dockerd() { # $1 = storage driver; returns 0 once `docker info` works
  local flags=(--storage-driver="$1" --pidfile="$DOCKERD_PIDFILE")
  if ! iptables -t nat -L -n >/dev/null 2>&1; then
    # no usable iptables: docker-proxy (userland proxy, on by default) still
    # publishes -p 127.0.0.1:PORT:5432 by forwarding to the container's bridge IP
    flags+=(--iptables=false --ip-masq=false --userland-proxy=true)
  fi
  echo "=== $(date -u +%FT%TZ) dockerd ${flags[*]}" >>"$DOCKERD_LOG"
  setsid nohup dockerd "${flags[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 60); do
    docker_ok && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  sleep 2
  return 1
}
if docker_ok; then
  step "dockerd running"
else
  if pgrep -x dockerd >/dev/null; then
    step "dockerd process present, waiting for it to answer"
    for _ in $(seq 1 60); do docker_ok && break; sleep 0.5; done
    docker_ok || die "dockerd is running but 'docker info' fails (see $DOCKERD_LOG)"
  else
    if ! grep -q cgroup /proc/mounts && command -v cgroupfs-mount >/dev/null; then cgroupfs-mount || true; fi
    rm -f "$DOCKERD_PIDFILE" /var/run/docker.pid
    started=""
    for drv in overlay2 fuse-overlayfs vfs; do
      if [ "$drv" = fuse-overlayfs ] && ! command -v fuse-overlayfs >/dev/null; then continue; fi
      step "starting dockerd (storage driver $drv, log $DOCKERD_LOG)"
      if start_dockerd "$drv"; then started=$drv; break; fi
    done
    [ -n "$started" ] || die "dockerd did not come up with overlay2/fuse-overlayfs/vfs (see $DOCKERD_LOG)"
    step "dockerd up (storage driver $started)"
  fi
fi

# ---------------------------------------------------------------- podman
if [ "${ZVPG_SKIP_PODMAN:-0}" != 1 ]; then
  # runc's setrlimit fails ("error setting rlimit type 6/7: operation not permitted")
  # if the container asks for more than podman's own hard limits: podman's defaults
  # (nofile 1048576) exceed this VM's, and podman itself runs with nproc <= 32768.
  hn=$(ulimit -Hn); hu=$(ulimit -Hu)
  [ "$hn" = unlimited ] && hn=1048576
  [ "$hu" = unlimited ] && hu=32768
  [ "$hn" -gt 1048576 ] && hn=1048576
  [ "$hu" -gt 32768 ] && hu=32768
  want=$(cat <<EOF
# written by zvpg scripts/setup_env.sh
[containers]
default_ulimits = ["nofile=$hn:$hn", "nproc=$hu:$hu"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
)
  if [ -f "$PODMAN_CONF" ] && [ "$(cat "$PODMAN_CONF")" = "$want" ]; then
    step "podman config present ($PODMAN_CONF)"
  else
    mkdir -p "$(dirname "$PODMAN_CONF")"
    printf '%s\n' "$want" >"$PODMAN_CONF"
    step "wrote podman config $PODMAN_CONF (runc, cgroupfs, nofile=$hn nproc=$hu)"
  fi
fi

# ---------------------------------------------------------------- image
if [ "${ZVPG_SKIP_IMAGE:-0}" != 1 ]; then
  have=1
  docker image inspect "$IMAGE" >/dev/null 2>&1 || have=0
  if [ "${ZVPG_SKIP_PODMAN:-0}" != 1 ]; then podman image exists "$IMAGE" 2>/dev/null || have=0; fi
  if [ "$have" = 1 ]; then
    step "image $IMAGE present"
  else
    step "building image $IMAGE (scripts/build_image.sh)"
    if [ "${ZVPG_SKIP_PODMAN:-0}" = 1 ]; then export ZVPG_NO_PODMAN=1; fi
    bash "$HERE/build_image.sh" "$IMAGE" || die "scripts/build_image.sh $IMAGE failed"
  fi
  docker run --rm --pull=never "$IMAGE" true >/dev/null 2>&1 \
    || die "'docker run --rm $IMAGE true' fails"
  if [ "${ZVPG_SKIP_PODMAN:-0}" != 1 ]; then
    err=$(podman run --rm --pull=never "$IMAGE" true 2>&1 >/dev/null) \
      || die "'podman run --rm $IMAGE true' fails: $(echo "$err" | tail -n1)"
  fi
  step "docker and podman run $IMAGE"

  # A second image unlike the official ones — PostgreSQL 15 from Debian bookworm, with
  # the package's own postgres uid — for the test that tries another version and uid.
  if docker image inspect "$OTHER_IMAGE" >/dev/null 2>&1; then
    step "image $OTHER_IMAGE present"
  else
    step "building image $OTHER_IMAGE (PostgreSQL 15, the package's postgres uid)"
    ZVPG_NO_PODMAN=1 bash "$HERE/build_image.sh" --pg 15 --suite bookworm --native-uid \
      "$OTHER_IMAGE" || die "scripts/build_image.sh $OTHER_IMAGE failed"
  fi
fi
step "ok"
