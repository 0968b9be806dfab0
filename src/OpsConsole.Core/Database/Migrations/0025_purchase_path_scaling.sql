-- 0025_purchase_path_scaling.sql
--
-- The purchase path's cost, made independent of table sizes and cut down (issue 15). The contract's
-- surface is unchanged: names, arguments, result columns, SQLSTATEs, audit rows and their details, the
-- lock order (purchase -> leads by id, NOWAIT -> workspace_credits by workspace_id) and the invariants.
-- Figures per credit purchase (3 leads, server-side, pg_stat_statements track = all) are in the README.
--
-- 1. The scaling fault: complete_credit_lead_purchase locked the buyer's and sellers' credit rows with
--    "workspace_id = buyer OR workspace_id IN (SELECT ...)", which PostgreSQL plans as a sequential scan
--    of workspace_credits (every row read per purchase: 136 ms at 100,000 workspaces on a loaded machine).
--    Now one "workspace_id = ANY (array)" primary-key lookup.
-- 2. Fewer statements: 26 -> 22 executed inside the functions per credit purchase (pg_stat_statements,
--    track = all, foreign-key checks included): the buyer check merged with the input's de-duplication,
--    mark_leads_sold_bulk's duplicate check only when it refuses, result rows returned without a query.
-- 3. Each row locked once: a purchase row this very transaction inserted (the core library's one-round-trip
--    credit purchase) is invisible to every other transaction, so completing it takes no second lock.
-- 4. Credit moves of existing rows are a plain UPDATE of the rows already locked FOR UPDATE (no speculative
--    insertion and no second lock attempt per row, as INSERT ... ON CONFLICT DO UPDATE makes); only a seller
--    (or free-purchase buyer) without a credit row still goes through the upsert, in the same statement.
-- 5. The foreign key leads.reserved_by_purchase_id -> marketplace_purchases gives way (3 checks per
--    purchase, each locking the purchase row the same statement had just inserted). What guarantees the
--    same: reserved_by_purchase_id is written only by these functions, always with a purchase that has an
--    item for that lead (validate_and_lock_leads_for_purchase reserves exactly the leads it inserts items
--    for, in the same statement; complete_stripe_lead_purchase re-reserves only its own items' leads) or
--    NULL; and marketplace_purchase_items_purchase_id_fkey refuses to delete (or re-key) a purchase that
--    has items. So a lead never names a purchase that does not exist. ReservationReferenceTests prove it.
-- 6. The credit purchase's measured duration is written by the completion's own UPDATE when the caller
--    put it in opsconsole.purchase_elapsed_ms (the core library does, in the statement that sets the actor):
--    the purchase row gets two versions (pending, completed) instead of three.
-- 7. workspace_credits keeps room on each page (fillfactor 80) so balance updates stay HOT (heap-only: no
--    index entry, less WAL) on rows written from now on.
--
-- Idempotent (CREATE OR REPLACE, IF EXISTS), no line holding only a semicolon (DbUp splits there). CREATE OR
-- REPLACE keeps each function's owner and grants, so this works unchanged once the functions belong to a
-- non-superuser owner role (0030); the grants are repeated anyway.

ALTER TABLE public.leads DROP CONSTRAINT IF EXISTS leads_reserved_by_purchase_id_fkey;

ALTER TABLE public.workspace_credits SET (fillfactor = 80);


-- Marks the given leads sold for the purchase that reserves them: all of them, or none.
-- One statement on the happy path; the reasons for a refusal are worked out only when there is one.
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

    -- Fewer rows than ids: duplicates in the list (each id updates one row at most), or leads not reserved by
    -- this purchase. Raising undoes the UPDATE above: none of the leads is marked.
    IF coalesce(cardinality(v_marked), 0) <> cardinality(p_lead_ids) THEN
        IF (SELECT count(DISTINCT x) FROM unnest(p_lead_ids) AS x) <> cardinality(p_lead_ids) THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('mark_leads_sold_bulk: duplicate lead ids in %s', p_lead_ids);
        END IF;
        SELECT array_agg(x ORDER BY x) INTO v_unmarked
          FROM unnest(p_lead_ids) AS x
         WHERE x <> ALL (coalesce(v_marked, '{}'));
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
    v_buyer_exists   boolean;
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
    -- The ids in order without duplicates, and whether the buyer exists: one query for both (the buyer's
    -- answer is only used after the input checks, so the errors keep their order).
    SELECT array_agg(DISTINCT x ORDER BY x),
           EXISTS (SELECT 1 FROM workspaces AS w WHERE w.id = p_buyer_workspace_id)
      INTO v_ids, v_buyer_exists
      FROM unnest(p_lead_ids) AS x;
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

    IF NOT v_buyer_exists THEN
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
    -- outside this call's id-ordered set. The reservation names exactly the leads that get an
    -- item here: what stands in for a foreign key on reserved_by_purchase_id (see the header).
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

    -- The result row without a query.
    purchase_id := v_purchase_id;
    total_price := v_total;
    lead_count  := cardinality(v_ids);
    RETURN NEXT;
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
    v_sellers   uuid[];       -- in workspace_id order
    v_earned    numeric[];    -- what each of v_sellers earns: the sum of its items' prices
    v_locked    uuid[];       -- buyer and sellers that have a credit row, locked
    v_balance   numeric(12,2);
    v_duration  numeric;
    v_actor     text := coalesce(nullif(current_setting('marketplace.actor', true), ''), session_user);
BEGIN
    IF p_purchase_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'purchase id is NULL';
    END IF;

    -- A purchase this very transaction inserted (the core library's one-round-trip credit purchase) is
    -- invisible to every other transaction until commit: nobody else can complete or expire it, and its
    -- leads are already locked by the reservation. Locking the purchase or the leads again would only add
    -- WAL. Any other purchase is locked (waiting for a concurrent completion, then seeing its outcome) and
    -- its leads locked in id order; a reservation past its time may have been taken over by another buyer:
    -- the read below, after the locks, sees that.
    SELECT p.buyer_workspace_id, p.status, p.payment_method, p.total_price,
           p.xmin = (txid_current() % 4294967296)::text::xid AS own
      INTO v_purchase
      FROM marketplace_purchases AS p WHERE p.id = p_purchase_id;
    IF FOUND AND NOT v_purchase.own THEN
        SELECT p.buyer_workspace_id, p.status, p.payment_method, p.total_price, false AS own
          INTO v_purchase
          FROM marketplace_purchases AS p WHERE p.id = p_purchase_id FOR UPDATE;
    END IF;
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
    IF NOT v_purchase.own THEN
        PERFORM 1 FROM leads AS l
         WHERE l.id IN (SELECT i.lead_id FROM marketplace_purchase_items AS i WHERE i.purchase_id = p_purchase_id)
         ORDER BY l.id
           FOR UPDATE NOWAIT;
    END IF;

    -- One read of the items and their leads: the lead ids, those no longer held, and what each seller earns.
    WITH it AS MATERIALIZED (
        SELECT i.lead_id, i.price, l.workspace_id,
               (l.marketplace_status <> 'reserved' OR l.reserved_by_purchase_id IS DISTINCT FROM p_purchase_id) AS lost
          FROM marketplace_purchase_items AS i
          JOIN leads AS l ON l.id = i.lead_id
         WHERE i.purchase_id = p_purchase_id
    )
    SELECT a.lead_ids, a.lost, s.sellers, s.earned
      INTO v_lead_ids, v_lost, v_sellers, v_earned
      FROM (SELECT array_agg(it.lead_id ORDER BY it.lead_id) AS lead_ids,
                   array_agg(it.lead_id ORDER BY it.lead_id) FILTER (WHERE it.lost) AS lost
              FROM it) AS a,
           (SELECT array_agg(g.workspace_id ORDER BY g.workspace_id) AS sellers,
                   array_agg(g.amount ORDER BY g.workspace_id) AS earned
              FROM (SELECT it.workspace_id, sum(it.price) AS amount FROM it GROUP BY it.workspace_id) AS g) AS s;
    IF v_lost IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'MK409',
            MESSAGE = format('purchase %s no longer holds leads %s (its reservation expired)', p_purchase_id, v_lost);
    END IF;

    -- Buyer and sellers together, in workspace_id order: a buyer here may be a seller in a
    -- concurrent purchase, and a fixed order is what prevents a deadlock between the two.
    -- A primary-key lookup per workspace (= ANY), whatever the number of workspaces.
    -- A missing buyer row is a balance of 0.
    SELECT coalesce(array_agg(c.workspace_id), '{}'), coalesce(max(c.balance) FILTER (WHERE c.workspace_id = v_purchase.buyer_workspace_id), 0)
      INTO v_locked, v_balance
      FROM (SELECT c.workspace_id, c.balance
              FROM workspace_credits AS c
             WHERE c.workspace_id = ANY (v_sellers || v_purchase.buyer_workspace_id)
             ORDER BY c.workspace_id
               FOR UPDATE) AS c;

    v_duration := nullif(current_setting('opsconsole.purchase_elapsed_ms', true), '')::numeric
                  + extract(epoch FROM clock_timestamp() - now()) * 1000;

    IF v_balance < v_purchase.total_price THEN
        WITH failed AS (
            UPDATE marketplace_purchases AS p
               SET status = 'failed', updated_at = clock_timestamp(), duration_ms = coalesce(v_duration, p.duration_ms)
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

        purchase_id := p_purchase_id;
        status := 'insufficient_credits';
        buyer_balance := v_balance;
        RETURN NEXT;
        RETURN;
    END IF;

    -- Every credit movement in one statement: the buyer pays the total (balance down, used up), each
    -- seller earns what its leads cost at reservation time (the item prices). The rows locked above get a
    -- plain UPDATE. A seller without a credit row gets one, and a buyer without one only gets here for a free
    -- purchase and then gets a zero row: an upsert, rows in workspace_id order, of the workspaces that had no
    -- row when locking (empty for nearly every purchase; ON CONFLICT covers a row inserted meanwhile).
    WITH moves (workspace_id, balance, total_used, total_earned) AS (
        SELECT m.workspace_id, sum(m.balance), sum(m.total_used), sum(m.total_earned)
          FROM (SELECT v_purchase.buyer_workspace_id, -v_purchase.total_price, v_purchase.total_price, 0::numeric
                UNION ALL
                SELECT s.workspace_id, s.amount, 0::numeric, s.amount
                  FROM unnest(v_sellers, v_earned) AS s (workspace_id, amount)) AS m (workspace_id, balance, total_used, total_earned)
         GROUP BY m.workspace_id
    ), moved AS (
        UPDATE workspace_credits AS c
           SET balance      = c.balance + m.balance,
               total_used   = c.total_used + m.total_used,
               total_earned = c.total_earned + m.total_earned,
               updated_at   = clock_timestamp()
          FROM moves AS m
         WHERE c.workspace_id = m.workspace_id
           AND c.workspace_id = ANY (v_locked)
        RETURNING c.workspace_id, c.balance
    ), added AS (
        INSERT INTO workspace_credits AS c (workspace_id, balance, total_used, total_earned, updated_at)
        SELECT m.workspace_id, m.balance, m.total_used, m.total_earned, clock_timestamp()
          FROM moves AS m
         WHERE m.workspace_id <> ALL (v_locked)
         ORDER BY m.workspace_id
        ON CONFLICT (workspace_id) DO UPDATE
           SET balance      = c.balance + excluded.balance,
               total_used   = c.total_used + excluded.total_used,
               total_earned = c.total_earned + excluded.total_earned,
               updated_at   = excluded.updated_at
        RETURNING c.workspace_id, c.balance
    )
    SELECT b.balance INTO v_balance
      FROM (SELECT * FROM moved UNION ALL SELECT * FROM added) AS b
     WHERE b.workspace_id = v_purchase.buyer_workspace_id;

    PERFORM mark_leads_sold_bulk(p_purchase_id, v_lead_ids);

    WITH completed AS (
        UPDATE marketplace_purchases AS p
           SET status = 'completed', completed_at = clock_timestamp(), updated_at = clock_timestamp(),
               duration_ms = coalesce(v_duration, p.duration_ms)
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
                'seller_credits', (SELECT jsonb_object_agg(s.workspace_id, s.amount)
                                     FROM unnest(v_sellers, v_earned) AS s (workspace_id, amount)
                                    WHERE s.workspace_id <> v_purchase.buyer_workspace_id)));

    purchase_id := p_purchase_id;
    status := 'completed';
    buyer_balance := v_balance;
    RETURN NEXT;
END
$fn$;


REVOKE ALL ON FUNCTION public.validate_and_lock_leads_for_purchase(uuid, uuid[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.complete_credit_lead_purchase(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION public.validate_and_lock_leads_for_purchase(uuid, uuid[], text) TO service_role;
GRANT EXECUTE ON FUNCTION public.complete_credit_lead_purchase(uuid) TO service_role;
GRANT EXECUTE ON FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) TO service_role;
