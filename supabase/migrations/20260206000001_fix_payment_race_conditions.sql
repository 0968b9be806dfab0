-- Race-free lead purchases, as a drop-in for the functions route.ts and the Stripe webhook call:
-- same names, argument names and result columns as 20260205000001, applied whether or not that
-- migration ran. Everything new is additive (nullable or defaulted) so the app's inserts are unchanged.
-- rollback_20260206000001.sql puts the database back as this file found it.

BEGIN;
SET LOCAL client_min_messages = warning;

-- What this migration replaces, so the rollback can put it back exactly.
CREATE TABLE IF NOT EXISTS public.payment_fix_rollback_state (
  kind text NOT NULL,          -- 'function' | 'column' | 'index'
  name text NOT NULL,
  definition text,             -- function: pg_get_functiondef; column: previous type ('' = absent)
  acl text,
  comment text,
  PRIMARY KEY (kind, name)
);
ALTER TABLE public.payment_fix_rollback_state ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.payment_fix_rollback_state FROM PUBLIC, anon, authenticated;

-- Record only on the first application: a re-run must not overwrite what was there before us.
INSERT INTO public.payment_fix_rollback_state (kind, name, definition, acl, comment)
SELECT 'function', p.oid::regprocedure::text, pg_get_functiondef(p.oid), p.proacl::text, obj_description(p.oid, 'pg_proc')
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
  AND p.proname IN ('validate_and_lock_leads_for_purchase', 'complete_credit_lead_purchase',
                    'complete_stripe_lead_purchase', 'mark_leads_sold_bulk', 'release_expired_lead_reservations')
  AND NOT EXISTS (SELECT 1 FROM public.payment_fix_rollback_state WHERE kind = 'marker')
ON CONFLICT DO NOTHING;

INSERT INTO public.payment_fix_rollback_state (kind, name, definition)
SELECT 'column', c.tbl || '.' || c.col,
       coalesce((SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                 WHERE a.attrelid = ('public.' || c.tbl)::regclass AND a.attname = c.col AND NOT a.attisdropped), '')
FROM (VALUES ('leads', 'sold_at'), ('leads', 'marketplace_status'),
             ('workspace_credits', 'balance'), ('workspace_credits', 'total_purchased'),
             ('workspace_credits', 'total_used'), ('workspace_credits', 'total_earned'),
             ('marketplace_purchases', 'credits_used')) AS c(tbl, col)
WHERE NOT EXISTS (SELECT 1 FROM public.payment_fix_rollback_state WHERE kind = 'marker')
ON CONFLICT DO NOTHING;

INSERT INTO public.payment_fix_rollback_state (kind, name, definition)
SELECT 'index', 'idx_leads_marketplace_status', CASE WHEN to_regclass('public.idx_leads_marketplace_status') IS NULL THEN '' ELSE 'present' END
WHERE NOT EXISTS (SELECT 1 FROM public.payment_fix_rollback_state WHERE kind = 'marker')
ON CONFLICT DO NOTHING;

INSERT INTO public.payment_fix_rollback_state (kind, name) VALUES ('marker', 'applied') ON CONFLICT DO NOTHING;

-- Columns the shipped fix adds; the listed, unsold leads become 'available' only when we add the column
-- here (on a database with the shipped fix that backfill already ran, and rows since are the app's).
ALTER TABLE public.leads ADD COLUMN IF NOT EXISTS sold_at TIMESTAMPTZ;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.leads'::regclass AND attname = 'marketplace_status' AND NOT attisdropped) THEN
    ALTER TABLE public.leads ADD COLUMN marketplace_status VARCHAR(20) DEFAULT 'draft';
    UPDATE public.leads SET marketplace_status = 'available'
    WHERE is_marketplace_listed = true AND sold_at IS NULL AND marketplace_status = 'draft';
  END IF;
END $$;
CREATE INDEX IF NOT EXISTS idx_leads_marketplace_status ON public.leads(marketplace_status);

-- A validated lead stays reserved for its buyer until it is sold or the reservation ends.
ALTER TABLE public.leads ADD COLUMN IF NOT EXISTS reserved_for_workspace_id UUID;
ALTER TABLE public.leads ADD COLUMN IF NOT EXISTS reserved_until TIMESTAMPTZ;
-- No index on the reservation columns: an index on a column an UPDATE changes makes it a non-HOT update, which
-- writes a new entry in every index of leads (the marketplace has dozens), on every validate call. An ended
-- reservation is inert (validation and completion treat it as free), so nothing needs to find them all.
DROP INDEX IF EXISTS public.idx_leads_reserved_until;

-- Prices are DECIMAL(10,4) (default 0.05); INTEGER balances cannot hold what a purchase costs.
-- numeric(14,4) holds every price exactly, and every integer balance converts without loss.
ALTER TABLE public.workspace_credits
  ALTER COLUMN balance TYPE NUMERIC(14,4),
  ALTER COLUMN total_purchased TYPE NUMERIC(14,4),
  ALTER COLUMN total_used TYPE NUMERIC(14,4),
  ALTER COLUMN total_earned TYPE NUMERIC(14,4);
ALTER TABLE public.marketplace_purchases ALTER COLUMN credits_used TYPE NUMERIC(14,4);

-- Card payments that arrive for leads sold meanwhile: the amount to refund.
ALTER TABLE public.marketplace_purchases ADD COLUMN IF NOT EXISTS refund_required_at TIMESTAMPTZ;

-- Drop every overload of our names, so that exactly one signature of each exists afterwards.
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace = 'public'::regnamespace
             AND p.proname IN ('validate_and_lock_leads_for_purchase', 'complete_credit_lead_purchase',
                               'complete_stripe_lead_purchase', 'mark_leads_sold_bulk', 'release_expired_lead_reservations',
                               'purchase_unsellable_leads', 'mark_purchase_leads_sold', 'release_purchase_reservations',
                               'lead_reservation_interval')
  LOOP
    EXECUTE format('DROP FUNCTION %s', f);
  END LOOP;
END $$;

-- How long a validated lead stays reserved for its buyer.
CREATE FUNCTION public.lead_reservation_interval() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '15 minutes' $$;

-- Each function is a few set-based statements: the purchase path runs them per request, so every statement
-- saved is latency and CPU saved (bench/README.md has the figures). Leads are always locked in id order
-- before the credit row, so purchases never deadlock.
CREATE FUNCTION public.validate_and_lock_leads_for_purchase(
  p_lead_ids UUID[],
  p_buyer_workspace_id UUID
) RETURNS TABLE (
  id UUID,
  marketplace_price DECIMAL(10,4),
  partner_id UUID,
  created_at TIMESTAMPTZ,
  intent_score_calculated INTEGER,
  freshness_score INTEGER
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
  v_requested INTEGER := coalesce(cardinality(p_lead_ids), 0);
  v_found INTEGER;
  v_available INTEGER;
BEGIN
  IF p_buyer_workspace_id IS NULL OR v_requested = 0 OR v_requested > 100
     OR array_position(p_lead_ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'Invalid lead list: 1 to 100 distinct lead ids are required'
      USING ERRCODE = '22023';
  END IF;

  -- Locks in id order (no deadlock between buyers of overlapping sets) and judges each lead as locked.
  -- NOWAIT: a buyer holding them right now means a conflict (55P03), which the app answers with 409.
  SELECT count(*), count(*) FILTER (WHERE s.sellable) INTO v_found, v_available
  FROM (
    SELECT l.marketplace_status = 'available'
           AND l.sold_at IS NULL
           AND l.marketplace_price IS NOT NULL
           AND l.is_marketplace_listed = true
           AND (l.reserved_until IS NULL OR l.reserved_until <= now() OR l.reserved_for_workspace_id = p_buyer_workspace_id)
           AND NOT EXISTS (
             SELECT 1 FROM marketplace_purchase_items mpi
             JOIN marketplace_purchases mp ON mp.id = mpi.purchase_id
             WHERE mpi.lead_id = l.id AND mp.buyer_workspace_id = p_buyer_workspace_id
               AND mp.status = 'completed') AS sellable
    FROM leads l WHERE l.id = ANY(p_lead_ids) ORDER BY l.id FOR UPDATE OF l NOWAIT
  ) s;

  IF v_available < v_requested THEN
    -- A repeated id finds its row once: say so rather than "no longer available".
    IF (SELECT count(DISTINCT x) FROM unnest(p_lead_ids) x) <> v_requested THEN
      RAISE EXCEPTION 'Invalid lead list: 1 to 100 distinct lead ids are required'
        USING ERRCODE = '22023';
    END IF;
    RAISE EXCEPTION 'Some leads are no longer available for purchase. Requested: %, Available: %',
      v_requested, v_available
      USING ERRCODE = 'P0001';
  END IF;

  -- The reservation outlives this call: completion accepts only leads reserved for this buyer (or free).
  RETURN QUERY
  WITH reserved AS (
    UPDATE leads l SET reserved_for_workspace_id = p_buyer_workspace_id,
                       reserved_until = now() + lead_reservation_interval()
    WHERE l.id = ANY(p_lead_ids)
    RETURNING l.id, l.marketplace_price, l.partner_id, l.created_at, l.intent_score_calculated, l.freshness_score
  ), audited AS (
    INSERT INTO audit_logs (workspace_id, action, resource_type, new_values, metadata)
    VALUES (p_buyer_workspace_id, 'marketplace_leads_reserved', 'lead',
            jsonb_build_object('lead_ids', to_jsonb(p_lead_ids), 'reserved_until', now() + lead_reservation_interval()),
            jsonb_build_object('function', 'validate_and_lock_leads_for_purchase'))
  )
  SELECT r.* FROM reserved r ORDER BY r.id;
END;
$$;

CREATE FUNCTION public.complete_credit_lead_purchase(
  p_purchase_id UUID,
  p_workspace_id UUID,
  p_credit_amount DECIMAL(10,2)
) RETURNS TABLE (
  success BOOLEAN,
  new_credit_balance INTEGER,
  error_message TEXT
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
  v_purchase marketplace_purchases%ROWTYPE;
  v_total NUMERIC;
  v_items INTEGER;
  v_balance NUMERIC;
  v_bad UUID[];
  v_reason TEXT;
BEGIN
  SELECT * INTO v_purchase FROM marketplace_purchases WHERE marketplace_purchases.id = p_purchase_id FOR UPDATE;
  IF NOT FOUND OR v_purchase.buyer_workspace_id IS DISTINCT FROM p_workspace_id THEN
    RAISE EXCEPTION 'Purchase not found: %', p_purchase_id USING ERRCODE = 'P0002';
  END IF;

  IF v_purchase.status = 'completed' OR v_purchase.status IS DISTINCT FROM 'pending'
     OR v_purchase.payment_method IS DISTINCT FROM 'credits' THEN
    SELECT c.balance INTO v_balance FROM workspace_credits c WHERE c.workspace_id = p_workspace_id;
    success := v_purchase.status = 'completed';
    new_credit_balance := floor(coalesce(v_balance, 0))::INTEGER;
    -- A retry of a completed purchase charges nothing again and says so.
    error_message := CASE WHEN v_purchase.status = 'completed'
                          THEN 'already_completed: this purchase was charged once; nothing was charged now'
                          ELSE format('Purchase is %s (%s), not a pending credit purchase', v_purchase.status, v_purchase.payment_method) END;
    RETURN NEXT;
    RETURN;
  END IF;

  -- One pass: lock the purchase's leads in id order, total its items, and re-check every lead as locked
  -- (sellable, and not held by a live reservation of another workspace).
  SELECT count(*), sum(s.price), array_agg(s.id) FILTER (WHERE NOT s.sellable)
    INTO v_items, v_total, v_bad
  FROM (
    SELECT l.id, i.price_at_purchase AS price,
           (l.sold_at IS NULL
            AND coalesce(l.marketplace_status, 'available') = 'available'
            AND l.is_marketplace_listed = true
            AND (l.reserved_until IS NULL OR l.reserved_until <= now()
                 OR l.reserved_for_workspace_id = p_workspace_id)) AS sellable
    FROM marketplace_purchase_items i JOIN leads l ON l.id = i.lead_id
    WHERE i.purchase_id = p_purchase_id ORDER BY l.id FOR UPDATE OF l
  ) s;

  IF v_items = 0 OR v_items <> v_purchase.total_leads THEN
    v_reason := format('Purchase has %s items for %s leads', v_items, v_purchase.total_leads);
  ELSIF p_credit_amount IS NULL OR p_credit_amount <> v_total OR v_purchase.total_price <> v_total THEN
    v_reason := format('Amount %s does not match the items'' total %s', p_credit_amount, v_total);
  ELSIF v_bad IS NOT NULL THEN
    v_reason := format('Some leads are no longer available for purchase: %s', array_to_string(v_bad, ', '));
  ELSE
    -- Checks and debits in one statement; the credit row is locked after the leads.
    UPDATE workspace_credits c
    SET balance = c.balance - v_total, total_used = coalesce(c.total_used, 0) + v_total, updated_at = now()
    WHERE c.workspace_id = p_workspace_id AND c.balance >= v_total
    RETURNING c.balance INTO v_balance;
    IF NOT FOUND THEN
      SELECT c.balance INTO v_balance FROM workspace_credits c WHERE c.workspace_id = p_workspace_id;
      v_reason := format('Insufficient credits. Current: %s, Required: %s', coalesce(v_balance, 0), v_total);
    END IF;
  END IF;

  IF v_reason IS NOT NULL THEN
    WITH failed AS (
      UPDATE marketplace_purchases SET status = 'failed' WHERE marketplace_purchases.id = p_purchase_id
    ), released AS (
      UPDATE leads l SET reserved_for_workspace_id = NULL, reserved_until = NULL
      FROM marketplace_purchase_items i
      WHERE i.purchase_id = p_purchase_id AND i.lead_id = l.id AND l.reserved_for_workspace_id = p_workspace_id
    )
    INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values, severity)
    VALUES (p_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_refused', 'marketplace_purchase', p_purchase_id,
            jsonb_build_object('reason', v_reason, 'requested_amount', p_credit_amount, 'items_total', v_total), 'warning');
    success := false;
    new_credit_balance := floor(coalesce(v_balance, 0))::INTEGER;
    error_message := v_reason;
    RETURN NEXT;
    RETURN;
  END IF;

  WITH sold AS (
    UPDATE leads l SET sold_count = coalesce(l.sold_count, 0) + 1,
                       first_sold_at = coalesce(l.first_sold_at, now()),
                       sold_at = now(),
                       marketplace_status = 'sold',
                       reserved_for_workspace_id = NULL,
                       reserved_until = NULL
    FROM marketplace_purchase_items i
    WHERE i.purchase_id = p_purchase_id AND i.lead_id = l.id
    RETURNING l.id
  ), completed AS (
    UPDATE marketplace_purchases SET status = 'completed', completed_at = now(), credits_used = v_total
    WHERE marketplace_purchases.id = p_purchase_id
  )
  INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values)
  SELECT p_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_completed', 'marketplace_purchase', p_purchase_id,
         jsonb_build_object('payment_method', 'credits', 'charged', v_total, 'balance_after', v_balance,
                            'lead_ids', (SELECT to_jsonb(array_agg(sold.id ORDER BY sold.id)) FROM sold));

  success := true;
  new_credit_balance := floor(v_balance)::INTEGER;
  error_message := NULL;
  RETURN NEXT;
END;
$$;

CREATE FUNCTION public.complete_stripe_lead_purchase(
  p_purchase_id UUID,
  p_download_url TEXT DEFAULT NULL
) RETURNS TABLE (
  success BOOLEAN,
  already_completed BOOLEAN,
  lead_ids_marked UUID[]
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
  v_purchase marketplace_purchases%ROWTYPE;
  v_items INTEGER;
  v_bad UUID[];
BEGIN
  SELECT * INTO v_purchase FROM marketplace_purchases WHERE marketplace_purchases.id = p_purchase_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Purchase not found: %', p_purchase_id USING ERRCODE = 'P0002';
  END IF;

  -- A repeated delivery, or a payment already sent to refund: the webhook stops without retrying.
  IF v_purchase.status IN ('completed', 'refund_required', 'refunded', 'partially_refunded') THEN
    success := false; already_completed := true; lead_ids_marked := ARRAY[]::UUID[];
    RETURN NEXT;
    RETURN;
  END IF;
  IF v_purchase.status NOT IN ('pending', 'expired', 'failed') THEN
    RAISE EXCEPTION 'Purchase % is %, it cannot be completed', p_purchase_id, v_purchase.status USING ERRCODE = '55000';
  END IF;

  -- Locks the purchase's leads in id order and re-checks each as locked.
  SELECT count(*), array_agg(s.id) FILTER (WHERE NOT s.sellable) INTO v_items, v_bad
  FROM (
    SELECT l.id,
           (l.sold_at IS NULL
            AND coalesce(l.marketplace_status, 'available') = 'available'
            AND l.is_marketplace_listed = true
            AND (l.reserved_until IS NULL OR l.reserved_until <= now()
                 OR l.reserved_for_workspace_id = v_purchase.buyer_workspace_id)) AS sellable
    FROM marketplace_purchase_items i JOIN leads l ON l.id = i.lead_id
    WHERE i.purchase_id = p_purchase_id ORDER BY l.id FOR UPDATE OF l
  ) s;
  IF v_items = 0 THEN
    RAISE EXCEPTION 'No leads found for purchase: %', p_purchase_id USING ERRCODE = 'P0002';
  END IF;

  IF v_bad IS NOT NULL THEN
    -- Paid for a lead that was sold (or is held) meanwhile: never a second sale; the money goes back.
    WITH refund AS (
      UPDATE marketplace_purchases
      SET status = 'refund_required', refund_required_at = now(),
          refund_amount = total_price,
          refund_reason = format('Leads sold before the payment arrived: %s', array_to_string(v_bad, ', '))
      WHERE marketplace_purchases.id = p_purchase_id
    ), released AS (
      UPDATE leads l SET reserved_for_workspace_id = NULL, reserved_until = NULL
      FROM marketplace_purchase_items i
      WHERE i.purchase_id = p_purchase_id AND i.lead_id = l.id
        AND l.reserved_for_workspace_id = v_purchase.buyer_workspace_id
    )
    INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values, severity)
    VALUES (v_purchase.buyer_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_refund_required', 'marketplace_purchase',
            p_purchase_id, jsonb_build_object('lead_ids', to_jsonb(v_bad), 'total_price', v_purchase.total_price), 'warning');
    success := false; already_completed := true; lead_ids_marked := ARRAY[]::UUID[];
    RETURN NEXT;
    RETURN;
  END IF;

  WITH sold AS (
    UPDATE leads l SET sold_count = coalesce(l.sold_count, 0) + 1,
                       first_sold_at = coalesce(l.first_sold_at, now()),
                       sold_at = now(),
                       marketplace_status = 'sold',
                       reserved_for_workspace_id = NULL,
                       reserved_until = NULL
    FROM marketplace_purchase_items i
    WHERE i.purchase_id = p_purchase_id AND i.lead_id = l.id
    RETURNING l.id
  ), marked AS (
    SELECT coalesce(array_agg(sold.id ORDER BY sold.id), ARRAY[]::UUID[]) AS ids FROM sold
  ), completed AS (
    UPDATE marketplace_purchases
    SET status = 'completed', completed_at = now(), download_url = p_download_url,
        download_expires_at = now() + interval '90 days'
    WHERE marketplace_purchases.id = p_purchase_id
  ), audited AS (
    INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values)
    SELECT v_purchase.buyer_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_completed', 'marketplace_purchase',
           p_purchase_id, jsonb_build_object('payment_method', 'stripe', 'total_price', v_purchase.total_price, 'lead_ids', to_jsonb(marked.ids))
    FROM marked
  )
  SELECT marked.ids INTO lead_ids_marked FROM marked;

  success := true; already_completed := false;
  RETURN NEXT;
END;
$$;

-- Marks only leads that are not sold yet: a lead is never sold twice through this either.
CREATE FUNCTION public.mark_leads_sold_bulk(
  p_lead_ids UUID[]
) RETURNS TABLE (
  leads_marked INTEGER
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE v_ids UUID[];
BEGIN
  PERFORM 1 FROM leads l WHERE l.id = ANY(p_lead_ids) ORDER BY l.id FOR UPDATE OF l;
  WITH sold AS (
    UPDATE leads l SET sold_count = coalesce(l.sold_count, 0) + 1, first_sold_at = coalesce(l.first_sold_at, now()),
                       sold_at = now(), marketplace_status = 'sold', reserved_for_workspace_id = NULL, reserved_until = NULL
    WHERE l.id = ANY(p_lead_ids) AND l.sold_at IS NULL
    RETURNING l.id, l.workspace_id)
  SELECT array_agg(id) INTO v_ids FROM sold;
  IF v_ids IS NOT NULL THEN
    INSERT INTO audit_logs (action, resource_type, new_values)
    VALUES ('marketplace_leads_marked_sold', 'lead', jsonb_build_object('lead_ids', to_jsonb(v_ids)));
  END IF;
  RETURN QUERY SELECT coalesce(cardinality(v_ids), 0);
END;
$$;

-- Expires the pending credit purchases whose reservations have ended, and clears the ended reservations of
-- their leads; returns how many leads it cleared. Card purchases stay pending: their payment may still arrive,
-- and is then re-checked. Other ended reservations (a validate call with no purchase after it) are inert and
-- are overwritten by the lead's next reservation or sale.
CREATE FUNCTION public.release_expired_lead_reservations() RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE v_leads INTEGER; v_purchases INTEGER;
BEGIN
  WITH expired AS (
    UPDATE marketplace_purchases SET status = 'expired'
    WHERE status = 'pending' AND payment_method = 'credits' AND created_at <= now() - lead_reservation_interval()
    RETURNING marketplace_purchases.id, marketplace_purchases.buyer_workspace_id
  ), released AS (
    UPDATE leads l SET reserved_for_workspace_id = NULL, reserved_until = NULL
    FROM marketplace_purchase_items i JOIN expired e ON e.id = i.purchase_id
    WHERE i.lead_id = l.id AND l.reserved_for_workspace_id = e.buyer_workspace_id AND l.reserved_until <= now()
    RETURNING l.id
  )
  SELECT (SELECT count(*) FROM released), (SELECT count(*) FROM expired) INTO v_leads, v_purchases;

  IF v_leads > 0 OR v_purchases > 0 THEN
    INSERT INTO audit_logs (action, resource_type, new_values)
    VALUES ('marketplace_reservations_released', 'lead', jsonb_build_object('leads', v_leads, 'purchases_expired', v_purchases));
  END IF;
  RETURN v_leads;
END;
$$;

DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace = 'public'::regnamespace
             AND p.proname IN ('validate_and_lock_leads_for_purchase', 'complete_credit_lead_purchase',
                               'complete_stripe_lead_purchase', 'mark_leads_sold_bulk', 'release_expired_lead_reservations',
                               'purchase_unsellable_leads', 'mark_purchase_leads_sold', 'release_purchase_reservations',
                               'lead_reservation_interval')
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, anon, authenticated', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', f);
  END LOOP;
END $$;

COMMIT;
