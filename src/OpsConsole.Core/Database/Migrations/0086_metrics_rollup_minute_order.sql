-- 0086_metrics_rollup_minute_order.sql
--
-- ops.refresh_purchase_metrics (0026) writes its minutes in minute order. It inserted them in the order its
-- aggregate produced them, a hash order: after a catch-up (a first refresh over a long history, or one after the
-- console was stopped for a while) a day's 1,440 rows lay in random heap order, so a window reading the rolled
-- minutes by their primary key touched one heap page per minute: 20,160 pages for the 7-day window and the 7 days
-- before it, instead of about 400 (issue 15, benchmark 3 at 10M purchases: 26,574 buffers for the 7-day counts).
-- The refresh of a running console rolls about one minute a call and was in order already. Only the ORDER BY is
-- new; everything else is 0026's function as it was.
--
-- Runs as opsconsole_owner, which owns the function (0030); its grants are 0026's, repeated.
-- Idempotent; no line holding only a semicolon (DbUp splits there).

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
      FROM p FULL JOIN c USING (minute) FULL JOIN w USING (minute)
     ORDER BY minute;

    INSERT INTO ops.purchase_metrics_state AS s (id, rolled_until) VALUES (true, v_to)
    ON CONFLICT (id) DO UPDATE SET rolled_until = excluded.rolled_until;

    RETURN v_to < v_horizon;
END
$fn$;

REVOKE ALL ON FUNCTION ops.refresh_purchase_metrics(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.refresh_purchase_metrics(interval) TO opsconsole_runtime;
