#!/usr/bin/env bash
# Build a PostgreSQL container image offline (no registry access needed):
# debootstrap a Debian rootfs with postgresql-N from the Debian mirror apt
# already uses, reshape it to behave like the official `postgres` image (uid
# 999, PGDATA /var/lib/postgresql/data), and import it into docker and (if
# installed) podman.
#
# usage: scripts/build_image.sh [--rebuild] [--pg N] [--suite S] [--native-uid] [TAG]
#   --pg N         PostgreSQL major version (default 17)
#   --suite S      Debian suite that ships postgresql-N (default trixie)
#   --native-uid   keep the Debian package's postgres uid/gid (not 999): an image
#                  unlike the official ones, for tests
#   TAG            default localhost/zvpg-postgres:N
#
# Environment:
#   ZVPG_DEBIAN_MIRROR  override the Debian mirror (default: taken from /etc/apt/sources.list*)
#   ZVPG_CACHE_DIR      cache dir (default /var/cache/zvpg): rootfs tarball + downloaded .debs
#   ZVPG_NO_PODMAN=1    do not load the image into podman
#
# Idempotent: does nothing if TAG already exists in docker (and podman); with a
# cached rootfs tarball it only re-imports. --rebuild re-runs debootstrap and re-imports.
set -euo pipefail

PG_MAJOR=17
SUITE=trixie
TAG=""
REBUILD=0
NATIVE_UID=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) REBUILD=1 ;;
    --native-uid) NATIVE_UID=1 ;;
    --pg) PG_MAJOR=${2:?--pg needs a version}; shift ;;
    --suite) SUITE=${2:?--suite needs a Debian suite}; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build_image: unknown option $1" >&2; exit 2 ;;
    *) TAG=$1 ;;
  esac
  shift
done
[[ "$PG_MAJOR" =~ ^[0-9]+$ ]] || { echo "build_image: --pg must be a number" >&2; exit 2; }
TAG=${TAG:-localhost/zvpg-postgres:${PG_MAJOR}}

CACHE_DIR=${ZVPG_CACHE_DIR:-/var/cache/zvpg}
FLAVOR=""
if [ "$NATIVE_UID" = 1 ]; then FLAVOR=-native; fi
TARBALL=$CACHE_DIR/rootfs-${SUITE}-pg${PG_MAJOR}${FLAVOR}.tar
DEB_CACHE=$CACHE_DIR/debs-${SUITE}
PGBIN=/usr/lib/postgresql/${PG_MAJOR}/bin
IMG_PATH=$PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PGDATA_DIR=/var/lib/postgresql/data

log() { echo "build_image: $*" >&2; }
die() { echo "build_image: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# Debian's own docker client, if present, matches Debian's dockerd; any docker works.
DOCKER=${DOCKER:-docker}
command -v "$DOCKER" >/dev/null || die "docker CLI not found"
"$DOCKER" info >/dev/null 2>&1 || die "docker daemon not reachable (run scripts/setup_env.sh first)"
USE_PODMAN=0
if [ "${ZVPG_NO_PODMAN:-0}" != 1 ] && command -v podman >/dev/null; then USE_PODMAN=1; fi

in_docker() { "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; }
in_podman() { [ "$USE_PODMAN" = 0 ] || podman image exists "$TAG" 2>/dev/null; }

if [ "$REBUILD" = 0 ] && in_docker && in_podman; then
  log "image $TAG already present (use --rebuild to rebuild)"
  exit 0
fi

debian_mirror() {
  if [ -n "${ZVPG_DEBIAN_MIRROR:-}" ]; then echo "$ZVPG_DEBIAN_MIRROR"; return; fi
  local m=""
  # deb822 sources: first URIs line of a stanza that lists a main Debian suite
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    m=$(awk '
      /^[[:space:]]*$/ { if (uri != "" && suite) { print uri; exit } uri=""; suite=0; next }
      /^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { uri=$i; break } }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i ~ /^(bookworm|trixie|stable|testing|sid|unstable)$/) suite=1 }
      END { if (uri != "" && suite) print uri }' /etc/apt/sources.list.d/*.sources | head -n1)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { if ($i ~ /\/debian\/?$/ && $(i+1) !~ /security/) { print $i; exit } break } }' /etc/apt/sources.list | head -n1)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

build_rootfs() {
  command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
  local mirror root
  mirror=$(debian_mirror)
  mkdir -p "$CACHE_DIR" "$DEB_CACHE"
  root=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" EXIT
  log "debootstrap $SUITE with postgresql-$PG_MAJOR from $mirror (log: $CACHE_DIR/debootstrap.log)"
  if ! debootstrap --variant=minbase --cache-dir="$DEB_CACHE" \
      --include="postgresql-$PG_MAJOR" "$SUITE" "$root" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1; then
    tail -n 5 "$CACHE_DIR/debootstrap.log" >&2 || true
    die "debootstrap failed (see $CACHE_DIR/debootstrap.log)"
  fi

  log "reshaping rootfs like the official postgres image"
  local old_uid old_gid
  old_uid=$(awk -F: '$1 == "postgres" { print $3 }' "$root/etc/passwd")
  old_gid=$(awk -F: '$1 == "postgres" { print $3 }' "$root/etc/group")
  [ -n "$old_uid" ] && [ -n "$old_gid" ] || die "no postgres user in the rootfs"
  if [ "$NATIVE_UID" = 1 ]; then
    log "keeping the package's postgres uid $old_uid and gid $old_gid"
  elif [ "$old_gid" != 999 ]; then
    chroot "$root" groupmod -g 999 postgres
    find "$root" -xdev -gid "$old_gid" -exec chgrp -h 999 {} +
  fi
  if [ "$NATIVE_UID" = 0 ] && [ "$old_uid" != 999 ]; then
    chroot "$root" usermod -u 999 -g 999 postgres
    find "$root" -xdev -uid "$old_uid" -exec chown -h 999 {} +
  fi

  # no pre-created cluster
  rm -rf "$root/etc/postgresql/$PG_MAJOR/main" "$root/var/lib/postgresql/$PG_MAJOR/main"
  rmdir "$root/var/lib/postgresql/$PG_MAJOR" 2>/dev/null || true
  local pg_uid pg_gid
  pg_uid=$(awk -F: '$1 == "postgres" { print $3 }' "$root/etc/passwd")
  pg_gid=$(awk -F: '$1 == "postgres" { print $3 }' "$root/etc/group")
  install -d -o "$pg_uid" -g "$pg_gid" -m 1777 "$root$PGDATA_DIR"
  rm -rf "$root/run/postgresql"
  install -d -o "$pg_uid" -g "$pg_gid" -m 3777 "$root/run/postgresql"
  # like the official image: initdb'ed clusters listen on all interfaces
  local sample="$root/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"
  sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$sample"
  grep -q "^listen_addresses = '\*'" "$sample" || die "could not patch listen_addresses"
  ln -sf "postgresql/$PG_MAJOR/postgresql.conf.sample" "$root/usr/share/postgresql.conf.sample"

  log "trimming rootfs"
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* \
    "$root"/etc/ssh/ssh_host_* "$root"/etc/machine-id
  # JIT support (libllvm + z3, ~150 MB) is not worth its size for dev branches:
  # without llvmjit.so the server just runs with jit unavailable.
  rm -f "$root/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit.so" "$root/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit_types.bc"
  rm -rf "$root/usr/lib/postgresql/$PG_MAJOR/lib/bitcode"
  local heavy
  heavy=$(chroot "$root" dpkg-query -W -f '${Package}\n' 'libllvm*' 'libz3-*' 2>/dev/null || true)
  [ -z "$heavy" ] || chroot "$root" dpkg --purge --force-depends $heavy >/dev/null 2>&1 || true
  : > "$root/etc/hostname"

  # smoke test inside the chroot (no container runtime needed)
  chroot "$root" "$PGBIN/postgres" --version >/dev/null || die "postgres binary does not run in rootfs"

  log "writing rootfs tarball $TARBALL"
  tar --numeric-owner -C "$root" -cf "$TARBALL.tmp" .
  mv -f "$TARBALL.tmp" "$TARBALL"
  rm -rf "$root"
  trap - EXIT
}

# image config, as for the official postgres image (plus LANG=C.UTF-8)
CHANGES=(
  "ENV PATH=$IMG_PATH"
  "ENV PGDATA=$PGDATA_DIR"
  "ENV PG_MAJOR=$PG_MAJOR"
  "ENV LANG=C.UTF-8"
  "EXPOSE 5432"
  'CMD ["postgres"]'
  "LABEL zvpg.image=postgres-$PG_MAJOR"
)
change_args() { local c; for c in "$@"; do printf '%s\0%s\0' --change "$c"; done; }
mapfile -d '' CHANGE_ARGS < <(change_args "${CHANGES[@]}")

if [ "$REBUILD" = 1 ] || [ ! -s "$TARBALL" ]; then
  build_rootfs
else
  log "using cached rootfs $TARBALL"
fi

if [ "$REBUILD" = 1 ] || ! in_docker; then
  log "importing into docker as $TAG"
  # dockerd 20.10's `import --change` rejects STOPSIGNAL, so import under a
  # temporary tag and add STOPSIGNAL with a one-line build (no context, no pull).
  tmp_tag="zvpg-import-tmp:$$"
  "$DOCKER" import "${CHANGE_ARGS[@]}" "$TARBALL" "$tmp_tag" >/dev/null || die "docker import failed"
  printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$tmp_tag" \
    | DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$TAG" - >/dev/null 2>"$CACHE_DIR/docker-build.log" \
    || { "$DOCKER" rmi "$tmp_tag" >/dev/null 2>&1 || true; cat "$CACHE_DIR/docker-build.log" >&2; die "docker build (STOPSIGNAL layer) failed"; }
  "$DOCKER" rmi "$tmp_tag" >/dev/null 2>&1 || true
  [ "$("$DOCKER" image inspect -f '{{.Config.StopSignal}}' "$TAG")" = SIGINT ] || die "STOPSIGNAL not set on $TAG"
fi
if [ "$USE_PODMAN" = 1 ] && { [ "$REBUILD" = 1 ] || ! in_podman; }; then
  log "importing into podman as $TAG"
  podman import -q "${CHANGE_ARGS[@]}" --change "STOPSIGNAL SIGINT" "$TARBALL" "$TAG" >/dev/null || die "podman import failed"
fi

"$DOCKER" run --rm --user postgres "$TAG" postgres --version >/dev/null 2>&1 \
  || die "image $TAG does not run 'postgres --version' in docker"
log "image $TAG ready"
