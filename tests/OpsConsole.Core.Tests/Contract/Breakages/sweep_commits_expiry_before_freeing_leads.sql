-- Breakage: release_expired_lead_reservations commits the purchases' expiry in a transaction of its own (through
-- dblink), then frees their leads: killed in between, it leaves expired purchases whose leads stay reserved.
-- Caught by: KilledCallTests.An_expiry_sweep_killed_while_freeing_leads_expires_nothing_and_the_next_sweep_expires_every_purchase.
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE OR REPLACE FUNCTION public.release_expired_lead_reservations()
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    v_expired int;
BEGIN
    SELECT count INTO v_expired FROM dblink(
        format('dbname=%s host=127.0.0.1 port=%s user=postgres', current_database(), current_setting('port')),
        $$WITH e AS (UPDATE marketplace_purchases SET status = 'expired'
                     WHERE status = 'pending' AND reserved_until < clock_timestamp() RETURNING 1)
          SELECT count(*)::int FROM e$$) AS r (count int);
    UPDATE leads AS l
       SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL
      FROM marketplace_purchases AS p
     WHERE p.id = l.reserved_by_purchase_id AND p.status = 'expired' AND l.marketplace_status = 'reserved';
    RETURN v_expired;
END
$fn$;
