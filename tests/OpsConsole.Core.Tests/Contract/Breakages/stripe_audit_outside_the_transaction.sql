-- Breakage: complete_stripe_lead_purchase writes its purchase_completed audit row in a transaction of its own
-- (through dblink) before doing the work, so a payment killed half way leaves a completion on record.
-- Caught by: KilledCallTests.A_card_payment_killed_while_crediting_the_seller_leaves_nothing_and_its_redelivery_completes_the_purchase.
CREATE EXTENSION IF NOT EXISTS dblink;
ALTER FUNCTION public.complete_stripe_lead_purchase(uuid, text, text) RENAME TO complete_stripe_lead_purchase_intact;
CREATE FUNCTION public.complete_stripe_lead_purchase(p_purchase_id uuid, p_stripe_event_id text, p_payment_intent_id text)
RETURNS TABLE (purchase_id uuid, status text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
    PERFORM dblink_exec(
        format('dbname=%s host=127.0.0.1 port=%s user=postgres', current_database(), current_setting('port')),
        format($$INSERT INTO audit_logs (action, details) VALUES ('purchase_completed', jsonb_build_object('purchase_id', %L::uuid))$$, p_purchase_id));
    RETURN QUERY SELECT * FROM complete_stripe_lead_purchase_intact(p_purchase_id, p_stripe_event_id, p_payment_intent_id);
END
$fn$;
