#!/usr/bin/env bash
# Proof that main holds no value of the source (docs/masking.md): searches every file under
# main's mountpoint and a `zfs send` stream of each of main's snapshots (what a clone or a
# push carries) for each value given; prints where one is found.
#
#   bash scripts/mask_verify.sh <pool> <value>...     # as root; exit 0: none found, 1: found
#
# Values are searched as bytes (grep -F): pick a few that are in the source and long enough
# not to appear by chance (an e-mail domain, a surname, a street).
set -euo pipefail

if [ "$#" -lt 2 ]; then
  echo "usage: $0 <pool> <value>..." >&2
  exit 2
fi
pool=$1
shift
data="$pool/data"
mountpoint=$(zfs get -H -o value mountpoint "$data")
snapshots=$(zfs list -H -o name -t snapshot -r "$data" | grep "^$data@" || true)

found=0
for value in "$@"; do
  if files=$(grep -rlaF -- "$value" "$mountpoint"); then
    while IFS= read -r f; do echo "FOUND '$value' in $f"; done <<<"$files"
    found=1
  fi
  for snapshot in $snapshots; do
    # grep -q ends the send early (SIGPIPE): its answer is grep's, not the pipeline's
    if (set +o pipefail; zfs send "$snapshot" | grep -qaF -- "$value"); then
      echo "FOUND '$value' in a zfs send of $snapshot"
      found=1
    fi
  done
done
if [ "$found" = 0 ]; then
  echo "none of $# value(s) found in $mountpoint or in a send of $(wc -w <<<"$snapshots") snapshot(s)"
fi
exit "$found"
