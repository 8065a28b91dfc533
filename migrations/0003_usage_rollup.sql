-- 0003: hourly usage rollup for GET /api/v1/usage/summary (SPEC §6).
--
-- The summary must stay fast on hundreds of millions of usage events, so it never scans
-- usage_events: it reads usage_rollup_hourly, one row per (UTC hour, public model, user, key,
-- upstream) with counts, sums and a fixed latency histogram. Rows are kept current by a
-- STATEMENT-level AFTER INSERT trigger on usage_events with a transition table: a batch insert of
-- N events (the billing worker's INSERT … ON CONFLICT DO NOTHING) updates the rollup once, with one
-- INSERT … ON CONFLICT DO UPDATE per statement. Only rows really inserted appear in the transition
-- table, so a redelivered event (a conflict) is not counted twice; tests/admin/TestUsageApi checks
-- this on the partitioned table.
--
-- What the rollup does not follow, on purpose:
-- * Rows moved between partitions by usage_events_create_partitions() (DELETE from the default
--   partition, INSERT into the new one directly): statement triggers on the parent do not fire for
--   statements on a partition, and the move changes nothing in the totals.
-- * Retention (usage_events_drop_partitions) drops raw events but keeps their hourly aggregates:
--   the summary still covers old months, the event list no longer does.
-- * Usage events are append-only; nothing updates or deletes them through the parent table.
--
-- user_id / key_id / upstream_id are 0 where the event has NULL (ids are > 0), so the key is a
-- plain primary key that ON CONFLICT can infer.

-- Lower edges (milliseconds) of the latency buckets after the first: bucket 1 is [0, 5), bucket k
-- is [edge[k-1], edge[k]), the last one is [600000, ∞). Roughly log-spaced, so a percentile read
-- from the histogram is within one bucket's width of the truth (interpolated inside the bucket).
-- The API reads the edges from here (UsageAdminRepository); changing them needs a new migration
-- that rebuilds the histograms.
CREATE FUNCTION usage_latency_edges() RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1250, 1500,
                 2000, 2500, 3000, 4000, 5000, 7500, 10000, 15000, 20000, 30000, 45000, 60000, 90000,
                 120000, 180000, 300000, 600000]
$$;

CREATE TABLE usage_rollup_hourly (
    hour              timestamptz NOT NULL, -- start of the UTC hour
    model             text NOT NULL,        -- public model name
    user_id           bigint NOT NULL DEFAULT 0,
    key_id            bigint NOT NULL DEFAULT 0,
    upstream_id       bigint NOT NULL DEFAULT 0,
    requests          bigint NOT NULL DEFAULT 0,
    errors            bigint NOT NULL DEFAULT 0, -- status >= 400
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    cached_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    total_tokens      bigint NOT NULL DEFAULT 0,
    cost              numeric(38, 9) NOT NULL DEFAULT 0,
    latency_count     bigint NOT NULL DEFAULT 0, -- events with a latency (the histogram's total)
    latency_sum_ms    bigint NOT NULL DEFAULT 0,
    latency_max_ms    integer,
    latency_histogram bigint[] NOT NULL,
    CONSTRAINT usage_rollup_hourly_pkey PRIMARY KEY (hour, model, user_id, key_id, upstream_id),
    CONSTRAINT usage_rollup_hourly_histogram_size
        CHECK (cardinality(latency_histogram) = cardinality(usage_latency_edges()) + 1)
)
-- Every batch updates the current hour's rows again. Room left in each page lets those updates
-- stay HOT (no indexed column changes: no index writes) and reuse the page once pruned, instead of
-- spreading a row's dead versions over new pages that every summary would then have to read; and
-- vacuum comes early, since the table is small and its rows churn.
WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);

-- The primary key serves time ranges (every summary has one). One more index, for the common
-- per-user view over a long range; the other filters (key, upstream, model) read the range and
-- filter it: every index here is paid for on each batch the trigger applies.
CREATE INDEX usage_rollup_hourly_user_idx ON usage_rollup_hourly (user_id, hour);

-- Written out bucket by bucket (FILTERed counts, element-wise sums) rather than with array
-- functions: plain aggregates and operators keep the trigger's cost per batch small.
CREATE FUNCTION usage_rollup_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Keys in a fixed order: two workers' batches touching the same rollup rows lock them in the
    -- same order, so they wait for each other instead of deadlocking.
    INSERT INTO usage_rollup_hourly AS r
        (hour, model, user_id, key_id, upstream_id, requests, errors, prompt_tokens, cached_tokens,
         completion_tokens, total_tokens, cost, latency_count, latency_sum_ms, latency_max_ms, latency_histogram)
    SELECT e.hour, e.model, e.user_id, e.key_id, e.upstream_id, count(*), count(*) FILTER (WHERE e.status >= 400),
           sum(e.prompt_tokens), sum(e.cached_tokens), sum(e.completion_tokens), sum(e.total_tokens), sum(e.cost),
           count(e.latency_ms), coalesce(sum(e.latency_ms), 0), max(e.latency_ms),
           ARRAY[count(*) FILTER (WHERE e.b = 1), count(*) FILTER (WHERE e.b = 2), count(*) FILTER (WHERE e.b = 3),
               count(*) FILTER (WHERE e.b = 4), count(*) FILTER (WHERE e.b = 5), count(*) FILTER (WHERE e.b = 6),
               count(*) FILTER (WHERE e.b = 7), count(*) FILTER (WHERE e.b = 8), count(*) FILTER (WHERE e.b = 9),
               count(*) FILTER (WHERE e.b = 10), count(*) FILTER (WHERE e.b = 11), count(*) FILTER (WHERE e.b = 12),
               count(*) FILTER (WHERE e.b = 13), count(*) FILTER (WHERE e.b = 14), count(*) FILTER (WHERE e.b = 15),
               count(*) FILTER (WHERE e.b = 16), count(*) FILTER (WHERE e.b = 17), count(*) FILTER (WHERE e.b = 18),
               count(*) FILTER (WHERE e.b = 19), count(*) FILTER (WHERE e.b = 20), count(*) FILTER (WHERE e.b = 21),
               count(*) FILTER (WHERE e.b = 22), count(*) FILTER (WHERE e.b = 23), count(*) FILTER (WHERE e.b = 24),
               count(*) FILTER (WHERE e.b = 25), count(*) FILTER (WHERE e.b = 26), count(*) FILTER (WHERE e.b = 27),
               count(*) FILTER (WHERE e.b = 28), count(*) FILTER (WHERE e.b = 29), count(*) FILTER (WHERE e.b = 30),
               count(*) FILTER (WHERE e.b = 31), count(*) FILTER (WHERE e.b = 32), count(*) FILTER (WHERE e.b = 33),
               count(*) FILTER (WHERE e.b = 34), count(*) FILTER (WHERE e.b = 35), count(*) FILTER (WHERE e.b = 36),
               count(*) FILTER (WHERE e.b = 37)]
    FROM (SELECT date_trunc('hour', created_at, 'UTC') AS hour, model, coalesce(user_id, 0) AS user_id,
                 coalesce(key_id, 0) AS key_id, coalesce(upstream_id, 0) AS upstream_id, status, prompt_tokens,
                 cached_tokens, completion_tokens, total_tokens, cost, latency_ms,
                 width_bucket(latency_ms, usage_latency_edges()) + 1 AS b
          FROM usage_events_inserted) AS e
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, model, user_id, key_id, upstream_id) DO UPDATE SET
        requests = r.requests + excluded.requests,
        errors = r.errors + excluded.errors,
        prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
        cached_tokens = r.cached_tokens + excluded.cached_tokens,
        completion_tokens = r.completion_tokens + excluded.completion_tokens,
        total_tokens = r.total_tokens + excluded.total_tokens,
        cost = r.cost + excluded.cost,
        latency_count = r.latency_count + excluded.latency_count,
        latency_sum_ms = r.latency_sum_ms + excluded.latency_sum_ms,
        latency_max_ms = greatest(r.latency_max_ms, excluded.latency_max_ms),
        latency_histogram = ARRAY[
            r.latency_histogram[1] + excluded.latency_histogram[1], r.latency_histogram[2] + excluded.latency_histogram[2],
            r.latency_histogram[3] + excluded.latency_histogram[3], r.latency_histogram[4] + excluded.latency_histogram[4],
            r.latency_histogram[5] + excluded.latency_histogram[5], r.latency_histogram[6] + excluded.latency_histogram[6],
            r.latency_histogram[7] + excluded.latency_histogram[7], r.latency_histogram[8] + excluded.latency_histogram[8],
            r.latency_histogram[9] + excluded.latency_histogram[9], r.latency_histogram[10] + excluded.latency_histogram[10],
            r.latency_histogram[11] + excluded.latency_histogram[11], r.latency_histogram[12] + excluded.latency_histogram[12],
            r.latency_histogram[13] + excluded.latency_histogram[13], r.latency_histogram[14] + excluded.latency_histogram[14],
            r.latency_histogram[15] + excluded.latency_histogram[15], r.latency_histogram[16] + excluded.latency_histogram[16],
            r.latency_histogram[17] + excluded.latency_histogram[17], r.latency_histogram[18] + excluded.latency_histogram[18],
            r.latency_histogram[19] + excluded.latency_histogram[19], r.latency_histogram[20] + excluded.latency_histogram[20],
            r.latency_histogram[21] + excluded.latency_histogram[21], r.latency_histogram[22] + excluded.latency_histogram[22],
            r.latency_histogram[23] + excluded.latency_histogram[23], r.latency_histogram[24] + excluded.latency_histogram[24],
            r.latency_histogram[25] + excluded.latency_histogram[25], r.latency_histogram[26] + excluded.latency_histogram[26],
            r.latency_histogram[27] + excluded.latency_histogram[27], r.latency_histogram[28] + excluded.latency_histogram[28],
            r.latency_histogram[29] + excluded.latency_histogram[29], r.latency_histogram[30] + excluded.latency_histogram[30],
            r.latency_histogram[31] + excluded.latency_histogram[31], r.latency_histogram[32] + excluded.latency_histogram[32],
            r.latency_histogram[33] + excluded.latency_histogram[33], r.latency_histogram[34] + excluded.latency_histogram[34],
            r.latency_histogram[35] + excluded.latency_histogram[35], r.latency_histogram[36] + excluded.latency_histogram[36],
            r.latency_histogram[37] + excluded.latency_histogram[37]];
    RETURN NULL;
END
$$;

-- CREATE TRIGGER locks usage_events against writes until this migration commits, so the backfill
-- below sees every event inserted before, and the trigger every event inserted after.
CREATE TRIGGER usage_events_rollup
    AFTER INSERT ON usage_events
    REFERENCING NEW TABLE AS usage_events_inserted
    FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_apply();

INSERT INTO usage_rollup_hourly
    (hour, model, user_id, key_id, upstream_id, requests, errors, prompt_tokens, cached_tokens,
     completion_tokens, total_tokens, cost, latency_count, latency_sum_ms, latency_max_ms, latency_histogram)
SELECT e.hour, e.model, e.user_id, e.key_id, e.upstream_id, count(*), count(*) FILTER (WHERE e.status >= 400),
       sum(e.prompt_tokens), sum(e.cached_tokens), sum(e.completion_tokens), sum(e.total_tokens), sum(e.cost),
       count(e.latency_ms), coalesce(sum(e.latency_ms), 0), max(e.latency_ms),
       ARRAY[count(*) FILTER (WHERE e.b = 1), count(*) FILTER (WHERE e.b = 2), count(*) FILTER (WHERE e.b = 3),
           count(*) FILTER (WHERE e.b = 4), count(*) FILTER (WHERE e.b = 5), count(*) FILTER (WHERE e.b = 6),
           count(*) FILTER (WHERE e.b = 7), count(*) FILTER (WHERE e.b = 8), count(*) FILTER (WHERE e.b = 9),
           count(*) FILTER (WHERE e.b = 10), count(*) FILTER (WHERE e.b = 11), count(*) FILTER (WHERE e.b = 12),
           count(*) FILTER (WHERE e.b = 13), count(*) FILTER (WHERE e.b = 14), count(*) FILTER (WHERE e.b = 15),
           count(*) FILTER (WHERE e.b = 16), count(*) FILTER (WHERE e.b = 17), count(*) FILTER (WHERE e.b = 18),
           count(*) FILTER (WHERE e.b = 19), count(*) FILTER (WHERE e.b = 20), count(*) FILTER (WHERE e.b = 21),
           count(*) FILTER (WHERE e.b = 22), count(*) FILTER (WHERE e.b = 23), count(*) FILTER (WHERE e.b = 24),
           count(*) FILTER (WHERE e.b = 25), count(*) FILTER (WHERE e.b = 26), count(*) FILTER (WHERE e.b = 27),
           count(*) FILTER (WHERE e.b = 28), count(*) FILTER (WHERE e.b = 29), count(*) FILTER (WHERE e.b = 30),
           count(*) FILTER (WHERE e.b = 31), count(*) FILTER (WHERE e.b = 32), count(*) FILTER (WHERE e.b = 33),
           count(*) FILTER (WHERE e.b = 34), count(*) FILTER (WHERE e.b = 35), count(*) FILTER (WHERE e.b = 36),
           count(*) FILTER (WHERE e.b = 37)]
FROM (SELECT date_trunc('hour', created_at, 'UTC') AS hour, model, coalesce(user_id, 0) AS user_id,
             coalesce(key_id, 0) AS key_id, coalesce(upstream_id, 0) AS upstream_id, status, prompt_tokens,
             cached_tokens, completion_tokens, total_tokens, cost, latency_ms,
             width_bucket(latency_ms, usage_latency_edges()) + 1 AS b
      FROM usage_events) AS e
GROUP BY 1, 2, 3, 4, 5;
