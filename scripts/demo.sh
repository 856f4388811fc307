#!/usr/bin/env bash
# The main job end to end on a fresh Debian machine (as root): sets up Deno, zfs-fuse,
# docker and a PostgreSQL image, then runs zvpg on a file-backed pool of its own:
# init, data, snapshot, branch, isolation, stop/start, delete, status. Cleans up at the end
# (keep everything with ZVPG_DEMO_KEEP=1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure_deno.sh
bash scripts/setup_env.sh

DEMO=${ZVPG_DEMO_DIR:-/tmp/zvpg-demo}
POOL=zvpg_demo
export ZVPG_CONFIG_DIR="$DEMO/config"
export PGPASSFILE="$ZVPG_CONFIG_DIR/pgpass"
zvpg() { deno run --allow-all "$PWD/main.ts" "$@"; }
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

cleanup() {
  [ "${ZVPG_DEMO_KEEP:-0}" = 1 ] && { echo "kept $DEMO (pool $POOL)"; return; }
  docker ps -aq --filter "label=zvpg.pool=$POOL" | xargs -r docker rm -f >/dev/null
  zpool destroy -f "$POOL" 2>/dev/null || true
  rm -rf "$DEMO"
}
trap cleanup EXIT
cleanup
mkdir -p "$ZVPG_CONFIG_DIR"
cat >"$ZVPG_CONFIG_DIR/config.json" <<JSON
{
  "zfsPool": "$POOL",
  "mountDir": "$DEMO/mnt",
  "pgBaseImage": "${ZVPG_IMAGE:-localhost/zvpg-postgres:17}",
  "branchPortStart": 6501,
  "branchPortEnd": 6599,
  "logDir": "$DEMO/log",
  "zfsPoolSize": "4G"
}
JSON

run zvpg init env
run zvpg init check
MAIN=$(zvpg branch info main -f json | jq -r .port)
run psql -h 127.0.0.1 -p "$MAIN" -U postgres -c "CREATE TABLE users (id serial primary key, name text); INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 100000) g;"
run zvpg snapshot create baseline -m "Initial production state"
run zvpg branch create feature/user-auth --from baseline
PORT=$(zvpg branch info feature/user-auth | grep "PostgreSQL Port" | awk '{print $3}')
run psql -h localhost -p "$PORT" -U postgres -c "ALTER TABLE users ADD COLUMN email text; DELETE FROM users WHERE id > 10;"
run psql -h localhost -p "$PORT" -U postgres -Atc "SELECT 'branch has ' || count(*) || ' users' FROM users"
run psql -h localhost -p "$MAIN" -U postgres -Atc "SELECT 'main still has ' || count(*) || ' users' FROM users"
run zvpg branch snapshot feature/user-auth milestone-1 -m "User authentication milestone"
run zvpg branch list
run zvpg snapshot list
run zvpg branch stop feature/user-auth
run zvpg branch start feature/user-auth
run zvpg status system
run zvpg status health
run zvpg snapshot delete milestone-1
run zvpg branch delete feature/user-auth
run zvpg branch list -f json
echo
echo "demo finished: every step above ran against real ZFS, docker and PostgreSQL"
