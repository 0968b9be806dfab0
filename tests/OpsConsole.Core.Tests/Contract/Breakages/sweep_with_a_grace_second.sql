-- Breakage: release_expired_lead_reservations expires a reservation only a second after it ran out.
-- Caught by: ReleaseExpiredReservationsTests.A_reservation_that_ran_out_at_the_time_of_an_earlier_transaction_is_expired
-- and ...Within_one_transaction_a_reservation_ended_before_now_expires_a_later_one_stays_and_one_ending_at_now_is_handled_whole.
CREATE OR REPLACE FUNCTION public.release_expired_lead_reservations()
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    v_ids uuid[];
BEGIN
    SELECT array_agg(x.id) INTO v_ids
      FROM (SELECT p.id FROM marketplace_purchases AS p
             WHERE p.status = 'pending' AND p.reserved_until < clock_timestamp() - interval '1 second'
             FOR UPDATE SKIP LOCKED) AS x;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    UPDATE marketplace_purchases SET status = 'expired' WHERE id = ANY (v_ids);
    UPDATE leads SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL
     WHERE reserved_by_purchase_id = ANY (v_ids) AND marketplace_status = 'reserved';
    INSERT INTO audit_logs (action, workspace_id, details)
    SELECT 'purchase_expired', buyer_workspace_id, jsonb_build_object('purchase_id', id) FROM marketplace_purchases WHERE id = ANY (v_ids);
    RETURN cardinality(v_ids);
END
$fn$;
