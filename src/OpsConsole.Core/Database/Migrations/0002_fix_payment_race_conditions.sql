-- 0002_fix_payment_race_conditions.sql
--
-- The `fix_payment_race_conditions` migration of the deployment guide: five functions
-- that make a lead purchase one atomic, lock-ordered step, so that no lead is sold twice
-- and no credit is spent or earned twice, whatever runs concurrently.
--
-- Public surface (names, arguments, result columns, SQLSTATEs) is fixed by the marketplace
-- database contract; the core library maps results by SQLSTATE only:
--   22023  bad input               MK404  lead, purchase or buyer does not exist
--   MK403  buyer owns the lead     MK409  lead not available / purchase in the wrong state
--   55P03  another transaction holds a lead row right now (PostgreSQL's own, retried)
--
-- Lock order, the same in every function, is what keeps them free of deadlocks:
--   purchase row -> lead rows (by id, NOWAIT) -> workspace_credits rows (by workspace_id).
-- Lead rows are never waited for by the purchase functions: contention surfaces at once as
-- 55P03, which the core library retries with backoff.
--
-- Every UPDATE repeats its guard (e.g. "still reserved by this purchase") on the row it
-- changes, not only on a row read earlier: under READ COMMITTED a row changed by a
-- concurrent commit is re-checked against the UPDATE's own WHERE clause only.
--
-- The reservation lasts 15 minutes unless the setting marketplace.reservation_ttl says
-- otherwise (ALTER DATABASE ... SET, or set_config(..., true) inside a transaction).
-- audit_logs.actor is marketplace.actor when the caller sets it, else the session user.
--
-- Runs under psql (-v ON_ERROR_STOP=1) and DbUp (variables disabled, one transaction per
-- script); re-running it is a no-op. No line holds only a semicolon (DbUp splits there).

-- Cluster-wide role; two databases migrated at once may race to create it.
DO $role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$role$;


-- Marks the given leads sold for the purchase that reserves them: all of them, or none.
CREATE OR REPLACE FUNCTION public.mark_leads_sold_bulk(p_purchase_id uuid, p_lead_ids uuid[])
RETURNS int
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    v_marked   uuid[];
    v_unmarked uuid[];
BEGIN
    IF p_purchase_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'mark_leads_sold_bulk: purchase id is NULL';
    END IF;
    IF p_lead_ids IS NULL OR cardinality(p_lead_ids) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'mark_leads_sold_bulk: lead id list is NULL or empty';
    END IF;
    IF array_position(p_lead_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'mark_leads_sold_bulk: lead id list contains NULL';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(p_lead_ids) AS x) <> cardinality(p_lead_ids) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('mark_leads_sold_bulk: duplicate lead ids in %s', p_lead_ids);
    END IF;

    WITH sold AS (
        UPDATE leads AS l
           SET marketplace_status      = 'sold',
               sold_count              = l.sold_count + 1,
               sold_at                 = now(),
               first_sold_at           = coalesce(l.first_sold_at, now()),
               reserved_by_purchase_id = NULL,
               reserved_until          = NULL
         WHERE l.id = ANY (p_lead_ids)
           AND l.reserved_by_purchase_id = p_purchase_id
           AND l.marketplace_status = 'reserved'
        RETURNING l.id
    )
    SELECT array_agg(sold.id) INTO v_marked FROM sold;

    IF coalesce(cardinality(v_marked), 0) <> cardinality(p_lead_ids) THEN
        SELECT array_agg(x ORDER BY x) INTO v_unmarked
          FROM unnest(p_lead_ids) AS x
         WHERE x <> ALL (coalesce(v_marked, '{}'));
        -- Raising undoes the UPDATE above: none of the leads is marked.
        RAISE EXCEPTION USING ERRCODE = 'MK409',
            MESSAGE = format('mark_leads_sold_bulk: leads %s are not reserved by purchase %s',
                             v_unmarked, p_purchase_id);
    END IF;

    RETURN cardinality(v_marked);
END
$fn$;


-- Checks the leads, then creates a pending purchase holding them for the reservation time.
CREATE OR REPLACE FUNCTION public.validate_and_lock_leads_for_purchase(
    p_buyer_workspace_id uuid,
    p_lead_ids uuid[],
    p_payment_method text)
RETURNS TABLE (purchase_id uuid, total_price numeric, lead_count int)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    v_now            timestamptz := clock_timestamp();
    v_ttl            interval;
    -- Time-ordered (UUID version 7 layout: milliseconds since the epoch, then random bits), so
    -- new purchases and their items append to their primary-key indexes instead of dirtying a
    -- random index page each: less WAL per purchase. Still unique and unguessable enough.
    v_purchase_id    uuid := encode(
                                set_bit(set_bit(
                                    overlay(uuid_send(gen_random_uuid())
                                            PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                                            FROM 1 FOR 6),
                                    52, 1), 53, 1),
                                'hex')::uuid;
    v_total          numeric(12,2);
    v_count          int;
    v_ids            uuid[];
    v_own            uuid[];
    v_rejected       uuid[];
    v_taken_over     uuid[];
    v_actor          text := coalesce(nullif(current_setting('marketplace.actor', true), ''), session_user);
BEGIN
    IF p_buyer_workspace_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'buyer workspace id is NULL';
    END IF;
    IF p_lead_ids IS NULL OR cardinality(p_lead_ids) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'lead id list is NULL or empty';
    END IF;
    IF array_ndims(p_lead_ids) <> 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'lead id list must be a one-dimensional array';
    END IF;
    IF array_position(p_lead_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'lead id list contains NULL';
    END IF;
    IF cardinality(p_lead_ids) > 100 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s leads requested; at most 100 can be bought at once', cardinality(p_lead_ids));
    END IF;
    SELECT array_agg(DISTINCT x ORDER BY x) INTO v_ids FROM unnest(p_lead_ids) AS x;
    IF cardinality(v_ids) <> cardinality(p_lead_ids) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('duplicate lead ids in %s', p_lead_ids);
    END IF;
    IF p_payment_method IS NULL OR p_payment_method NOT IN ('credits', 'stripe') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('unknown payment method %L (expected credits or stripe)', p_payment_method);
    END IF;

    v_ttl := coalesce(nullif(current_setting('marketplace.reservation_ttl', true), '')::interval,
                      interval '15 minutes');
    IF v_ttl <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('marketplace.reservation_ttl must be positive, is %s', v_ttl);
    END IF;

    IF NOT EXISTS (SELECT 1 FROM workspaces AS w WHERE w.id = p_buyer_workspace_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'MK404',
            MESSAGE = format('buyer workspace %s does not exist', p_buyer_workspace_id);
    END IF;

    -- In id order, so two buyers of overlapping sets meet on the same first row; NOWAIT,
    -- so the loser learns at once (55P03) instead of queueing behind a checkout.
    PERFORM 1 FROM leads AS l WHERE l.id = ANY (v_ids) ORDER BY l.id FOR UPDATE NOWAIT;

    -- One read of the locked rows (a new snapshot, so it sees what their last writer
    -- committed) answers every check. Available: listed, priced, never sold, and either free
    -- or held by a reservation that is no longer live (past its time, or its purchase is no
    -- longer pending). "IS NOT TRUE" makes any unknown (NULL) count as unavailable.
    SELECT count(*),
           array_agg(l.id ORDER BY l.id) FILTER (WHERE l.workspace_id = p_buyer_workspace_id),
           array_agg(l.id ORDER BY l.id) FILTER (WHERE (
               l.is_marketplace_listed
               AND l.marketplace_price IS NOT NULL
               AND l.sold_count = 0
               AND (l.marketplace_status = 'available'
                    OR (l.marketplace_status = 'reserved'
                        AND NOT (coalesce(l.reserved_until > v_now, false)
                                 AND EXISTS (SELECT 1 FROM marketplace_purchases AS p
                                              WHERE p.id = l.reserved_by_purchase_id
                                                AND p.status = 'pending'))))) IS NOT TRUE),
           array_agg(DISTINCT l.reserved_by_purchase_id) FILTER (WHERE l.reserved_by_purchase_id IS NOT NULL),
           sum(l.marketplace_price)
      INTO v_count, v_own, v_rejected, v_taken_over, v_total
      FROM leads AS l
     WHERE l.id = ANY (v_ids);

    IF v_count <> cardinality(v_ids) THEN
        SELECT array_agg(x ORDER BY x) INTO v_rejected
          FROM unnest(v_ids) AS x
         WHERE NOT EXISTS (SELECT 1 FROM leads AS l WHERE l.id = x);
        RAISE EXCEPTION USING ERRCODE = 'MK404', MESSAGE = format('leads %s do not exist', v_rejected);
    END IF;
    IF v_own IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'MK403',
            MESSAGE = format('workspace %s cannot buy its own leads %s', p_buyer_workspace_id, v_own);
    END IF;
    IF v_rejected IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'MK409',
            MESSAGE = format('leads %s are not available (unlisted, unpriced, sold or reserved)', v_rejected);
    END IF;

    -- The purchase, its items (the price is fixed here: a later price change does not change
    -- what this checkout pays), the reservation and its audit row, in one statement. Leads
    -- taken over from expired reservations keep their old purchases pending until
    -- release_expired_lead_reservations expires them; touching those here would lock rows
    -- outside this call's id-ordered set.
    WITH purchase AS (
        INSERT INTO marketplace_purchases
            (id, buyer_workspace_id, status, payment_method, total_price, reserved_until, updated_at)
        VALUES
            (v_purchase_id, p_buyer_workspace_id, 'pending', p_payment_method, v_total, v_now + v_ttl, v_now)
    ), items AS (
        INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price)
        SELECT v_purchase_id, l.id, l.marketplace_price
          FROM leads AS l
         WHERE l.id = ANY (v_ids)
         ORDER BY l.id
    ), reserved AS (
        UPDATE leads AS l
           SET marketplace_status      = 'reserved',
               reserved_by_purchase_id = v_purchase_id,
               reserved_until          = v_now + v_ttl
         WHERE l.id = ANY (v_ids)
    )
    INSERT INTO audit_logs (action, workspace_id, actor, details)
    VALUES ('purchase_reserved', p_buyer_workspace_id, v_actor,
            jsonb_build_object(
                'purchase_id', v_purchase_id,
                'lead_ids', to_jsonb(v_ids),
                'total', v_total,
                'payment_method', p_payment_method,
                'reserved_until', v_now + v_ttl,
                'taken_over_from', to_jsonb(coalesce(v_taken_over, '{}'))));

    RETURN QUERY SELECT v_purchase_id, v_total::numeric, cardinality(v_ids);
END
$fn$;


-- Pays a pending credits purchase: buyer pays, sellers earn, leads are sold; or, without
-- enough balance, the purchase fails and frees its leads (a result, not an error, so the
-- failure is committed and recorded).
CREATE OR REPLACE FUNCTION public.complete_credit_lead_purchase(p_purchase_id uuid)
RETURNS TABLE (purchase_id uuid, status text, buyer_balance numeric)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    v_purchase  record;
    v_lead_ids  uuid[];
    v_lost      uuid[];
    v_balance   numeric(12,2);
    v_sellers   jsonb;
    v_actor     text := coalesce(nullif(current_setting('marketplace.actor', true), ''), session_user);
BEGIN
    IF p_purchase_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'purchase id is NULL';
    END IF;

    -- Waits for a concurrent completion of the same purchase, then sees its outcome.
    SELECT p.*, p.xmin AS created_by_xid INTO v_purchase
      FROM marketplace_purchases AS p WHERE p.id = p_purchase_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MK404', MESSAGE = format('purchase %s does not exist', p_purchase_id);
    END IF;
    IF v_purchase.payment_method <> 'credits' THEN
        RAISE EXCEPTION USING ERRCODE = 'MK409',
            MESSAGE = format('purchase %s is paid by %s, not credits', p_purchase_id, v_purchase.payment_method);
    END IF;
    IF v_purchase.status <> 'pending' THEN
        RAISE EXCEPTION USING ERRCODE = 'MK409',
            MESSAGE = format('purchase %s is %s, not pending', p_purchase_id, v_purchase.status);
    END IF;

    -- Its leads, locked in id order. When this very transaction made the reservation (the core
    -- library's one-round-trip credit purchase), they are locked already, and locking them
    -- again would only add WAL to every purchase. A reservation past its time may have been
    -- taken over by another buyer: the check below reads that after the locks.
    IF v_purchase.created_by_xid IS DISTINCT FROM (txid_current() % 4294967296)::text::xid THEN
        PERFORM 1 FROM leads AS l
         WHERE l.id IN (SELECT i.lead_id FROM marketplace_purchase_items AS i WHERE i.purchase_id = p_purchase_id)
         ORDER BY l.id
           FOR UPDATE NOWAIT;
    END IF;

    SELECT array_agg(l.id ORDER BY l.id),
           array_agg(l.id ORDER BY l.id) FILTER (
               WHERE l.marketplace_status <> 'reserved' OR l.reserved_by_purchase_id IS DISTINCT FROM p_purchase_id)
      INTO v_lead_ids, v_lost
      FROM marketplace_purchase_items AS i
      JOIN leads AS l ON l.id = i.lead_id
     WHERE i.purchase_id = p_purchase_id;
    IF v_lost IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'MK409',
            MESSAGE = format('purchase %s no longer holds leads %s (its reservation expired)', p_purchase_id, v_lost);
    END IF;

    -- Buyer and sellers together, in workspace_id order: a buyer here may be a seller in a
    -- concurrent purchase, and a fixed order is what prevents a deadlock between the two.
    -- A missing buyer row is a balance of 0.
    SELECT coalesce(max(c.balance) FILTER (WHERE c.workspace_id = v_purchase.buyer_workspace_id), 0)
      INTO v_balance
      FROM (SELECT c.workspace_id, c.balance
              FROM workspace_credits AS c
             WHERE c.workspace_id = v_purchase.buyer_workspace_id
                OR c.workspace_id IN (SELECT l.workspace_id FROM leads AS l WHERE l.id = ANY (v_lead_ids))
             ORDER BY c.workspace_id
               FOR UPDATE) AS c;

    IF v_balance < v_purchase.total_price THEN
        WITH failed AS (
            UPDATE marketplace_purchases AS p
               SET status = 'failed', updated_at = clock_timestamp()
             WHERE p.id = p_purchase_id
        ), freed AS (
            UPDATE leads AS l
               SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL
             WHERE l.id = ANY (v_lead_ids)
               AND l.reserved_by_purchase_id = p_purchase_id
               AND l.marketplace_status = 'reserved'
        )
        INSERT INTO audit_logs (action, workspace_id, actor, details)
        VALUES ('purchase_failed', v_purchase.buyer_workspace_id, v_actor,
                jsonb_build_object(
                    'purchase_id', p_purchase_id,
                    'reason', 'insufficient_credits',
                    'total', v_purchase.total_price,
                    'buyer_balance', v_balance,
                    'lead_ids', to_jsonb(v_lead_ids),
                    'payment_method', v_purchase.payment_method));

        RETURN QUERY SELECT p_purchase_id, 'insufficient_credits'::text, v_balance::numeric;
        RETURN;
    END IF;

    -- Every credit movement in one statement, rows in workspace_id order: the buyer pays the
    -- total (balance down, used up), each seller earns what its leads cost at reservation time
    -- (the item prices). A seller without a credit row gets one. A buyer without one only gets
    -- here for a free purchase, and then gets a zero row.
    WITH moves (workspace_id, balance, total_used, total_earned) AS (
        SELECT v_purchase.buyer_workspace_id, -v_purchase.total_price, v_purchase.total_price, 0::numeric
        UNION ALL
        SELECT l.workspace_id, sum(i.price), 0::numeric, sum(i.price)
          FROM marketplace_purchase_items AS i
          JOIN leads AS l ON l.id = i.lead_id
         WHERE i.purchase_id = p_purchase_id
         GROUP BY l.workspace_id
    ), moved AS (
        INSERT INTO workspace_credits AS c (workspace_id, balance, total_used, total_earned, updated_at)
        SELECT m.workspace_id, m.balance, m.total_used, m.total_earned, clock_timestamp()
          FROM moves AS m
         ORDER BY m.workspace_id
        ON CONFLICT (workspace_id) DO UPDATE
           SET balance      = c.balance + excluded.balance,
               total_used   = c.total_used + excluded.total_used,
               total_earned = c.total_earned + excluded.total_earned,
               updated_at   = excluded.updated_at
        RETURNING c.workspace_id, c.balance
    )
    SELECT (SELECT m.balance FROM moved AS m WHERE m.workspace_id = v_purchase.buyer_workspace_id),
           (SELECT jsonb_object_agg(s.workspace_id, s.balance) FROM moves AS s WHERE s.workspace_id <> v_purchase.buyer_workspace_id)
      INTO v_balance, v_sellers;

    PERFORM mark_leads_sold_bulk(p_purchase_id, v_lead_ids);

    WITH completed AS (
        UPDATE marketplace_purchases AS p
           SET status = 'completed', completed_at = clock_timestamp(), updated_at = clock_timestamp()
         WHERE p.id = p_purchase_id
    )
    INSERT INTO audit_logs (action, workspace_id, actor, details)
    VALUES ('purchase_completed', v_purchase.buyer_workspace_id, v_actor,
            jsonb_build_object(
                'purchase_id', p_purchase_id,
                'total', v_purchase.total_price,
                'lead_ids', to_jsonb(v_lead_ids),
                'payment_method', v_purchase.payment_method,
                'buyer_balance', v_balance,
                'seller_credits', v_sellers));

    RETURN QUERY SELECT p_purchase_id, 'completed'::text, v_balance::numeric;
END
$fn$;


-- Handles a payment_intent.succeeded webhook for a stripe purchase, exactly once per event.
CREATE OR REPLACE FUNCTION public.complete_stripe_lead_purchase(
    p_purchase_id uuid,
    p_stripe_event_id text,
    p_payment_intent_id text)
RETURNS TABLE (purchase_id uuid, status text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    v_first       boolean;
    v_purchase    marketplace_purchases%ROWTYPE;
    v_lead_ids    uuid[];
    v_conflicting uuid[];
    v_now         timestamptz := clock_timestamp();
    v_sellers     jsonb;
    v_actor       text := coalesce(nullif(current_setting('marketplace.actor', true), ''), session_user);
BEGIN
    IF p_purchase_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'purchase id is NULL';
    END IF;
    IF p_stripe_event_id IS NULL OR btrim(p_stripe_event_id) = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'stripe event id is NULL or blank';
    END IF;
    IF p_payment_intent_id IS NULL OR btrim(p_payment_intent_id) = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'payment intent id is NULL or blank';
    END IF;

    -- The event row is the idempotency key: a concurrent delivery of the same event waits
    -- here on the row and then counts as a repeat. xmax = 0 only on a freshly inserted row.
    INSERT INTO stripe_webhook_events AS e (event_id, type, purchase_id, payment_intent_id)
    VALUES (p_stripe_event_id, 'payment_intent.succeeded', p_purchase_id, p_payment_intent_id)
    ON CONFLICT (event_id) DO UPDATE
       SET deliveries = e.deliveries + 1, last_received_at = clock_timestamp()
    RETURNING (e.xmax = 0) INTO v_first;

    IF NOT v_first THEN
        RETURN QUERY SELECT p_purchase_id, 'duplicate'::text;
        RETURN;
    END IF;

    SELECT * INTO v_purchase FROM marketplace_purchases AS p WHERE p.id = p_purchase_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MK404', MESSAGE = format('purchase %s does not exist', p_purchase_id);
    END IF;
    IF v_purchase.payment_method <> 'stripe' THEN
        RAISE EXCEPTION USING ERRCODE = 'MK409',
            MESSAGE = format('purchase %s is paid by %s, not stripe', p_purchase_id, v_purchase.payment_method);
    END IF;
    IF v_purchase.status = 'failed' THEN
        RAISE EXCEPTION USING ERRCODE = 'MK409', MESSAGE = format('purchase %s has failed', p_purchase_id);
    END IF;
    IF v_purchase.status = 'completed' THEN
        RETURN QUERY SELECT p_purchase_id, 'already_completed'::text;
        RETURN;
    END IF;
    IF v_purchase.status = 'refund_required' THEN
        RETURN QUERY SELECT p_purchase_id, 'refund_required'::text;
        RETURN;
    END IF;

    -- pending or expired: the card is charged, so sell the leads if they can still be had.
    PERFORM 1 FROM leads AS l
     WHERE l.id IN (SELECT i.lead_id FROM marketplace_purchase_items AS i WHERE i.purchase_id = p_purchase_id)
     ORDER BY l.id
       FOR UPDATE NOWAIT;

    SELECT array_agg(i.lead_id ORDER BY i.lead_id) INTO v_lead_ids
      FROM marketplace_purchase_items AS i WHERE i.purchase_id = p_purchase_id;

    -- A lead can still be had if this purchase holds it, or if nobody does: listed, never
    -- sold, and free or held only by a reservation that is no longer live (the same rule
    -- validate_and_lock_leads_for_purchase applies to a new checkout).
    SELECT array_agg(l.id ORDER BY l.id) INTO v_conflicting
      FROM leads AS l
     WHERE l.id = ANY (v_lead_ids)
       AND ((l.marketplace_status = 'reserved' AND l.reserved_by_purchase_id = p_purchase_id AND l.sold_count = 0)
            OR (l.is_marketplace_listed
                AND l.sold_count = 0
                AND (l.marketplace_status = 'available'
                     OR (l.marketplace_status = 'reserved'
                         AND NOT (coalesce(l.reserved_until > v_now, false)
                                  AND EXISTS (SELECT 1 FROM marketplace_purchases AS p
                                               WHERE p.id = l.reserved_by_purchase_id
                                                 AND p.status = 'pending')))))) IS NOT TRUE;

    IF v_conflicting IS NOT NULL THEN
        UPDATE marketplace_purchases AS p
           SET status = 'refund_required',
               stripe_payment_intent_id = p_payment_intent_id,
               stripe_event_id = p_stripe_event_id,
               updated_at = clock_timestamp()
         WHERE p.id = p_purchase_id;

        UPDATE leads AS l
           SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL
         WHERE l.id = ANY (v_lead_ids)
           AND l.reserved_by_purchase_id = p_purchase_id
           AND l.marketplace_status = 'reserved';

        INSERT INTO audit_logs (action, workspace_id, actor, details)
        VALUES ('purchase_refund_required', v_purchase.buyer_workspace_id, v_actor,
                jsonb_build_object(
                    'purchase_id', p_purchase_id,
                    'payment_intent_id', p_payment_intent_id,
                    'event_id', p_stripe_event_id,
                    'total', v_purchase.total_price,
                    'previous_status', v_purchase.status,
                    'conflicting_lead_ids', to_jsonb(v_conflicting)));

        RETURN QUERY SELECT p_purchase_id, 'refund_required'::text;
        RETURN;
    END IF;

    -- Hold the free leads for this purchase again, so that mark_leads_sold_bulk's single
    -- rule ("reserved by this purchase") covers both the on-time and the late payment.
    UPDATE leads AS l
       SET marketplace_status = 'reserved', reserved_by_purchase_id = p_purchase_id, reserved_until = v_now
     WHERE l.id = ANY (v_lead_ids)
       AND l.reserved_by_purchase_id IS DISTINCT FROM p_purchase_id;

    -- Sellers earn the item prices; the buyer paid by card, so its credits are untouched.
    PERFORM 1 FROM workspace_credits AS c
     WHERE c.workspace_id IN (SELECT l.workspace_id FROM leads AS l WHERE l.id = ANY (v_lead_ids))
     ORDER BY c.workspace_id
       FOR UPDATE;

    WITH earned AS (
        SELECT l.workspace_id, sum(i.price) AS amount
          FROM marketplace_purchase_items AS i
          JOIN leads AS l ON l.id = i.lead_id
         WHERE i.purchase_id = p_purchase_id
         GROUP BY l.workspace_id
    ), credited AS (
        INSERT INTO workspace_credits AS c (workspace_id, balance, total_earned, updated_at)
        SELECT e.workspace_id, e.amount, e.amount, clock_timestamp()
          FROM earned AS e
         ORDER BY e.workspace_id
        ON CONFLICT (workspace_id) DO UPDATE
           SET balance      = c.balance + excluded.total_earned,
               total_earned = c.total_earned + excluded.total_earned,
               updated_at   = excluded.updated_at
    )
    SELECT jsonb_object_agg(e.workspace_id, e.amount) INTO v_sellers FROM earned AS e;

    PERFORM mark_leads_sold_bulk(p_purchase_id, v_lead_ids);

    UPDATE marketplace_purchases AS p
       SET status = 'completed',
           completed_at = clock_timestamp(),
           stripe_payment_intent_id = p_payment_intent_id,
           stripe_event_id = p_stripe_event_id,
           updated_at = clock_timestamp()
     WHERE p.id = p_purchase_id;

    INSERT INTO audit_logs (action, workspace_id, actor, details)
    VALUES ('purchase_completed', v_purchase.buyer_workspace_id, v_actor,
            jsonb_build_object(
                'purchase_id', p_purchase_id,
                'total', v_purchase.total_price,
                'lead_ids', to_jsonb(v_lead_ids),
                'payment_method', v_purchase.payment_method,
                'payment_intent_id', p_payment_intent_id,
                'event_id', p_stripe_event_id,
                'previous_status', v_purchase.status,
                'seller_credits', v_sellers));

    RETURN QUERY SELECT p_purchase_id, 'completed'::text;
END
$fn$;


-- Expires abandoned checkouts and frees their leads; meant to run on a schedule.
CREATE OR REPLACE FUNCTION public.release_expired_lead_reservations()
RETURNS int
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    v_now   timestamptz := clock_timestamp();  -- a value, not a volatile call, so the index can seek
    v_ids   uuid[];
    v_actor text := coalesce(nullif(current_setting('marketplace.actor', true), ''), session_user);
BEGIN
    -- SKIP LOCKED: a purchase being completed right now is not expired under its feet,
    -- and two concurrent runs share the work instead of queueing.
    SELECT array_agg(x.id ORDER BY x.id) INTO v_ids
      FROM (SELECT p.id
              FROM marketplace_purchases AS p
             WHERE p.status = 'pending' AND p.reserved_until < v_now
             ORDER BY p.id
               FOR UPDATE SKIP LOCKED) AS x;

    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;

    UPDATE marketplace_purchases AS p
       SET status = 'expired', updated_at = clock_timestamp()
     WHERE p.id = ANY (v_ids);

    -- Only leads still held by these purchases: one may have been taken over by a newer
    -- checkout. The guard is on l (the row updated) so it is re-checked after a lock wait.
    WITH freed AS (
        UPDATE leads AS l
           SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL
          FROM (SELECT i.lead_id AS id, i.purchase_id
                  FROM marketplace_purchase_items AS i
                 WHERE i.purchase_id = ANY (v_ids)) AS held
         WHERE l.id = held.id
           AND l.reserved_by_purchase_id = held.purchase_id
           AND l.marketplace_status = 'reserved'
        RETURNING l.id, held.purchase_id
    )
    INSERT INTO audit_logs (action, workspace_id, actor, details)
    SELECT 'purchase_expired', p.buyer_workspace_id, v_actor,
           jsonb_build_object(
               'purchase_id', p.id,
               'total', p.total_price,
               'payment_method', p.payment_method,
               'reserved_until', p.reserved_until,
               'released_lead_ids',
                   coalesce((SELECT jsonb_agg(f.id ORDER BY f.id) FROM freed AS f WHERE f.purchase_id = p.id),
                            '[]'::jsonb))
      FROM marketplace_purchases AS p
     WHERE p.id = ANY (v_ids)
     ORDER BY p.id;

    RETURN cardinality(v_ids);
END
$fn$;


-- Only the service calls these; SECURITY DEFINER makes PUBLIC's default EXECUTE dangerous.
REVOKE ALL ON FUNCTION public.validate_and_lock_leads_for_purchase(uuid, uuid[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.complete_credit_lead_purchase(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.complete_stripe_lead_purchase(uuid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.release_expired_lead_reservations() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION public.validate_and_lock_leads_for_purchase(uuid, uuid[], text) TO service_role;
GRANT EXECUTE ON FUNCTION public.complete_credit_lead_purchase(uuid) TO service_role;
GRANT EXECUTE ON FUNCTION public.complete_stripe_lead_purchase(uuid, text, text) TO service_role;
GRANT EXECUTE ON FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) TO service_role;
GRANT EXECUTE ON FUNCTION public.release_expired_lead_reservations() TO service_role;
