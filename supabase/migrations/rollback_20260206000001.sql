-- Undoes 20260206000001_fix_payment_race_conditions.sql: the functions, columns and types it found come
-- back as they were (recorded in payment_fix_rollback_state when it was first applied).
-- Credit amounts with fractions round to whole credits when the INTEGER columns come back.
-- Run with: psql -v ON_ERROR_STOP=1 -f rollback_20260206000001.sql

BEGIN;
SET LOCAL client_min_messages = warning;

DO $$
BEGIN
  IF to_regclass('public.payment_fix_rollback_state') IS NULL THEN
    RAISE EXCEPTION 'payment_fix_rollback_state is missing: 20260206000001 is not applied here' USING ERRCODE = '55000';
  END IF;
END $$;

-- Every overload of every name the migration defines (a bare DROP FUNCTION name fails once two exist).
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

ALTER TABLE public.leads DROP COLUMN IF EXISTS reserved_for_workspace_id;
ALTER TABLE public.leads DROP COLUMN IF EXISTS reserved_until;
ALTER TABLE public.marketplace_purchases DROP COLUMN IF EXISTS refund_required_at;

DO $$
DECLARE r record; v_tbl text; v_col text;
BEGIN
  FOR r IN SELECT name, definition FROM public.payment_fix_rollback_state WHERE kind = 'column' LOOP
    v_tbl := split_part(r.name, '.', 1);
    v_col := split_part(r.name, '.', 2);
    IF r.definition = '' THEN
      EXECUTE format('ALTER TABLE public.%I DROP COLUMN IF EXISTS %I', v_tbl, v_col);
    ELSE
      EXECUTE format('ALTER TABLE public.%I ALTER COLUMN %I TYPE %s', v_tbl, v_col, r.definition);
    END IF;
  END LOOP;

  IF EXISTS (SELECT 1 FROM public.payment_fix_rollback_state WHERE kind = 'index' AND name = 'idx_leads_marketplace_status' AND definition = '') THEN
    DROP INDEX IF EXISTS public.idx_leads_marketplace_status;
  END IF;

  -- The functions that were there before, with their grants.
  FOR r IN SELECT name, definition, acl, comment FROM public.payment_fix_rollback_state WHERE kind = 'function' LOOP
    EXECUTE r.definition;
    IF r.comment IS NOT NULL THEN
      EXECUTE format('COMMENT ON FUNCTION %s IS %L', r.name, r.comment);
    END IF;
    IF r.acl IS NOT NULL THEN
      EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.name);
      EXECUTE (SELECT string_agg(format('GRANT EXECUTE ON FUNCTION %s TO %s', r.name,
                                        CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END), '; ')
               FROM aclexplode(r.acl::aclitem[]) a
               WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> (SELECT proowner FROM pg_proc WHERE oid = r.name::regprocedure));
    END IF;
  END LOOP;
END $$;

DROP TABLE public.payment_fix_rollback_state;

COMMIT;
