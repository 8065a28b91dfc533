#!/usr/bin/env bash
# The set-up-and-run command: from a fresh Debian 12 machine to a running gateway.
#   scripts/quickstart.sh          install, build, start private PostgreSQL + Redis, migrate, serve
#   scripts/quickstart.sh stop     stop the private PostgreSQL and Redis
#
# Everything lives under the state folder (default ./.llmpool, or $LLMPOOL_STATE_DIR): the
# PostgreSQL cluster, the Redis data, generated secrets and the llmpool.toml it writes. No system
# service is touched. Ports are chosen once (free ones near the defaults) and kept in state/ports.env.
# When run as root, PostgreSQL runs as the `postgres` user (initdb refuses root).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${LLMPOOL_STATE_DIR:-$ROOT/.llmpool}
BUILD_DIR=${LLMPOOL_BUILD_DIR:-$ROOT/build}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p=$1
    while ! port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}
log() { echo "quickstart: $*" >&2; }

stop_services() {
    if [ -f "$STATE/pg/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$STATE/pg/data" -m fast stop >/dev/null || true
    fi
    if [ -f "$STATE/redis/redis.pid" ]; then
        kill "$(cat "$STATE/redis/redis.pid")" 2>/dev/null || true
        rm -f "$STATE/redis/redis.pid"
    fi
    log "stopped PostgreSQL and Redis under $STATE"
}

if [ "${1:-}" = "stop" ]; then
    stop_services
    exit 0
fi

# 1. Dependencies and build.
bash "$ROOT/packaging/install-deps.sh"
[ -n "$PGBIN" ] || { echo "quickstart: PostgreSQL binaries not found under /usr/lib/postgresql" >&2; exit 1; }
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMPOOL_BUILD_TESTS=OFF -DLLMPOOL_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target llmpool >&2
LLMPOOL="$BUILD_DIR/gateway/llmpool"

# 2. State folder, ports and secrets (generated once, kept private).
mkdir -p "$STATE"
chmod 700 "$STATE"
if [ ! -f "$STATE/ports.env" ]; then
    PG_PORT=$(pick_port 54329)
    REDIS_PORT=$(pick_port 63799)
    GATEWAY_PORT=$(pick_port 19324)
    printf 'PG_PORT=%s\nREDIS_PORT=%s\nGATEWAY_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" "$GATEWAY_PORT" >"$STATE/ports.env"
fi
# shellcheck disable=SC1091
. "$STATE/ports.env"
if [ ! -f "$STATE/secrets.env" ]; then
    umask 077
    printf 'PG_PASSWORD=%s\nREDIS_PASSWORD=%s\nJWT_SECRET=%s\nENCRYPTION_KEY=%s\n' \
        "$(openssl rand -hex 16)" "$(openssl rand -hex 16)" "$(openssl rand -hex 32)" "$(openssl rand -hex 32)" \
        >"$STATE/secrets.env"
    umask 022
fi
# shellcheck disable=SC1091
. "$STATE/secrets.env"

# 3. PostgreSQL: a private cluster owned by the current user (or postgres, when root).
mkdir -p "$STATE/pg"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$STATE/pg"
    chmod 711 "$STATE"
    if ! runuser -u postgres -- test -x "$STATE/pg"; then
        echo "quickstart: the postgres user cannot reach $STATE; set LLMPOOL_STATE_DIR to a folder it can reach" >&2
        exit 1
    fi
fi
if [ ! -f "$STATE/pg/data/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $STATE/pg/data"
    pwfile=$(mktemp)
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    chmod 644 "$pwfile"
    as_pg "$PGBIN/initdb" -D "$STATE/pg/data" -U llmpool --pwfile="$pwfile" --auth=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$STATE/pg/initdb.log"
    rm -f "$pwfile"
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$STATE/pg/data" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$PGBIN/pg_ctl" -D "$STATE/pg/data" -l "$STATE/pg/postgres.log" -w \
        -o "-p $PG_PORT -k $STATE/pg -c listen_addresses=127.0.0.1" start >/dev/null
fi
export PGPASSWORD=$PG_PASSWORD
if ! psql -h 127.0.0.1 -p "$PG_PORT" -U llmpool -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='llmpool'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U llmpool -d postgres -qc "CREATE DATABASE llmpool" >/dev/null
fi
unset PGPASSWORD

# 4. Redis: private, password-protected, append-only file on (it carries the usage stream).
mkdir -p "$STATE/redis"
if ! { [ -f "$STATE/redis/redis.pid" ] && kill -0 "$(cat "$STATE/redis/redis.pid")" 2>/dev/null; }; then
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    umask 077
    cat >"$STATE/redis/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
requirepass $REDIS_PASSWORD
daemonize yes
pidfile $STATE/redis/redis.pid
logfile $STATE/redis/redis.log
dir $STATE/redis
appendonly yes
appendfsync everysec
CONF
    umask 022
    redis-server "$STATE/redis/redis.conf"
    for _ in $(seq 1 100); do
        redis-cli -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
fi

# 5. Configuration, migrations, an admin token, and the gateway.
CONFIG="$STATE/llmpool.toml"
umask 077
cat >"$CONFIG" <<CONF
# Written by scripts/quickstart.sh; see llmpool.toml.example for every key.
[server]
bind = "127.0.0.1:$GATEWAY_PORT"

[database]
url = "postgres://llmpool:$PG_PASSWORD@127.0.0.1:$PG_PORT/llmpool"

[redis]
url = "redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0"

[admin]
jwt_secret = "$JWT_SECRET"

[security]
encryption_key = "$ENCRYPTION_KEY"

[billing]
spool_dir = "$STATE/spool"
CONF
umask 022

"$LLMPOOL" migrate --config "$CONFIG"
ADMIN_TOKEN=$("$LLMPOOL" admin create-jwt-token --config "$CONFIG" --expire 86400 --subject quickstart)

cat >&2 <<MSG

  LLMPool is starting.
    gateway      http://127.0.0.1:$GATEWAY_PORT   (OpenAI API at /v1 and /openai/v1, admin API at /api/v1)
    config       $CONFIG
    admin token  $ADMIN_TOKEN
                 (valid 24 h; mint another with: $LLMPOOL admin create-jwt-token --config $CONFIG)
    stop         Ctrl-C stops the gateway; scripts/quickstart.sh stop stops PostgreSQL and Redis

MSG
exec "$LLMPOOL" serve --config "$CONFIG"
