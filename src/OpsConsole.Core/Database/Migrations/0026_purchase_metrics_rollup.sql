-- 0026_purchase_metrics_rollup.sql
--
-- A per-minute rollup of what the purchase metrics count, so that every window (15 min to 7 days) reads a few
-- thousand narrow rows instead of every purchase in it (issue 15: the 24-hour window read ~330,000 purchases
-- twice at 10M and took 2.1 s). PurchaseMetricsQuery reads rolled minutes from here and everything else from
-- the tables themselves, so its results are the same as counting the tables directly.
--
-- No purchase writes here: ops.refresh_purchase_metrics() (the console's MetricsRollupService calls it every
-- minute; several instances take turns through an advisory lock) aggregates minutes that are at least 30
-- minutes old, once. So there is no row every purchase updates, nothing added to the purchase path's
-- transactions, and the purchases of the last half hour, the most likely to change, are always counted live.
--
-- A purchase can still change after its minute was rolled up: a card payment arriving late, a reservation
-- expiring, a webhook delivered again (its last_received_at moves), a row written or deleted by hand. The
-- triggers below note the minute in ops.purchase_metrics_dirty when a change touches a row older than 30
-- minutes (their WHEN clauses are evaluated without calling a function, so the purchase path's own writes,
-- all of rows minutes old at most, cost nothing); the query counts such a minute from the tables until the
-- next refresh rolls it up again. A change is caught when the transaction making it started less than 30
-- minutes after the row's time, or later: the refresh leaves out minutes younger than 30 minutes before the
-- oldest transaction running in this database (as far as pg_stat_activity shows it).
--
-- Idempotent; no line holding only a semicolon (DbUp splits there).

CREATE TABLE IF NOT EXISTS ops.purchase_metrics_minutes (
    minute         timestamptz PRIMARY KEY,
    purchases      bigint NOT NULL DEFAULT 0,  -- by created_at, every status
    completed      bigint NOT NULL DEFAULT 0,
    failed         bigint NOT NULL DEFAULT 0,  -- failed, expired or refund_required: ended without a sale
    pending        bigint NOT NULL DEFAULT 0,
    credit_timed   bigint NOT NULL DEFAULT 0,  -- completed credit purchases with a measured duration_ms
    credit_ms      float8 NOT NULL DEFAULT 0,  -- their sum of duration_ms
    checkouts      bigint NOT NULL DEFAULT 0,  -- completed card purchases with completed_at
    checkout_ms    float8 NOT NULL DEFAULT 0,  -- their sum of completed_at - created_at, in ms
    conflicts      bigint NOT NULL DEFAULT 0,  -- audit_logs purchase_conflict, by created_at
    events         bigint NOT NULL DEFAULT 0,  -- stripe_webhook_events, by last_received_at
    deliveries     bigint NOT NULL DEFAULT 0,
    repeats        bigint NOT NULL DEFAULT 0
);

-- Minutes rolled up before a change reached them; read from the tables until refreshed.
CREATE TABLE IF NOT EXISTS ops.purchase_metrics_dirty (
    minute timestamptz PRIMARY KEY
);

-- Everything before rolled_until is rolled up (but the dirty minutes).
CREATE TABLE IF NOT EXISTS ops.purchase_metrics_state (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    rolled_until  timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION ops.purchase_metrics_mark_dirty()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ops, public, pg_temp
AS $fn$
BEGIN
    IF TG_TABLE_NAME = 'stripe_webhook_events' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO ops.purchase_metrics_dirty VALUES (date_trunc('minute', OLD.last_received_at)) ON CONFLICT DO NOTHING;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO ops.purchase_metrics_dirty VALUES (date_trunc('minute', NEW.last_received_at)) ON CONFLICT DO NOTHING;
        END IF;
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO ops.purchase_metrics_dirty VALUES (date_trunc('minute', OLD.created_at)) ON CONFLICT DO NOTHING;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO ops.purchase_metrics_dirty VALUES (date_trunc('minute', NEW.created_at)) ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;

REVOKE ALL ON FUNCTION ops.purchase_metrics_mark_dirty() FROM PUBLIC;

-- Purchases: any change of what the metrics count, to a row older than 30 minutes.
CREATE OR REPLACE TRIGGER marketplace_purchases_metrics_insert
    AFTER INSERT ON public.marketplace_purchases
    FOR EACH ROW WHEN (NEW.created_at < now() - interval '30 minutes')
    EXECUTE FUNCTION ops.purchase_metrics_mark_dirty();

CREATE OR REPLACE TRIGGER marketplace_purchases_metrics_update
    AFTER UPDATE ON public.marketplace_purchases
    FOR EACH ROW WHEN ((OLD.created_at < now() - interval '30 minutes' OR NEW.created_at < now() - interval '30 minutes')
                       AND (OLD.created_at, OLD.status, OLD.payment_method, OLD.duration_ms, OLD.completed_at)
                           IS DISTINCT FROM (NEW.created_at, NEW.status, NEW.payment_method, NEW.duration_ms, NEW.completed_at))
    EXECUTE FUNCTION ops.purchase_metrics_mark_dirty();

CREATE OR REPLACE TRIGGER marketplace_purchases_metrics_delete
    AFTER DELETE ON public.marketplace_purchases
    FOR EACH ROW WHEN (OLD.created_at < now() - interval '30 minutes')
    EXECUTE FUNCTION ops.purchase_metrics_mark_dirty();

-- Conflicts: audit rows are only inserted (a back-dated one would be late).
CREATE OR REPLACE TRIGGER audit_logs_metrics_insert
    AFTER INSERT ON public.audit_logs
    FOR EACH ROW WHEN (NEW.action = 'purchase_conflict' AND NEW.created_at < now() - interval '30 minutes')
    EXECUTE FUNCTION ops.purchase_metrics_mark_dirty();

-- Webhook events: a repeated delivery moves the event from its old minute to now.
CREATE OR REPLACE TRIGGER stripe_webhook_events_metrics_insert
    AFTER INSERT ON public.stripe_webhook_events
    FOR EACH ROW WHEN (NEW.last_received_at < now() - interval '30 minutes')
    EXECUTE FUNCTION ops.purchase_metrics_mark_dirty();

CREATE OR REPLACE TRIGGER stripe_webhook_events_metrics_update
    AFTER UPDATE ON public.stripe_webhook_events
    FOR EACH ROW WHEN ((OLD.last_received_at < now() - interval '30 minutes' OR NEW.last_received_at < now() - interval '30 minutes')
                       AND (OLD.last_received_at, OLD.deliveries) IS DISTINCT FROM (NEW.last_received_at, NEW.deliveries))
    EXECUTE FUNCTION ops.purchase_metrics_mark_dirty();

CREATE OR REPLACE TRIGGER stripe_webhook_events_metrics_delete
    AFTER DELETE ON public.stripe_webhook_events
    FOR EACH ROW WHEN (OLD.last_received_at < now() - interval '30 minutes')
    EXECUTE FUNCTION ops.purchase_metrics_mark_dirty();


-- Rolls up the minutes that became old enough (at most p_max_span of them per call, so a first run over a
-- long history proceeds in chunks) and re-rolls the dirty ones. Returns true when minutes old enough remain
-- (call again), false when caught up, NULL when another session is refreshing right now.
CREATE OR REPLACE FUNCTION ops.refresh_purchase_metrics(p_max_span interval DEFAULT interval '1 day')
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ops, public, pg_temp
AS $fn$
DECLARE
    v_horizon timestamptz;
    v_from    timestamptz;
    v_to      timestamptz;
    v_dirty   timestamptz[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('ops.refresh_purchase_metrics')) THEN
        RETURN NULL;
    END IF;

    -- 30 minutes before now, or before the oldest running transaction: one that started earlier may still
    -- commit a change its trigger did not mark (the marking is relative to its start).
    SELECT date_trunc('minute', least(clock_timestamp(), min(a.xact_start))) - interval '30 minutes'
      INTO v_horizon
      FROM pg_stat_activity AS a
     WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend';
    v_horizon := coalesce(v_horizon, date_trunc('minute', clock_timestamp()) - interval '30 minutes');

    SELECT s.rolled_until INTO v_from FROM ops.purchase_metrics_state AS s;
    IF v_from IS NULL THEN
        SELECT date_trunc('minute', least(
                   (SELECT min(p.created_at) FROM public.marketplace_purchases AS p),
                   (SELECT min(a.created_at) FROM public.audit_logs AS a WHERE a.action = 'purchase_conflict'),
                   (SELECT min(e.last_received_at) FROM public.stripe_webhook_events AS e),
                   v_horizon))
          INTO v_from;
    END IF;
    v_to := greatest(v_from, least(v_horizon, v_from + p_max_span));

    -- Dirty minutes before v_to are recomputed now: those already rolled one by one, the others with the range.
    WITH d AS (DELETE FROM ops.purchase_metrics_dirty AS d WHERE d.minute < v_to RETURNING d.minute)
    SELECT coalesce(array_agg(d.minute) FILTER (WHERE d.minute < v_from), '{}') INTO v_dirty FROM d;

    DELETE FROM ops.purchase_metrics_minutes AS m
     WHERE (m.minute >= v_from AND m.minute < v_to) OR m.minute = ANY (v_dirty);

    WITH spans (lo, hi) AS (
        SELECT v_from, v_to WHERE v_from < v_to
        UNION ALL
        SELECT d, d + interval '1 minute' FROM unnest(v_dirty) AS d
    ), p AS (
        SELECT date_trunc('minute', p.created_at) AS minute,
               count(*) AS purchases,
               count(*) FILTER (WHERE p.status = 'completed') AS completed,
               count(*) FILTER (WHERE p.status IN ('failed', 'expired', 'refund_required')) AS failed,
               count(*) FILTER (WHERE p.status = 'pending') AS pending,
               count(p.duration_ms) FILTER (WHERE p.status = 'completed' AND p.payment_method = 'credits') AS credit_timed,
               coalesce(sum(p.duration_ms::float8) FILTER (WHERE p.status = 'completed' AND p.payment_method = 'credits'), 0) AS credit_ms,
               count(*) FILTER (WHERE p.status = 'completed' AND p.payment_method = 'stripe' AND p.completed_at IS NOT NULL) AS checkouts,
               coalesce(sum(date_part('epoch', p.completed_at - p.created_at) * 1000)
                   FILTER (WHERE p.status = 'completed' AND p.payment_method = 'stripe' AND p.completed_at IS NOT NULL), 0) AS checkout_ms
          FROM spans AS s
          JOIN public.marketplace_purchases AS p ON p.created_at >= s.lo AND p.created_at < s.hi
         GROUP BY 1
    ), c AS (
        SELECT date_trunc('minute', a.created_at) AS minute, count(*) AS conflicts
          FROM spans AS s
          JOIN public.audit_logs AS a ON a.action = 'purchase_conflict' AND a.created_at >= s.lo AND a.created_at < s.hi
         GROUP BY 1
    ), w AS (
        SELECT date_trunc('minute', e.last_received_at) AS minute,
               count(*) AS events, sum(e.deliveries) AS deliveries, sum(e.deliveries - 1) AS repeats
          FROM spans AS s
          JOIN public.stripe_webhook_events AS e ON e.last_received_at >= s.lo AND e.last_received_at < s.hi
         GROUP BY 1
    )
    INSERT INTO ops.purchase_metrics_minutes
        (minute, purchases, completed, failed, pending, credit_timed, credit_ms, checkouts, checkout_ms,
         conflicts, events, deliveries, repeats)
    SELECT minute, coalesce(p.purchases, 0), coalesce(p.completed, 0), coalesce(p.failed, 0), coalesce(p.pending, 0),
           coalesce(p.credit_timed, 0), coalesce(p.credit_ms, 0), coalesce(p.checkouts, 0), coalesce(p.checkout_ms, 0),
           coalesce(c.conflicts, 0), coalesce(w.events, 0), coalesce(w.deliveries, 0), coalesce(w.repeats, 0)
      FROM p FULL JOIN c USING (minute) FULL JOIN w USING (minute);

    INSERT INTO ops.purchase_metrics_state AS s (id, rolled_until) VALUES (true, v_to)
    ON CONFLICT (id) DO UPDATE SET rolled_until = excluded.rolled_until;

    RETURN v_to < v_horizon;
END
$fn$;

REVOKE ALL ON FUNCTION ops.refresh_purchase_metrics(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.refresh_purchase_metrics(interval) TO opsconsole_runtime;
GRANT SELECT ON ops.purchase_metrics_minutes, ops.purchase_metrics_dirty, ops.purchase_metrics_state TO opsconsole_runtime;
