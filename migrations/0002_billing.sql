-- 0002_billing: what the usage pipeline needs on top of 0001 (SPEC §5).
--
-- * api_keys.spent: the key's total spend, for per-key spending caps. Maintained by
--   llmpool_settle_usage() in the same transaction as the spend ledger rows.
-- * llmpool_settle_usage(events jsonb): the usage worker's one statement per batch.

ALTER TABLE api_keys ADD COLUMN spent numeric(38, 9) NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_spent_nonnegative CHECK (spent >= 0);

-- updated_at tracks what an operator changed, not what traffic did: spent and last_used_at move
-- with every batch and must not touch it.
DROP TRIGGER api_keys_touch ON api_keys;
CREATE TRIGGER api_keys_touch
    BEFORE UPDATE OF user_id, name, prefix, key_hash, enabled, revoked_at, expires_at, allowed_models,
                     rpm_limit, tpm_limit, spend_limit
    ON api_keys FOR EACH ROW EXECUTE FUNCTION llmpool_touch_updated_at();

-- ---------------------------------------------------------------------------------------------
-- llmpool_settle_usage: writes a batch of usage events and charges them, exactly once.
--
-- p_events is a JSON array of events as the gateway put them on the Redis Stream (UsageEventJson):
-- request_id, created_at_ms, user_id, key_id, model, upstream_id, upstream_model, endpoint,
-- status, stream, prompt_tokens, cached_tokens, completion_tokens, total_tokens, images,
-- characters, audio_ms, prices (object), cost (decimal string), usage_estimated, latency_ms,
-- ttfb_ms, attempts, error.
--
-- Exactly once: an event is inserted with ON CONFLICT DO NOTHING on (created_at, request_id) —
-- created_at is the event's own time, carried unchanged through stream and spool — and only an
-- event really inserted by this call is charged. The spend ledger row is unique per (user_id,
-- request_id) as well, so even an event replayed with another timestamp cannot charge twice.
--
-- Spending takes from cash first; the rest becomes debt (SPEC §5). Wallets are locked in user id
-- order and keys updated in key id order, so concurrent workers cannot deadlock each other.
--
-- Returns, for every user and key the batch names, the state the admission cache (Redis) needs:
-- rows with key_id NULL are wallets (balance = cash + credit_limit - debt, version = the user's
-- newest ledger entry id); rows with key_id set are key spend totals at that user's version.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION llmpool_settle_usage(p_events jsonb)
RETURNS TABLE (user_id bigint, balance numeric, version bigint, key_id bigint, key_spent numeric)
LANGUAGE plpgsql AS $$
BEGIN
    IF jsonb_typeof(p_events) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'llmpool_settle_usage expects a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    CREATE TEMP TABLE IF NOT EXISTS llmpool_settle_inserted (
        request_id text, user_id bigint, key_id bigint, cost numeric(38, 9), created_at timestamptz
    ) ON COMMIT DELETE ROWS;

    WITH ev AS (
        SELECT * FROM jsonb_to_recordset(p_events) AS e(
            request_id text, created_at_ms bigint, user_id bigint, key_id bigint, model text,
            upstream_id bigint, upstream_model text, endpoint text, status integer, stream boolean,
            prompt_tokens bigint, cached_tokens bigint, completion_tokens bigint, total_tokens bigint,
            images integer, characters bigint, audio_ms bigint, prices jsonb, cost numeric,
            usage_estimated boolean, latency_ms integer, ttfb_ms integer, attempts smallint, error text)
    ), ins AS (
        INSERT INTO usage_events AS u (
            created_at, request_id, user_id, key_id, model, upstream_id, upstream_model, endpoint, status,
            stream, prompt_tokens, cached_tokens, completion_tokens, total_tokens, images, characters,
            seconds, price_snapshot, cost, usage_estimated, latency_ms, ttfb_ms, attempts, error)
        SELECT timestamptz 'epoch' + ev.created_at_ms * interval '1 millisecond', ev.request_id,
               nullif(ev.user_id, 0), nullif(ev.key_id, 0), coalesce(ev.model, ''), nullif(ev.upstream_id, 0),
               nullif(ev.upstream_model, ''), coalesce(ev.endpoint, ''), coalesce(ev.status, 0),
               coalesce(ev.stream, false), coalesce(ev.prompt_tokens, 0), coalesce(ev.cached_tokens, 0),
               coalesce(ev.completion_tokens, 0), coalesce(ev.total_tokens, 0), coalesce(ev.images, 0),
               coalesce(ev.characters, 0), coalesce(ev.audio_ms, 0) / 1000.0,
               CASE WHEN jsonb_typeof(ev.prices) = 'object' THEN ev.prices END, coalesce(ev.cost, 0),
               coalesce(ev.usage_estimated, false), ev.latency_ms, nullif(ev.ttfb_ms, -1),
               coalesce(ev.attempts, 1), nullif(ev.error, '')
        FROM ev
        ON CONFLICT DO NOTHING
        RETURNING u.request_id, u.user_id, u.key_id, u.cost, u.created_at
    )
    INSERT INTO llmpool_settle_inserted SELECT * FROM ins;

    -- Charges, set-based: each user's new costs in request id order, cash first, then debt
    -- (SPEC §5). The wallets are locked in user id order (no deadlock between workers); each
    -- entry's *_after columns come from the running sum of that user's costs before it.
    WITH charges AS (
        SELECT i.user_id, i.request_id, i.cost,
               sum(i.cost) OVER (PARTITION BY i.user_id ORDER BY i.request_id ROWS UNBOUNDED PRECEDING) AS cum
        FROM llmpool_settle_inserted i
        WHERE i.user_id IS NOT NULL AND i.cost > 0
    ), locked AS (
        SELECT w.user_id, w.cash, w.credit_limit, w.debt FROM wallets w
        WHERE w.user_id IN (SELECT c.user_id FROM charges c)
        ORDER BY w.user_id
        FOR UPDATE
    ), entries AS (
        INSERT INTO ledger_entries (user_id, kind, amount, cash_after, credit_limit_after, debt_after,
                                    unique_request_id)
        SELECT c.user_id, 'spend', c.cost, greatest(l.cash - c.cum, 0), l.credit_limit,
               l.debt + greatest(c.cum - l.cash, 0), c.request_id
        FROM charges c JOIN locked l ON l.user_id = c.user_id
        ORDER BY c.user_id, c.request_id
        -- A backstop only: an event inserted just now has no spend entry yet (same request id,
        -- same created_at); the wallet below moves by what was really entered.
        ON CONFLICT ON CONSTRAINT ledger_entries_user_request_unique DO NOTHING
        RETURNING ledger_entries.user_id, ledger_entries.amount
    ), totals AS (
        SELECT e.user_id, sum(e.amount) AS total FROM entries e GROUP BY e.user_id
    )
    UPDATE wallets w
    SET cash = greatest(l.cash - t.total, 0), debt = l.debt + greatest(t.total - l.cash, 0)
    FROM totals t JOIN locked l ON l.user_id = t.user_id
    WHERE w.user_id = t.user_id;

    -- Key spend and last use, in key id order.
    UPDATE api_keys k
    SET spent = k.spent + s.cost, last_used_at = greatest(k.last_used_at, s.last_used)
    FROM (SELECT i.key_id, sum(i.cost) AS cost, max(i.created_at) AS last_used
          FROM llmpool_settle_inserted i WHERE i.key_id IS NOT NULL
          GROUP BY i.key_id ORDER BY i.key_id) s
    WHERE k.id = s.key_id;

    TRUNCATE llmpool_settle_inserted;

    RETURN QUERY
    WITH users_named AS (
        SELECT DISTINCT (e ->> 'user_id')::bigint AS uid FROM jsonb_array_elements(p_events) e
        WHERE (e ->> 'user_id') IS NOT NULL AND (e ->> 'user_id')::bigint > 0
    ), keys_named AS (
        SELECT DISTINCT (e ->> 'key_id')::bigint AS kid FROM jsonb_array_elements(p_events) e
        WHERE (e ->> 'key_id') IS NOT NULL AND (e ->> 'key_id')::bigint > 0
    ), wallet_state AS (
        SELECT w.user_id AS uid, w.cash + w.credit_limit - w.debt AS bal,
               coalesce((SELECT max(l.id) FROM ledger_entries l WHERE l.user_id = w.user_id), 0) AS ver
        FROM wallets w JOIN users_named n ON n.uid = w.user_id
    )
    SELECT ws.uid, ws.bal, ws.ver, NULL::bigint, NULL::numeric FROM wallet_state ws
    UNION ALL
    SELECT k.user_id, NULL::numeric, ws.ver, k.id, k.spent
    FROM api_keys k JOIN keys_named n ON n.kid = k.id JOIN wallet_state ws ON ws.uid = k.user_id;
END
$$;
