#!/usr/bin/env bash
# Usage summary benchmark (GET /api/v1/usage/summary's query) on N usage events.
#   [DAYS=30] [SKIP_LOAD=1] bench/usage/run.sh PSQL_CONNINFO [EVENTS]
#   e.g. bench/usage/run.sh "host=/tmp port=5432 user=postgres" 1000000
# Creates a scratch database llmpool_bench_usage, applies migrations/*.sql, inserts EVENTS events
# over DAYS days in batches of 1,000 rows per INSERT … ON CONFLICT DO NOTHING (as the usage worker
# writes them, so the rollup trigger runs once per batch), then times the summary query on the
# rollup against the same aggregate over the raw events. Traffic is shaped like a real tenant mix:
# 200 users with 2 keys each, 12 models, each model served by 1–2 of 4 upstreams, 3% errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONN=${1:?usage: run.sh PSQL_CONNINFO [EVENTS]}
EVENTS=${2:-1000000}
DAYS=${DAYS:-30} # the events are spread over this many days from 2026-03-01
DB=llmpool_bench_usage
P=(psql "$CONN dbname=$DB" -v ON_ERROR_STOP=1 -qAt)
# SKIP_LOAD=1: time the queries on the database a previous run loaded.
if [[ ${SKIP_LOAD:-0} != 1 ]]; then
psql "$CONN" -qAt -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
for f in migrations/*.sql; do "${P[@]}" -f "$f" >/dev/null; done

# Batches of 1,000, like the worker; created_at spread evenly over DAYS days from 2026-03-01.
start=$(date +%s.%N)
"${P[@]}" <<SQL
DO \$\$
DECLARE b integer;
BEGIN
  FOR b IN 0 .. ($EVENTS - 1) / 1000 LOOP
    INSERT INTO usage_events (created_at, request_id, user_id, key_id, model, upstream_id, upstream_model,
        endpoint, status, stream, prompt_tokens, cached_tokens, completion_tokens, total_tokens, cost,
        latency_ms, ttfb_ms)
    SELECT timestamptz '2026-03-01T00:00:00Z' + (i::float8 / $EVENTS) * interval '$DAYS days',
           'bench-' || i, u, u * 10 + (i % 2), 'model-' || m, 1 + (m + (i % 2) * (m % 2)) % 4, 'up-' || m,
           'chat/completions', CASE WHEN i % 33 = 0 THEN 500 ELSE 200 END, i % 3 = 0,
           200 + i % 800, i % 100, 50 + i % 400, 250 + i % 800 + i % 400, (200 + i % 800) * 0.0000005,
           80 + (i * 7919) % 1500 + CASE WHEN i % 50 = 0 THEN (i * 31) % 20000 ELSE 0 END, 40 + i % 300
    FROM generate_series(b * 1000 + 1::bigint, least((b + 1) * 1000, $EVENTS)) AS i,
         LATERAL (SELECT 1 + (i * 2654435761 % 200)::integer AS u, (i * 40503 % 12)::integer AS m) AS pick
    ON CONFLICT DO NOTHING;
    COMMIT;
  END LOOP;
END
\$\$;
SQL
end=$(date +%s.%N)
"${P[@]}" -c "VACUUM ANALYZE usage_events" -c "VACUUM ANALYZE usage_rollup_hourly"
echo "inserted $EVENTS events in batches of 1000: $(echo "$end - $start" | bc) s"
fi
echo "events: $("${P[@]}" -c 'SELECT count(*) FROM usage_events'), rollup rows: $("${P[@]}" -c 'SELECT count(*) FROM usage_rollup_hourly')"

hist=$(for i in $(seq 1 37); do printf ', sum(latency_histogram[%d])::bigint' "$i"; done)
time_query() { # label, sql — best of 5 runs, server-side execution time
    local best=""
    for _ in 1 2 3 4 5; do
        local ms
        ms=$("${P[@]}" -c "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) $2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
        best=$(python3 -c "print(min(float('$ms'), float('${best:-1e18}')))")
    done
    printf '%-58s %8.1f ms\n' "$1" "$best"
}
summary() { # bucket expr, group expr, extra where
    echo "SELECT GROUPING(b, g), (extract(epoch FROM b) * 1000)::bigint, g, sum(requests)::bigint, sum(errors)::bigint,
      sum(prompt_tokens)::bigint, sum(cached_tokens)::bigint, sum(completion_tokens)::bigint, sum(total_tokens)::bigint,
      coalesce(sum(cost), 0)::text, sum(latency_count)::bigint, sum(latency_sum_ms)::bigint, max(latency_max_ms) $hist
    FROM (SELECT $1 AS b, $2 AS g, * FROM usage_rollup_hourly
          WHERE hour >= '2026-03-01T00:00:00Z' AND hour < '2026-03-31T00:00:00Z' ${3:-}) AS r
    GROUP BY GROUPING SETS ((b, g), ()) ORDER BY 1, 2, 3"
}
raw() { # bucket expr, group expr, extra where
    echo "SELECT $1, $2, count(*), count(*) FILTER (WHERE status >= 400), sum(prompt_tokens), sum(cached_tokens),
      sum(completion_tokens), sum(total_tokens), sum(cost), count(latency_ms), max(latency_ms),
      percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms)
    FROM usage_events WHERE created_at >= '2026-03-01T00:00:00Z' AND created_at < '2026-03-31T00:00:00Z' ${3:-}
    GROUP BY 1, 2"
}
day="date_trunc('day', hour, 'UTC')"
rday="date_trunc('day', created_at, 'UTC')"
rhour="date_trunc('hour', created_at, 'UTC')"
time_query "rollup: 30 days by day, group=model" "$(summary "$day" model)"
time_query "rollup: 30 days by day, group=user" "$(summary "$day" 'user_id::text')"
time_query "rollup: 30 days by hour, no group" "$(summary hour "''")"
time_query "rollup: 30 days by day, group=model, user_id=42" "$(summary "$day" model 'AND user_id = 42')"
time_query "raw events: 30 days by day, group=model" "$(raw "$rday" model)"
time_query "raw events: 30 days by hour, no group" "$(raw "$rhour" 0)"
time_query "raw events: 30 days by day, group=model, user_id=42" "$(raw "$rday" model 'AND user_id = 42')"
