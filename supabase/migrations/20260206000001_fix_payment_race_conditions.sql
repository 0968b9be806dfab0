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
CREATE INDEX IF NOT EXISTS idx_leads_reserved_until ON public.leads(reserved_until) WHERE reserved_until IS NOT NULL;

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

-- How long a validated lead stays reserved for its buyer: 15 minutes, or the setting
-- marketplace.reservation_ttl (ALTER DATABASE ... SET marketplace.reservation_ttl = '30 seconds').
CREATE FUNCTION public.lead_reservation_interval() RETURNS interval
LANGUAGE sql STABLE
AS $$ SELECT coalesce(nullif(current_setting('marketplace.reservation_ttl', true), '')::interval, interval '15 minutes') $$;

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
  v_available UUID[];
BEGIN
  IF p_buyer_workspace_id IS NULL OR v_requested = 0 OR v_requested > 100
     OR array_position(p_lead_ids, NULL) IS NOT NULL
     OR (SELECT count(DISTINCT x) FROM unnest(p_lead_ids) x) <> v_requested THEN
    RAISE EXCEPTION 'Invalid lead list: 1 to 100 distinct lead ids are required'
      USING ERRCODE = '22023';
  END IF;

  -- Locks in id order (no deadlock between buyers of overlapping sets); NOWAIT: a buyer holding them
  -- right now means a conflict (55P03), which the app answers with 409.
  PERFORM 1 FROM leads l WHERE l.id = ANY(p_lead_ids) ORDER BY l.id FOR UPDATE OF l NOWAIT;

  SELECT array_agg(l.id) INTO v_available
  FROM leads l
  WHERE l.id = ANY(p_lead_ids)
    AND l.marketplace_status = 'available'
    AND l.sold_at IS NULL
    AND l.marketplace_price IS NOT NULL
    AND l.is_marketplace_listed = true
    AND (l.reserved_until IS NULL OR l.reserved_until <= now() OR l.reserved_for_workspace_id = p_buyer_workspace_id)
    AND NOT EXISTS (
      SELECT 1 FROM marketplace_purchase_items mpi
      JOIN marketplace_purchases mp ON mp.id = mpi.purchase_id
      WHERE mpi.lead_id = l.id AND mp.buyer_workspace_id = p_buyer_workspace_id
        AND mp.status = 'completed');

  IF coalesce(cardinality(v_available), 0) < v_requested THEN
    RAISE EXCEPTION 'Some leads are no longer available for purchase. Requested: %, Available: %',
      v_requested, coalesce(cardinality(v_available), 0)
      USING ERRCODE = 'P0001';
  END IF;

  UPDATE leads l SET reserved_for_workspace_id = p_buyer_workspace_id,
                     reserved_until = now() + lead_reservation_interval()
  WHERE l.id = ANY(p_lead_ids);

  INSERT INTO audit_logs (workspace_id, action, resource_type, new_values, metadata)
  VALUES (p_buyer_workspace_id, 'marketplace_leads_reserved', 'lead',
          jsonb_build_object('lead_ids', to_jsonb(p_lead_ids), 'reserved_until', now() + lead_reservation_interval()),
          jsonb_build_object('function', 'validate_and_lock_leads_for_purchase'));

  RETURN QUERY
  SELECT l.id, l.marketplace_price, l.partner_id, l.created_at, l.intent_score_calculated, l.freshness_score
  FROM leads l WHERE l.id = ANY(p_lead_ids) ORDER BY l.id;
END;
$$;

-- Locks the purchase and its leads (id order), and re-checks every lead: sellable, and not held by a
-- live reservation of another workspace. Returns the ids of the leads that fail.
CREATE FUNCTION public.purchase_unsellable_leads(p_purchase_id UUID, p_buyer_workspace_id UUID)
RETURNS UUID[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE v_bad UUID[];
BEGIN
  PERFORM 1 FROM leads l JOIN marketplace_purchase_items i ON i.lead_id = l.id
  WHERE i.purchase_id = p_purchase_id ORDER BY l.id FOR UPDATE OF l;

  SELECT array_agg(l.id) INTO v_bad
  FROM marketplace_purchase_items i JOIN leads l ON l.id = i.lead_id
  WHERE i.purchase_id = p_purchase_id
    AND NOT (l.sold_at IS NULL
             AND coalesce(l.marketplace_status, 'available') = 'available'
             AND l.is_marketplace_listed = true
             AND (l.reserved_until IS NULL OR l.reserved_until <= now()
                  OR l.reserved_for_workspace_id = p_buyer_workspace_id));
  RETURN coalesce(v_bad, '{}');
END;
$$;

CREATE FUNCTION public.mark_purchase_leads_sold(p_purchase_id UUID) RETURNS UUID[]
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  WITH sold AS (
    UPDATE leads l SET sold_count = coalesce(l.sold_count, 0) + 1,
                       first_sold_at = coalesce(l.first_sold_at, now()),
                       sold_at = now(),
                       marketplace_status = 'sold',
                       reserved_for_workspace_id = NULL,
                       reserved_until = NULL
    FROM marketplace_purchase_items i
    WHERE i.purchase_id = p_purchase_id AND i.lead_id = l.id
    RETURNING l.id)
  SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM sold;
$$;

CREATE FUNCTION public.release_purchase_reservations(p_purchase_id UUID, p_buyer_workspace_id UUID) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  UPDATE leads l SET reserved_for_workspace_id = NULL, reserved_until = NULL
  FROM marketplace_purchase_items i
  WHERE i.purchase_id = p_purchase_id AND i.lead_id = l.id AND l.reserved_for_workspace_id = p_buyer_workspace_id;
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
  v_sold UUID[];
  v_reason TEXT;
BEGIN
  SELECT * INTO v_purchase FROM marketplace_purchases WHERE id = p_purchase_id FOR UPDATE;
  IF NOT FOUND OR v_purchase.buyer_workspace_id IS DISTINCT FROM p_workspace_id THEN
    RAISE EXCEPTION 'Purchase not found: %', p_purchase_id USING ERRCODE = 'P0002';
  END IF;

  SELECT balance INTO v_balance FROM workspace_credits WHERE workspace_id = p_workspace_id;

  IF v_purchase.status = 'completed' THEN
    -- A retry: nothing is charged again.
    RETURN QUERY SELECT true, floor(coalesce(v_balance, 0))::INTEGER,
      'already_completed: this purchase was charged once; nothing was charged now'::TEXT;
    RETURN;
  END IF;
  IF v_purchase.status IS DISTINCT FROM 'pending' OR v_purchase.payment_method IS DISTINCT FROM 'credits' THEN
    RETURN QUERY SELECT false, floor(coalesce(v_balance, 0))::INTEGER,
      format('Purchase is %s (%s), not a pending credit purchase', v_purchase.status, v_purchase.payment_method);
    RETURN;
  END IF;

  SELECT sum(price_at_purchase), count(*) INTO v_total, v_items
  FROM marketplace_purchase_items WHERE purchase_id = p_purchase_id;

  IF v_items = 0 OR v_items <> v_purchase.total_leads THEN
    v_reason := format('Purchase has %s items for %s leads', v_items, v_purchase.total_leads);
  ELSIF p_credit_amount IS NULL OR p_credit_amount <> v_total OR v_purchase.total_price <> v_total THEN
    v_reason := format('Amount %s does not match the items'' total %s', p_credit_amount, v_total);
  ELSE
    v_bad := purchase_unsellable_leads(p_purchase_id, p_workspace_id);
    IF cardinality(v_bad) > 0 THEN
      v_reason := format('Some leads are no longer available for purchase: %s', array_to_string(v_bad, ', '));
    ELSE
      -- The credit row is locked after the leads, in every function, so purchases never deadlock.
      SELECT balance INTO v_balance FROM workspace_credits WHERE workspace_id = p_workspace_id FOR UPDATE;
      IF v_balance IS NULL OR v_balance < v_total THEN
        v_reason := format('Insufficient credits. Current: %s, Required: %s', coalesce(v_balance, 0), v_total);
      END IF;
    END IF;
  END IF;

  IF v_reason IS NOT NULL THEN
    UPDATE marketplace_purchases SET status = 'failed' WHERE id = p_purchase_id;
    PERFORM release_purchase_reservations(p_purchase_id, p_workspace_id);
    INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values, severity)
    VALUES (p_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_refused', 'marketplace_purchase', p_purchase_id,
            jsonb_build_object('reason', v_reason, 'requested_amount', p_credit_amount, 'items_total', v_total), 'warning');
    RETURN QUERY SELECT false, floor(coalesce(v_balance, 0))::INTEGER, v_reason;
    RETURN;
  END IF;

  UPDATE workspace_credits
  SET balance = balance - v_total, total_used = coalesce(total_used, 0) + v_total, updated_at = now()
  WHERE workspace_id = p_workspace_id
  RETURNING balance INTO v_balance;

  v_sold := mark_purchase_leads_sold(p_purchase_id);

  UPDATE marketplace_purchases SET status = 'completed', completed_at = now(), credits_used = v_total
  WHERE id = p_purchase_id;

  INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values)
  VALUES (p_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_completed', 'marketplace_purchase', p_purchase_id,
          jsonb_build_object('payment_method', 'credits', 'charged', v_total, 'balance_after', v_balance, 'lead_ids', to_jsonb(v_sold)));

  RETURN QUERY SELECT true, floor(v_balance)::INTEGER, NULL::TEXT;
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
  v_bad UUID[];
  v_sold UUID[];
BEGIN
  SELECT * INTO v_purchase FROM marketplace_purchases WHERE id = p_purchase_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Purchase not found: %', p_purchase_id USING ERRCODE = 'P0002';
  END IF;

  -- A repeated delivery, or a payment already sent to refund: the webhook stops without retrying.
  IF v_purchase.status IN ('completed', 'refund_required', 'refunded', 'partially_refunded') THEN
    RETURN QUERY SELECT false, true, ARRAY[]::UUID[];
    RETURN;
  END IF;
  IF v_purchase.status NOT IN ('pending', 'expired', 'failed') THEN
    RAISE EXCEPTION 'Purchase % is %, it cannot be completed', p_purchase_id, v_purchase.status USING ERRCODE = '55000';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM marketplace_purchase_items WHERE purchase_id = p_purchase_id) THEN
    RAISE EXCEPTION 'No leads found for purchase: %', p_purchase_id USING ERRCODE = 'P0002';
  END IF;

  v_bad := purchase_unsellable_leads(p_purchase_id, v_purchase.buyer_workspace_id);
  IF cardinality(v_bad) > 0 THEN
    -- Paid for a lead that was sold (or is held) meanwhile: never a second sale; the money goes back.
    UPDATE marketplace_purchases
    SET status = 'refund_required', refund_required_at = now(),
        refund_amount = total_price,
        refund_reason = format('Leads sold before the payment arrived: %s', array_to_string(v_bad, ', '))
    WHERE id = p_purchase_id;
    PERFORM release_purchase_reservations(p_purchase_id, v_purchase.buyer_workspace_id);
    INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values, severity)
    VALUES (v_purchase.buyer_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_refund_required', 'marketplace_purchase',
            p_purchase_id, jsonb_build_object('lead_ids', to_jsonb(v_bad), 'total_price', v_purchase.total_price), 'warning');
    RETURN QUERY SELECT false, true, ARRAY[]::UUID[];
    RETURN;
  END IF;

  v_sold := mark_purchase_leads_sold(p_purchase_id);

  UPDATE marketplace_purchases
  SET status = 'completed', completed_at = now(), download_url = p_download_url,
      download_expires_at = now() + interval '90 days'
  WHERE id = p_purchase_id;

  INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values)
  VALUES (v_purchase.buyer_workspace_id, v_purchase.buyer_user_id, 'marketplace_purchase_completed', 'marketplace_purchase',
          p_purchase_id, jsonb_build_object('payment_method', 'stripe', 'total_price', v_purchase.total_price, 'lead_ids', to_jsonb(v_sold)));

  RETURN QUERY SELECT true, false, v_sold;
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

-- Ends reservations past their time and expires the pending credit purchases that held them.
-- Card purchases stay pending: their payment may still arrive, and is then re-checked.
CREATE FUNCTION public.release_expired_lead_reservations() RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE v_leads INTEGER; v_purchases INTEGER;
BEGIN
  UPDATE leads SET reserved_for_workspace_id = NULL, reserved_until = NULL
  WHERE reserved_until IS NOT NULL AND reserved_until <= now();
  GET DIAGNOSTICS v_leads = ROW_COUNT;

  UPDATE marketplace_purchases SET status = 'expired'
  WHERE status = 'pending' AND payment_method = 'credits' AND created_at <= now() - lead_reservation_interval();
  GET DIAGNOSTICS v_purchases = ROW_COUNT;

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
