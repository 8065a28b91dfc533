#!/usr/bin/env bash
# The data plane's overhead: a small non-streaming chat completion through (1) nothing — the mock
# upstream directly, (2) nginx as a plain reverse proxy, (3) the gateway with a real key check,
# in the same run, alternating. Then 1,000 concurrent SSE streams (40 chunks, 50 ms apart) directly,
# through the gateway (its CPU per stream and peak RSS) and through nginx (its worker's CPU per stream).
#
#   bench/proxy/run.sh [--build DIR] [--duration SECONDS] [--rounds N] [--streams N] [--no-sse]
#                      [--no-reservation] [--baseline LLMPOOL_BINARY] [--perf FILE]
#                      [--hold] [--settle during|after] [--redis-core N]
#
# Billing is on as in production (reservation in Redis before the upstream call, the usage event
# journaled before the response ends and then put on the Redis Stream, the in-process worker
# writing PostgreSQL), all on the gateway's core. --no-reservation turns admission off
# ([billing] reservation = false). --settle after runs no usage worker while wrk runs (the gateway
# still reserves in Redis and puts every event on the Redis Stream); afterwards `llmpool worker`
# drains the stream and the run checks that every request was settled. That separates the data plane from
# PostgreSQL's share of the 2 cores (in production the worker and PostgreSQL are elsewhere;
# bench/pipeline measures the settling alone). Default: during (in-process worker).
# --baseline adds another llmpool binary (e.g. a build of an older commit) as a fourth target,
# measured in the same rounds with the same database and key. --perf FILE records the gateway
# (perf record -g) during its last c=64 run into FILE, for `perf report -i FILE`. --hold sets
# everything up, prints the targets and waits (for profiling by hand) until interrupted.
# --redis-core pins Redis (all its threads) to that core; unpinned by default.
#
# Placement (issue 3): the proxy under test (gateway with 1 event-loop thread, or nginx with 1
# worker) on core 0; wrk and the mock upstream on core 1. Builds nothing: needs the build's
# llmpool, llmpool-mock-openai and llmpool-test-services (which starts a private PostgreSQL and
# Redis), plus wrk, nginx, node, psql and taskset.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
DURATION=10
REDIS_CORE=
ROUNDS=2
STREAMS=1000
SSE=1
RESERVATION=true
BASELINE=
PERF_OUT=
HOLD=0
SETTLE=during
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --redis-core) REDIS_CORE=$2; shift 2 ;;
    --streams) STREAMS=$2; shift 2 ;;
    --no-sse) SSE=0; shift ;;
    --no-reservation) RESERVATION=false; shift ;;
    --baseline) BASELINE=$(realpath "$2"); shift 2 ;;
    --hold) HOLD=1; shift ;;
    --settle) SETTLE=$2; shift 2
        case "$SETTLE" in during|after) ;; *) echo "--settle takes during or after" >&2; exit 2 ;; esac ;;
    --perf) PERF_OUT=$(realpath -m "$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
LLMPOOL=$BUILD/gateway/llmpool
MOCK=$BUILD/tests/mock/llmpool-mock-openai
SERVICES=$BUILD/tests/support/llmpool-test-services
for bin in "$LLMPOOL" "$MOCK" "$SERVICES"; do
    [ -x "$bin" ] || { echo "missing $bin (build the project with tests first)" >&2; exit 1; }
done
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)

TMP=$(mktemp -d /tmp/llmpool-bench-proxy.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$TMP/nginx/nginx.pid" ] && kill "$(cat "$TMP/nginx/nginx.pid")" 2>/dev/null || true
    "$SERVICES" stop "$TMP/services" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

wait_line() { # FILE PATTERN -> prints the port of the first "listening on http://…:PORT" line
    for _ in $(seq 1 200); do
        if grep -qE "$2" "$1" 2>/dev/null; then
            grep -oE "$2" "$1" | head -n 1 | grep -oE '[0-9]+$'
            return 0
        fi
        sleep 0.05
    done
    echo "timed out waiting for $1" >&2
    return 1
}

# 1. PostgreSQL + Redis, a database, the schema, an upstream, a model, a user and a key.
"$SERVICES" start "$TMP/services" >/dev/null
# shellcheck disable=SC1091
. "$TMP/services/services.env"
if [ -n "$REDIS_CORE" ]; then
    taskset -a -p -c "$REDIS_CORE" "$REDIS_PID" >/dev/null
fi
export PGHOST PGPORT PGUSER PGPASSWORD
psql -d postgres -qc "CREATE DATABASE llmpool_bench" >/dev/null
DB_URL="${DATABASE_URL%/*}/llmpool_bench"

taskset -c 1 "$MOCK" --port 0 --threads 1 --api-key sk-upstream-bench --models gpt-4o-mini >"$TMP/mock.log" 2>&1 &
PIDS+=($!)
MOCK_PORT=$(wait_line "$TMP/mock.log" 'listening on http://127.0.0.1:[0-9]+')

cat >"$TMP/llmpool.toml" <<CONF
[server]
threads = 1
[database]
url = "$DB_URL"
[redis]
url = "$REDIS_URL"
[billing]
reservation = $RESERVATION
spool_dir = "$TMP/spool"
[worker]
in_process = $([ "$SETTLE" = during ] && echo true || echo false)
CONF
"$LLMPOOL" migrate --config "$TMP/llmpool.toml" >/dev/null
psql -d llmpool_bench -qc "INSERT INTO upstreams (name, kind, api_base, api_key_encrypted, api_key_format)
    VALUES ('mock', 'openai', 'http://127.0.0.1:$MOCK_PORT/v1', 'sk-upstream-bench', 'plain');
  INSERT INTO models (name, upstream_id, upstream_model, capabilities, input_price_per_1m, output_price_per_1m)
    SELECT 'gpt-4o-mini', id, 'gpt-4o-mini', ARRAY['chat'], 0.15, 0.6 FROM upstreams;" >/dev/null
"$LLMPOOL" admin create-user --config "$TMP/llmpool.toml" --name bench >/dev/null
KEY=$("$LLMPOOL" admin create-api-key bench --config "$TMP/llmpool.toml")
# Cash for every request of the run, deposited through the ledger.
psql -d llmpool_bench -qc "UPDATE wallets SET cash = 1000000;
  INSERT INTO ledger_entries (user_id, kind, amount, cash_after, credit_limit_after, debt_after, unique_request_id)
    SELECT user_id, 'deposit', 1000000, 1000000, 0, 0, 'bench-seed' FROM wallets;" >/dev/null

taskset -c 0 "$LLMPOOL" serve --config "$TMP/llmpool.toml" --bind 127.0.0.1:0 >"$TMP/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=($GATEWAY_PID)
GATEWAY_PORT=$(wait_line "$TMP/gateway.log" 'listening on http://127.0.0.1:[0-9]+')

if [ -n "$BASELINE" ]; then
    # An older binary may not know every key of today's file.
    # Run from $TMP: without spool_dir its spool (the default, relative) lands there, not here.
    grep -v '^spool_dir' "$TMP/llmpool.toml" >"$TMP/baseline.toml"
    (cd "$TMP" && exec taskset -c 0 "$BASELINE" serve --config "$TMP/baseline.toml" --bind 127.0.0.1:0) \
        >"$TMP/baseline.log" 2>&1 &
    PIDS+=($!)
    BASELINE_PORT=$(wait_line "$TMP/baseline.log" 'listening on http://127.0.0.1:[0-9]+')
fi

mkdir -p "$TMP/nginx/logs"
NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer sk-upstream-bench";
            proxy_buffering off;
        }
    }
}
CONF
taskset -c 0 "$NGINX_BIN" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon on;' 2>/dev/null

# Warm-up: the gateway's key cache, catalog and upstream connection; nginx's keep-alive pool.
for _ in $(seq 1 40); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions" \
        -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}')
    [ "$code" = 200 ] && break
    sleep 0.1
done
[ "$code" = 200 ] || { echo "gateway does not answer 200 (got $code)" >&2; tail -20 "$TMP/gateway.log" >&2; exit 1; }

if [ "$HOLD" = 1 ]; then
    echo "direct  http://127.0.0.1:$MOCK_PORT key sk-upstream-bench"
    echo "nginx   http://127.0.0.1:$NGINX_PORT"
    echo "gateway http://127.0.0.1:$GATEWAY_PORT key $KEY pid $GATEWAY_PID"
    echo "services $TMP/services/services.env"
    echo "holding; interrupt to stop"
    while :; do sleep 3600 & wait $!; done
fi

# run_wrk NAME URL KEY CONNS -> "rps p50_us p99_us"
run_wrk() {
    local out
    out=$(BENCH_KEY=$3 BENCH_MODEL=gpt-4o-mini taskset -c 1 wrk -t1 -c"$4" -d"${DURATION}s" --latency \
        -s "$ROOT/bench/proxy/post.lua" "$2/v1/chat/completions" 2>&1)
    local rps p50 p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    echo "$rps $(to_us "$p50") $(to_us "$p99")"
}
to_us() { # wrk prints 85.00us / 1.20ms / 2.00s
    awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else if (v ~ /s$/) print n*1000000; else print n }'
}

declare -A RPS P50 P99
TARGETS=("direct http://127.0.0.1:$MOCK_PORT sk-upstream-bench"
         "nginx http://127.0.0.1:$NGINX_PORT unused"
         "gateway http://127.0.0.1:$GATEWAY_PORT $KEY")
[ -n "$BASELINE" ] && TARGETS+=("baseline http://127.0.0.1:$BASELINE_PORT $KEY")
for round in $(seq 1 "$ROUNDS"); do
    for conns in 1 64; do
        for t in "${TARGETS[@]}"; do
            read -r name url key <<<"$t"
            perf_pid=
            if [ -n "$PERF_OUT" ] && [ "$name" = gateway ] && [ "$conns" = 64 ] && [ "$round" = "$ROUNDS" ]; then
                perf record -q -g -p "$GATEWAY_PID" -o "$PERF_OUT" -- sleep "$((DURATION > 2 ? DURATION - 1 : 1))" >/dev/null 2>&1 &
                perf_pid=$!
            fi
            read -r rps p50 p99 <<<"$(run_wrk "$name" "$url" "$key" "$conns")"
            [ -n "$perf_pid" ] && wait "$perf_pid"
            RPS[$name,$conns]+="$rps "
            P50[$name,$conns]+="$p50 "
            P99[$name,$conns]+="$p99 "
            echo "round $round c=$conns $name: $rps req/s, p50 ${p50} µs, p99 ${p99} µs" >&2
        done
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo
echo "Non-streaming chat completion, medians of $ROUNDS rounds of ${DURATION}s (gateway and nginx on core 0; wrk and mock on core 1)"
printf '| target | c=1 p50 µs | c=1 p99 µs | c=64 req/s | c=64 p50 µs | c=64 p99 µs |\n|---|---:|---:|---:|---:|---:|\n'
NAMES=(direct nginx gateway)
[ -n "$BASELINE" ] && NAMES+=(baseline)
for name in "${NAMES[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s |\n' "$name" \
        "$(echo "${P50[$name,1]}" | median)" "$(echo "${P99[$name,1]}" | median)" \
        "$(echo "${RPS[$name,64]}" | median)" "$(echo "${P50[$name,64]}" | median)" "$(echo "${P99[$name,64]}" | median)"
done
d50=$(echo "${P50[direct,1]}" | median); d99=$(echo "${P99[direct,1]}" | median)
for name in "${NAMES[@]:1}"; do
    echo "$name adds at c=1: p50 +$(awk -v a="$(echo "${P50[$name,1]}" | median)" -v b="$d50" 'BEGIN{print a-b}') µs," \
        "p99 +$(awk -v a="$(echo "${P99[$name,1]}" | median)" -v b="$d99" 'BEGIN{print a-b}') µs"
done
for name in "${NAMES[@]:2}"; do
    echo "$name / nginx throughput at c=64: $(awk -v a="$(echo "${RPS[$name,64]}" | median)" -v b="$(echo "${RPS[nginx,64]}" | median)" 'BEGIN{printf "%.2f", a/b}')"
done

if [ "$SSE" = 1 ]; then
    echo
    echo "$STREAMS concurrent SSE streams, 40 chunks 50 ms apart:"
    ulimit -n 65536 2>/dev/null || true
    direct=$(taskset -c 1 node "$ROOT/bench/proxy/sse.mjs" "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" \
        sk-upstream-bench gpt-4o-mini "$STREAMS" 40 50)
    echo "direct:  $direct"
    ticks=$(getconf CLK_TCK)
    cpu_before=$(awk '{print $14+$15}' "/proc/$GATEWAY_PID/stat")
    via=$(taskset -c 1 node "$ROOT/bench/proxy/sse.mjs" "http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions" \
        "$KEY" gpt-4o-mini "$STREAMS" 40 50)
    cpu_after=$(awk '{print $14+$15}' "/proc/$GATEWAY_PID/stat")
    echo "gateway: $via"
    echo "gateway CPU per stream: $(awk -v d=$((cpu_after - cpu_before)) -v t="$ticks" -v n="$STREAMS" 'BEGIN{printf "%.2f", d*1000/t/n}') ms;" \
        "peak RSS $(awk '/VmHWM/ {print $2 " " $3}' "/proc/$GATEWAY_PID/status")"
    # nginx (its one worker process) through the same streams, for the same figure.
    nginx_worker=$(pgrep -P "$(cat "$TMP/nginx/nginx.pid")" | head -n 1)
    cpu_before=$(awk '{print $14+$15}' "/proc/$nginx_worker/stat")
    via=$(taskset -c 1 node "$ROOT/bench/proxy/sse.mjs" "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" \
        unused gpt-4o-mini "$STREAMS" 40 50)
    cpu_after=$(awk '{print $14+$15}' "/proc/$nginx_worker/stat")
    echo "nginx:   $via"
    echo "nginx CPU per stream: $(awk -v d=$((cpu_after - cpu_before)) -v t="$ticks" -v n="$STREAMS" 'BEGIN{printf "%.2f", d*1000/t/n}') ms"
fi

if [ "$SETTLE" = after ]; then
    echo
    REDIS_CLI=(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning -a "$REDIS_PASSWORD")
    backlog=$("${REDIS_CLI[@]}" XLEN llmpool:usage)
    settled_before=$(psql -d llmpool_bench -Atc "SELECT count(*) FROM usage_events")
    start=$(date +%s.%N)
    "$LLMPOOL" worker --config "$TMP/llmpool.toml" >"$TMP/worker.log" 2>&1 &
    WORKER_PID=$!
    PIDS+=($WORKER_PID)
    deadline=$((SECONDS + 600))
    while [ "$("${REDIS_CLI[@]}" XLEN llmpool:usage)" != 0 ]; do
        [ $SECONDS -lt $deadline ] || { echo "the worker did not drain the stream in 600 s" >&2; exit 1; }
        sleep 0.2
    done
    elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{print e-s}')
    settled=$(( $(psql -d llmpool_bench -Atc "SELECT count(*) FROM usage_events") - settled_before ))
    kill "$WORKER_PID"
    echo "settled after the run: $settled of $backlog queued events in ${elapsed}s" \
        "($(awk -v n="$settled" -v t="$elapsed" 'BEGIN{printf "%.0f", n/t}') events/s, \`llmpool worker\` unpinned)"
    [ "$settled" = "$backlog" ] || { echo "settled $settled events, but $backlog were queued" >&2; exit 1; }
    # Every event with a cost has its spend entry (requests cut by wrk at the end of a run, 499,
    # may cost nothing).
    unpriced=$(psql -d llmpool_bench -Atc "SELECT count(*) FROM usage_events e WHERE e.cost > 0 AND NOT EXISTS
        (SELECT 1 FROM ledger_entries l WHERE l.user_id = e.user_id AND l.unique_request_id = e.request_id)")
    [ "$unpriced" = 0 ] || { echo "$unpriced settled events with a cost have no spend entry" >&2; exit 1; }
    echo "events by status: $(psql -d llmpool_bench -Atc "SELECT string_agg(status || ': ' || n, ', ' ORDER BY status)
        FROM (SELECT status, count(*) n FROM usage_events GROUP BY status) s")"
fi
