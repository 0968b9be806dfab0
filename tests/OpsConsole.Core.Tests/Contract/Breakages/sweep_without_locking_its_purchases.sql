-- Breakage: release_expired_lead_reservations reads the purchases to expire without locking them, and then
-- expires them and frees their leads without checking again, so a completion that commits in between is undone
-- (purchase expired, leads available, credits already moved). The pg_sleep widens the window the bug has anyway.
-- Caught by: ReleaseExpiredReservationsTests.A_credit_completion_racing_the_sweep_at_expiry_ends_completed_or_expired_never_a_mix.
CREATE OR REPLACE FUNCTION public.release_expired_lead_reservations()
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    v_ids uuid[];
BEGIN
    SELECT array_agg(p.id) INTO v_ids FROM marketplace_purchases AS p
     WHERE p.status = 'pending' AND p.reserved_until < clock_timestamp();
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pg_sleep(0.2);
    UPDATE marketplace_purchases SET status = 'expired' WHERE id = ANY (v_ids);
    UPDATE leads SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL
     WHERE id IN (SELECT lead_id FROM marketplace_purchase_items WHERE purchase_id = ANY (v_ids));
    RETURN cardinality(v_ids);
END
$fn$;
