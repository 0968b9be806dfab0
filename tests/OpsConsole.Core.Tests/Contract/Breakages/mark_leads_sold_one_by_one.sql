-- Breakage: mark_leads_sold_bulk marks the leads in a loop, one UPDATE per lead (same results otherwise).
-- Caught by: MarkLeadsSoldBulkTests.Marks_twenty_leads_with_one_update_statement_not_one_per_lead.
CREATE OR REPLACE FUNCTION public.mark_leads_sold_bulk(p_purchase_id uuid, p_lead_ids uuid[])
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    v_lead uuid;
    v_marked int := 0;
BEGIN
    FOREACH v_lead IN ARRAY p_lead_ids LOOP
        UPDATE leads
           SET marketplace_status = 'sold', sold_count = sold_count + 1, sold_at = now(),
               first_sold_at = coalesce(first_sold_at, now()), reserved_by_purchase_id = NULL, reserved_until = NULL
         WHERE id = v_lead AND reserved_by_purchase_id = p_purchase_id AND marketplace_status = 'reserved';
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'MK409', MESSAGE = format('lead %s is not reserved by %s', v_lead, p_purchase_id);
        END IF;
        v_marked := v_marked + 1;
    END LOOP;
    RETURN v_marked;
END
$fn$;
