#!/usr/bin/env bash
# GET /healthz throughput and latency: LLMPool's HTTP server against nginx, with wrk.
#
#   bench/healthz/run.sh --server BUILD/bench/healthz/llmpool-bench-healthz   # bench the HTTP layer alone
#   bench/healthz/run.sh --url http://127.0.0.1:8080/healthz                # an already-running gateway
#
# Options: --duration SECONDS (10), --connections "1 64", --no-nginx, --modes "pinned shared".
# Modes: pinned = server on core 0 (1 thread / 1 nginx worker), wrk on core 1;
#        shared = server on every core (threads = cores, nginx workers = cores), wrk unpinned.
# (--url servers are not started here, so they are not pinned; wrk still runs on the last core.)
# Builds nothing. Needs wrk, nginx (nginx-light), taskset, curl. nginx runs as the current user
# from a temporary prefix and is stopped at the end, as is the bench server.
set -euo pipefail

SERVER=""
URL=""
DURATION=10
CONNECTIONS="1 64"
MODES="pinned shared"
NGINX=1
while [[ $# -gt 0 ]]; do
    case "$1" in
    --server) SERVER="$2"; shift 2 ;;
    --url) URL="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --no-nginx) NGINX=0; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
if [[ -z "$SERVER" && -z "$URL" ]]; then
    echo "give --server PATH (llmpool-bench-healthz) or --url URL" >&2
    exit 2
fi
for tool in wrk taskset curl; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
if [[ $NGINX -eq 1 && ! -x "$NGINX_BIN" ]]; then
    echo "nginx not found; use --no-nginx" >&2
    exit 2
fi

CORES=$(nproc)
LAST=$((CORES - 1))
TMP=$(mktemp -d /tmp/llmpool-bench-healthz.XXXXXX)
SERVER_PID=""
NGINX_PID=""
BENCH_URL=""

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
stop_nginx() {
    if [[ -n "$NGINX_PID" ]]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=""
    fi
}
cleanup() {
    stop_server
    stop_nginx
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

wait_ready() { # url
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "not answering: $1" >&2
    return 1
}

# start_ours CPUS THREADS -> sets SERVER_PID and BENCH_URL
start_ours() {
    : >"$TMP/server.out"
    taskset -c "$1" "$SERVER" --port 0 --threads "$2" >"$TMP/server.out" 2>"$TMP/server.err" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        grep -q '^listening on' "$TMP/server.out" && break
        sleep 0.05
    done
    local port
    port=$(sed -n 's/^listening on \([0-9]*\).*/\1/p' "$TMP/server.out")
    [[ -n "$port" ]] || { echo "bench server did not start" >&2; cat "$TMP/server.err" >&2; exit 1; }
    BENCH_URL="http://127.0.0.1:$port/healthz"
    wait_ready "$BENCH_URL"
}

# start_nginx CPUS WORKERS -> sets NGINX_PID and BENCH_URL
start_nginx() {
    local port user_line=""
    port=$(free_port)
    mkdir -p "$TMP/nginx/logs"
    [[ $(id -u) -eq 0 ]] && user_line="user root;"
    cat >"$TMP/nginx/nginx.conf" <<EOF
$user_line
worker_processes $2;
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
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$port reuseport;
        location = /healthz {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
}
EOF
    taskset -c "$1" "$NGINX_BIN" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr" &
    NGINX_PID=$!
    BENCH_URL="http://127.0.0.1:$port/healthz"
    wait_ready "$BENCH_URL" || { cat "$TMP/nginx/stderr" >&2; exit 1; }
}

to_us() { # wrk latency ("85.00us", "1.20ms", "2.00s") -> microseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) printf "%.0f", n
        else if (v ~ /ms$/) printf "%.0f", n * 1000
        else if (v ~ /s$/) printf "%.0f", n * 1000000
        else printf "%s", v }'
}

declare -A RPS
RESULTS="$TMP/results.txt"
: >"$RESULTS"

# bench NAME MODE URL CONNS WRK_CPUS
bench() {
    local name=$1 mode=$2 url=$3 conns=$4 cpus=$5 threads=1 out rps p50 p99
    [[ $mode == shared && $conns -ge $CORES ]] && threads=$CORES
    out=$(taskset -c "$cpus" wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency "$url")
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
        echo "  warning ($name $mode c=$conns): $(grep 'Non-2xx\|Socket errors' <<<"$out" | tr -s ' ')" >&2
    fi
    RPS["$name/$mode/$conns"]=$rps
    printf '%-8s %-7s %5s %12s %10s %10s\n' "$name" "$mode" "$conns" "$rps" "$p50" "$p99" | tee -a "$RESULTS"
}

echo "wrk ${DURATION}s per run, $CORES cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-8s %-7s %5s %12s %10s %10s\n' target mode conns req/s p50_us p99_us

if [[ -n "$URL" ]]; then
    wait_ready "$URL"
    for c in $CONNECTIONS; do bench gateway given "$URL" "$c" "$LAST"; done
    if [[ $NGINX -eq 1 ]]; then
        start_nginx "0-$LAST" "$CORES"
        for c in $CONNECTIONS; do bench nginx given "$BENCH_URL" "$c" "$LAST"; done
        stop_nginx
    fi
    for c in $CONNECTIONS; do
        [[ $NGINX -eq 1 && -n "${RPS[nginx/given/$c]:-}" && "${RPS[nginx/given/$c]}" -gt 0 ]] &&
            awk -v a="${RPS[gateway/given/$c]}" -v b="${RPS[nginx/given/$c]}" -v c="$c" \
                'BEGIN { printf "ratio gateway/nginx c=%s: %.2f\n", c, a / b }'
    done
    exit 0
fi

for mode in $MODES; do
    if [[ $mode == pinned ]]; then
        srv_cpus=0; srv_threads=1; wrk_cpus=$LAST
    else
        srv_cpus="0-$LAST"; srv_threads=$CORES; wrk_cpus="0-$LAST"
    fi
    # Alternate the two servers per connection count: this machine is shared and noisy.
    for c in $CONNECTIONS; do
        start_ours "$srv_cpus" "$srv_threads"
        bench llmpool "$mode" "$BENCH_URL" "$c" "$wrk_cpus"
        stop_server
        if [[ $NGINX -eq 1 ]]; then
            start_nginx "$srv_cpus" "$srv_threads"
            bench nginx "$mode" "$BENCH_URL" "$c" "$wrk_cpus"
            stop_nginx
        fi
    done
done

if [[ $NGINX -eq 1 ]]; then
    for mode in $MODES; do
        for c in $CONNECTIONS; do
            awk -v a="${RPS[llmpool/$mode/$c]}" -v b="${RPS[nginx/$mode/$c]}" -v m="$mode" -v c="$c" \
                'BEGIN { if (b > 0) printf "ratio llmpool/nginx %s c=%s: %.2f\n", m, c, a / b }'
        done
    done
fi
