#!/usr/bin/env bash
# The usage pipeline alone (issue 4): events per second from the Redis Stream into PostgreSQL —
# usage rows, spend ledger rows, wallet and key updates, the Redis wallet sync — by `llmpool
# worker` at several concurrencies, on a private PostgreSQL + Redis.
#
#   bench/pipeline/run.sh [--build DIR] [--events N] [--users N] [--batch N] [--concurrency "1 2 4"]
#
# The stream is filled first (redis-cli --pipe), then one worker drains it; the clock runs from
# the worker's start to the last event committed. Builds nothing: needs the build's llmpool and
# llmpool-test-services, plus psql, redis-cli and awk.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
EVENTS=100000
USERS=1000
BATCH=200
CONCURRENCY="1 2 4"
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
LLMPOOL=$BUILD/gateway/llmpool
SERVICES=$BUILD/tests/support/llmpool-test-services
for bin in "$LLMPOOL" "$SERVICES"; do
    [ -x "$bin" ] || { echo "missing $bin (build the project with tests first)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/llmpool-bench-pipeline.XXXXXX)
chmod 755 "$TMP"
WORKER=
cleanup() {
    [ -n "$WORKER" ] && kill "$WORKER" 2>/dev/null || true
    "$SERVICES" stop "$TMP/services" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

"$SERVICES" start "$TMP/services" >/dev/null
# shellcheck disable=SC1091
. "$TMP/services/services.env"
export PGHOST PGPORT PGUSER PGPASSWORD
REDIS_CLI=(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning -a "$REDIS_PASSWORD")

for c in $CONCURRENCY; do
    db=llmpool_bench_pipeline_$c
    psql -d postgres -qc "CREATE DATABASE $db" >/dev/null
    cat >"$TMP/llmpool.toml" <<CONF
[database]
url = "${DATABASE_URL%/*}/$db"
pool_size = 8
[redis]
url = "$REDIS_URL"
[worker]
batch_size = $BATCH
CONF
    "$LLMPOOL" migrate --config "$TMP/llmpool.toml" >/dev/null
    # Users with cash, a key each; deposits through the ledger so reconcile holds.
    psql -d "$db" -qc "
        INSERT INTO users (id, name) SELECT g, 'u' || g FROM generate_series(1, $USERS) g;
        INSERT INTO wallets (user_id, cash) SELECT g, 1000000 FROM generate_series(1, $USERS) g;
        INSERT INTO ledger_entries (user_id, kind, amount, cash_after, credit_limit_after, debt_after, unique_request_id)
            SELECT g, 'deposit', 1000000, 1000000, 0, 0, 'seed-' || g FROM generate_series(1, $USERS) g;
        INSERT INTO api_keys (id, user_id, name, prefix, key_hash)
            SELECT g, g, 'k', 'sk-lp-' || g, encode(sha256(g::text::bytea), 'hex') FROM generate_series(1, $USERS) g;" >/dev/null
    "${REDIS_CLI[@]}" DEL llmpool:usage >/dev/null
    # The events, as the gateway writes them (UsageEventJson), straight onto the stream.
    now_ms=$(date +%s%3N)
    awk -v n="$EVENTS" -v users="$USERS" -v c="$c" -v t0="$now_ms" 'BEGIN {
        for (i = 1; i <= n; i++) {
            u = 1 + (i * 7919) % users
            e = sprintf("{\"request_id\":\"req_bench_%d_%d\",\"created_at_ms\":%d,\"user_id\":%d,\"key_id\":%d," \
                "\"model\":\"gpt-4o-mini\",\"upstream_id\":1,\"upstream_model\":\"gpt-4o-mini\",\"endpoint\":\"chat/completions\"," \
                "\"status\":200,\"stream\":false,\"prompt_tokens\":120,\"cached_tokens\":0,\"completion_tokens\":80," \
                "\"total_tokens\":200,\"images\":0,\"characters\":0,\"audio_ms\":0,\"cost\":\"0.000066000\"," \
                "\"usage_estimated\":false,\"latency_ms\":300,\"ttfb_ms\":120,\"attempts\":1}", c, i, t0 + i, u, u)
            printf "*5\r\n$4\r\nXADD\r\n$13\r\nllmpool:usage\r\n$1\r\n*\r\n$1\r\ne\r\n$%d\r\n%s\r\n", length(e), e
        }
    }' | "${REDIS_CLI[@]}" --pipe >/dev/null
    queued=$("${REDIS_CLI[@]}" XLEN llmpool:usage)
    start=$(date +%s%N)
    "$LLMPOOL" worker --config "$TMP/llmpool.toml" --concurrency "$c" >"$TMP/worker-$c.log" 2>&1 &
    WORKER=$!
    while :; do
        done_rows=$(psql -d "$db" -Atqc "SELECT count(*) FROM usage_events")
        [ "$done_rows" -ge "$EVENTS" ] && break
        kill -0 "$WORKER" 2>/dev/null || { echo "worker died:" >&2; tail "$TMP/worker-$c.log" >&2; exit 1; }
        sleep 0.2
    done
    end=$(date +%s%N)
    kill "$WORKER"; wait "$WORKER" 2>/dev/null || true; WORKER=
    spends=$(psql -d "$db" -Atqc "SELECT count(*) FROM ledger_entries WHERE kind = 'spend'")
    reconcile=$("$LLMPOOL" billing reconcile --config "$TMP/llmpool.toml" >/dev/null 2>&1 && echo ok || echo DRIFT)
    awk -v n="$EVENTS" -v ns=$((end - start)) -v c="$c" -v q="$queued" -v s="$spends" -v r="$reconcile" -v b="$BATCH" \
        'BEGIN { printf "concurrency %d, batch %d: %d events (%d queued) in %.2f s = %.0f events/s; %d spend rows; reconcile %s\n", c, b, n, q, ns/1e9, n/(ns/1e9), s, r }'
done
