#!/usr/bin/env bash
# Builds a Debian trixie KVM guest with the OpenZFS kernel module (zfs-dkms from
# contrib), docker.io and a "run one command, then power off" service.
# Run as root on a Debian host with /dev/kvm. Idempotent: every stage leaves a stamp
# under $OZFS_DIR/stamps and is skipped when its stamp exists (delete a stamp, or
# run with --clean, to redo from that stage).
#
#   sudo bash build.sh            # build or finish building
#   sudo bash build.sh --clean    # throw away rootfs + image (keeps the .deb cache)
#
# Output (under $OZFS_DIR, default /var/tmp/ozfs):
#   guest/base.img     raw ext4 root filesystem (sparse; run.sh boots qcow2 overlays of it)
#   guest/vmlinuz      guest kernel, guest/initrd.img  its initramfs (direct -kernel boot)
#   guest/versions.txt kernel / zfs / docker versions in the image
#
# Environment: OZFS_DIR, OZFS_SUITE (default trixie), OZFS_MIRROR
#   (default: the first Debian mirror in the host's own apt sources), OZFS_SECURITY_MIRROR
#   (default: the host's security mirror), OZFS_IMG_SIZE (default 8G),
#   OZFS_EXTRA_PKGS (more packages for the guest, space separated),
#   OZFS_IMAGE_TARS (`docker save` tarballs to load into the guest's docker, stage 5).
set -euo pipefail

OZ=${OZFS_DIR:-/var/tmp/ozfs}
SUITE=${OZFS_SUITE:-trixie}
# the host's own apt sources name the mirrors this machine may use
# (a missing sources file or no security mirror is not an error)
host_uris() { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  sed -nE 's/^deb +(\[[^]]*\] +)?(https?:[^ ]+).*/\2/p; s/^URIs: *(https?:[^ ]+).*/\1/p' || true; }
MIRROR=${OZFS_MIRROR:-$(host_uris | { grep -v -- '-security' || true; } | head -1)}
SEC_MIRROR=${OZFS_SECURITY_MIRROR:-$(host_uris | { grep -- '-security' || true; } | head -1)}
[ -n "$MIRROR" ] || { echo "build.sh: no Debian mirror found in the host's apt sources; set OZFS_MIRROR" >&2; exit 1; }
IMG_SIZE=${OZFS_IMG_SIZE:-8G}
ROOT=$OZ/rootfs
GUEST=$OZ/guest
STAMPS=$OZ/stamps
DEBCACHE=$OZ/debcache          # debootstrap's cache
APTCACHE=$OZ/aptcache          # the chroot's /var/cache/apt/archives, bind-mounted
LOG=$OZ/build.log
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

# Packages in the guest beyond debootstrap's default set (required + important).
GUEST_PKGS=(
  linux-image-amd64 linux-headers-amd64 zfs-dkms zfsutils-linux
  systemd-sysv udev dbus kmod systemd-resolved systemd-timesyncd
  docker.io docker-cli containerd runc tini iptables ca-certificates
  jq postgresql-client curl xz-utils pigz git procps psmisc less time bc
  # a second host for the remote tests (tests/support/remote_host.ts): ip netns, veth, sshd
  openssh-server openssh-client iproute2
  ${OZFS_EXTRA_PKGS:-}
)

step() { printf '[build %(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$LOG" >&2; }
die() { step "ERROR: $*"; exit 1; }
stamp() { touch "$STAMPS/$1"; }
done_() { [ -e "$STAMPS/$1" ]; }
# timed CMD...: runs CMD with its output in $LOG, then logs how long it took
timed() { local t0=$SECONDS rc; "$@" >>"$LOG" 2>&1; rc=$?; step "  took $((SECONDS - t0)) s"; return $rc; }

[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$OZ" "$GUEST" "$STAMPS" "$DEBCACHE" "$APTCACHE"

if [ "${1:-}" = --clean ]; then
  step "cleaning rootfs, image and stamps (keeping $DEBCACHE and $APTCACHE)"
  for m in $(awk -v r="$ROOT" '$2 ~ "^"r {print $2}' /proc/mounts | sort -r); do umount -l "$m"; done
  rm -rf "$ROOT" "$GUEST" "$STAMPS"
  mkdir -p "$GUEST" "$STAMPS"
fi

# ------------------------------------------------------------------ host packages
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
  step "installing host packages: ${need[*]}"
  apt-get update -qq >>"$LOG" 2>&1
  apt-get install -y -qq "${need[@]}" >>"$LOG" 2>&1 || die "apt-get install ${need[*]} failed (see $LOG)"
fi
[ -w /dev/kvm ] || step "WARNING: /dev/kvm not usable: run.sh will fall back to TCG (slow)"

# ------------------------------------------------------------------ chroot helpers
mounted=()
chroot_mounts() {
  local m
  for m in proc sys dev dev/pts; do
    mountpoint -q "$ROOT/$m" && continue
    case $m in
      proc) mount -t proc proc "$ROOT/proc" ;;
      sys) mount -t sysfs sys "$ROOT/sys" ;;
      dev) mount -t tmpfs -o mode=755 devtmp "$ROOT/dev"
           for n in null zero full random urandom tty; do cp -a /dev/$n "$ROOT/dev/"; done
           mkdir -p "$ROOT/dev/pts" "$ROOT/dev/shm"; ln -sf /proc/self/fd "$ROOT/dev/fd" ;;
      dev/pts) mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT/dev/pts"
               ln -sf pts/ptmx "$ROOT/dev/ptmx" ;;
    esac
    mounted=("$ROOT/$m" "${mounted[@]}")
  done
  mkdir -p "$ROOT/var/cache/apt/archives"
  if ! mountpoint -q "$ROOT/var/cache/apt/archives"; then
    mount --bind "$APTCACHE" "$ROOT/var/cache/apt/archives"
    mounted=("$ROOT/var/cache/apt/archives" "${mounted[@]}")
  fi
}
chroot_umounts() {
  local m
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  mounted=()
}
trap chroot_umounts EXIT
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"; }

# ------------------------------------------------------------------ 1. debootstrap
if ! done_ 1-debootstrap; then
  rm -rf "$ROOT"
  step "1. debootstrap $SUITE (main,contrib) from $MIRROR into $ROOT"
  timed debootstrap --components=main,contrib --cache-dir="$DEBCACHE" \
    "$SUITE" "$ROOT" "$MIRROR" || die "debootstrap failed (see $LOG)"
  stamp 1-debootstrap
fi

# ------------------------------------------------------------------ 2. packages
# the stamp holds the package list: a changed list re-runs this stage (incremental
# apt-get install) and the stages after it
if [ "$(cat "$STAMPS/2-packages" 2>/dev/null)" != "${GUEST_PKGS[*]}" ]; then
  rm -f "$STAMPS/2-packages" "$STAMPS/3-config" "$STAMPS/4-image"
fi
if ! done_ 2-packages; then
  step "2. apt-get install in chroot: kernel, headers, zfs-dkms (builds the module), docker.io, tools"
  cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main contrib
deb $MIRROR $SUITE-updates main contrib
EOF
  [ -n "$SEC_MIRROR" ] && echo "deb $SEC_MIRROR $SUITE-security main contrib" >>"$ROOT/etc/apt/sources.list"
  # never start services inside the build chroot (the host runs its own dockerd)
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
  chroot_mounts
  t0=$SECONDS
  # offline, the lists of the last build and the debs in $APTCACHE still serve a list whose
  # packages were all downloaded before
  if ! in_root apt-get update -qq >>"$LOG" 2>&1; then
    compgen -G "$ROOT/var/lib/apt/lists/*_Packages" >/dev/null \
      || die "apt-get update in chroot failed (see $LOG)"
    step "  apt-get update failed (offline?): installing from the lists and debs cached before"
  fi
  # linux-headers first so that the zfs-dkms postinst finds a kernel to build for
  in_root apt-get install -y -q --no-install-recommends linux-image-amd64 linux-headers-amd64 \
    >>"$LOG" 2>&1 || die "kernel install failed (see $LOG)"
  in_root apt-get install -y -q --no-install-recommends "${GUEST_PKGS[@]}" \
    >>"$LOG" 2>&1 || die "apt-get install failed (see $LOG)"
  step "  took $((SECONDS - t0)) s (download + dkms build)"
  kver=$(ls "$ROOT/lib/modules" | sort -V | tail -1)
  if ! ls "$ROOT/lib/modules/$kver"/updates/dkms/zfs.ko* >/dev/null 2>&1; then
    step "  zfs.ko missing for $kver after install: running dkms autoinstall -k $kver"
    timed in_root dkms autoinstall -k "$kver" || die "dkms autoinstall failed (see $LOG)"
  fi
  ls "$ROOT/lib/modules/$kver"/updates/dkms/zfs.ko* >/dev/null 2>&1 || die "no zfs.ko for $kver"
  # (no apt-get clean: /var/cache/apt/archives is $APTCACHE, bind-mounted, kept for rebuilds)
  chroot_umounts
  echo "${GUEST_PKGS[*]}" >"$STAMPS/2-packages"
fi

# ------------------------------------------------------------------ 3. configuration
if ! done_ 3-config; then
  step "3. configure guest (fstab, serial autologin, network, 9p, zfs autoload, run service)"
  kver=$(ls "$ROOT/lib/modules" | sort -V | tail -1)
  echo ozfs-guest >"$ROOT/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 ozfs-guest\n' >"$ROOT/etc/hosts"
  echo "/dev/vda / ext4 rw,noatime,errors=remount-ro 0 1" >"$ROOT/etc/fstab"
  rm -f "$ROOT/usr/sbin/policy-rc.d"
  # root: no password on the serial console (a throwaway test VM, never networked inbound)
  in_root passwd -d root >/dev/null
  mkdir -p "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d"
  cat >"$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %I $TERM
EOF
  # user-mode network: DHCP from QEMU's slirp (10.0.2.0/24, DNS 10.0.2.3)
  mkdir -p "$ROOT/etc/systemd/network"
  printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' >"$ROOT/etc/systemd/network/10-dhcp.network"
  in_root systemctl enable systemd-networkd systemd-resolved >/dev/null 2>&1 || true
  in_root systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true
  # modules: zfs at boot, 9p for the shared folders
  printf 'zfs\n9p\n9pnet_virtio\n' >"$ROOT/etc/modules-load.d/ozfs.conf"
  # boot faster: nothing waits for apt timers, man-db, etc.
  for u in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer \
           e2scrub_reap.service; do
    in_root systemctl disable "$u" >/dev/null 2>&1 || true
  done
  in_root systemctl enable docker.service containerd.service zfs.target zfs-mount.service \
    >/dev/null 2>&1 || true
  # sshd runs only where a test starts it, in its own network namespace
  in_root systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  # the "run one command" service (see run.sh)
  install -m 0755 /dev/stdin "$ROOT/usr/local/sbin/ozfs-run" <<'EOF'
#!/bin/bash
# Started at boot when the kernel command line has ozfs.run=1. Mounts the 9p share
# "ctl" (cmd, rc, out.log) and, when given, "src" at ozfs.src=PATH (default /src);
# runs ctl/cmd with bash in that folder; streams its output to /dev/ttyS1 and
# ctl/out.log; writes the exit status to ctl/rc; powers off.
set -u
# whatever happens below, the guest powers off at the end (unless ctl/keep exists)
trap '[ -e /mnt/ctl/keep ] || systemctl --no-block poweroff' EXIT
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
src=$(arg ozfs.src); src=${src:-/src}
out=/dev/ttyS1
stty -F $out raw -echo 115200 2>/dev/null
o9p=trans=virtio,version=9p2000.L,msize=512000,cache=none
mkdir -p /mnt/ctl && mount -t 9p -o $o9p ctl /mnt/ctl || { echo "OZFS: cannot mount ctl" >$out; exit 1; }
if grep -q 'ozfs.share=1' /proc/cmdline; then
  mkdir -p "$src" && mount -t 9p -o $o9p src "$src" || echo "OZFS: cannot mount src at $src" >$out
fi
cd "$src" 2>/dev/null || cd /root
# markers go to the console (ttyS0, via the unit's StandardOutput), not to the output
echo "OZFS-READY uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r) zfs=$(cat /sys/module/zfs/version 2>/dev/null)"
bash /mnt/ctl/cmd </dev/null 2>&1 | tee /mnt/ctl/out.log >$out
rc=${PIPESTATUS[0]}
echo "$rc" >/mnt/ctl/rc
echo "OZFS-DONE rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
exit 0
EOF
  cat >"$ROOT/etc/systemd/system/ozfs-run.service" <<'EOF'
[Unit]
Description=Run the command handed in by run.sh, then power off
ConditionKernelCommandLine=ozfs.run=1
After=multi-user.target docker.service zfs.target zfs-mount.service network.target
Wants=docker.service zfs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ozfs-run
Environment=HOME=/root LANG=C.UTF-8 TERM=dumb
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
  in_root systemctl enable ozfs-run.service >/dev/null 2>&1
  # initramfs with the virtio modules (MODULES=most already has them; make sure)
  for m in virtio_pci virtio_blk virtio_net ext4; do
    grep -qx "$m" "$ROOT/etc/initramfs-tools/modules" || echo "$m" >>"$ROOT/etc/initramfs-tools/modules"
  done
  chroot_mounts
  in_root update-initramfs -u -k "$kver" >>"$LOG" 2>&1 || die "update-initramfs failed (see $LOG)"
  {
    echo "suite=$SUITE"
    echo "kernel=$kver"
    in_root dpkg-query -W -f='${Package}=${Version}\n' zfs-dkms zfsutils-linux docker.io linux-image-amd64 systemd
  } >"$GUEST/versions.txt"
  chroot_umounts
  cp "$ROOT/boot/vmlinuz-$kver" "$GUEST/vmlinuz"
  cp "$ROOT/boot/initrd.img-$kver" "$GUEST/initrd.img"
  stamp 3-config
fi

# ------------------------------------------------------------------ 4. disk image
if ! done_ 4-image; then
  step "4. make $IMG_SIZE ext4 image from rootfs (mkfs.ext4 -d)"
  # the images stage 5 loaded lived in the old base.img only: load them again
  rm -f "$GUEST/base.img" "$STAMPS/5-images"
  truncate -s "$IMG_SIZE" "$GUEST/base.img"
  timed mkfs.ext4 -q -F -L ozfsroot -E root_owner=0:0 -d "$ROOT" "$GUEST/base.img" || die "mkfs.ext4 -d failed (see $LOG)"
  stamp 4-image
fi

# ------------------------------------------------------------------ 5. docker images (optional)
# OZFS_IMAGE_TARS="a.tar b.tar": `docker save` tarballs to load into the guest's docker,
# once, by booting base.img read-write (run.sh --persist). Nothing is pulled: the guest
# has no registry either.
if [ -n "${OZFS_IMAGE_TARS:-}" ] && [ "$(cat "$STAMPS/5-images" 2>/dev/null)" != "$OZFS_IMAGE_TARS" ]; then
  step "5. docker load into the guest image: $OZFS_IMAGE_TARS"
  tardir=$OZ/image-tars; rm -rf "$tardir"; mkdir -p "$tardir"
  for t in $OZFS_IMAGE_TARS; do ln -f "$t" "$tardir/" 2>/dev/null || cp "$t" "$tardir/"; done
  t0=$SECONDS
  bash "$HERE/run_guest.sh" --persist --share "$tardir" --timeout 1800 -- \
    'for f in *.tar; do docker load -q -i "$f" || exit 1; done; docker images' >>"$LOG" 2>&1 \
    || die "docker load in the guest failed (see $LOG)"
  step "  took $((SECONDS - t0)) s"
  rm -rf "$tardir"
  echo "$OZFS_IMAGE_TARS" >"$STAMPS/5-images"
fi

step "done: $(du -sh --apparent-size "$GUEST/base.img" | cut -f1) image ($(du -sh "$GUEST/base.img" | cut -f1) on disk), $(tr '\n' ' ' <"$GUEST/versions.txt")"
