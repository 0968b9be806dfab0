-- 0004_console_additions.sql
--
-- What the console needs beyond the marketplace's schema (0001) and the drop-in fix (0002), additive only:
-- a nullable column, the Stripe webhook event log in ops, the indexes the console's queries need, and the
-- grants and RLS policies its roles (0003) need on the marketplace's tables. The marketplace's own rows,
-- columns, policies and owners are left as they are; RLS stays enabled on every public table, so each console
-- role reads and writes through a policy named "OpsConsole ...".
--
-- Runs before 0030 as the migrating login (on Supabase: postgres, the tables' owner). Idempotent (IF NOT
-- EXISTS, policies created only when missing); no line holding only a semicolon (DbUp splits there).

-- The purchase path's measured duration, written by the console when it completes a purchase. Nullable:
-- the app's own inserts leave it out.
ALTER TABLE public.marketplace_purchases ADD COLUMN IF NOT EXISTS duration_ms numeric(12,3);

-- Every Stripe event the console's receiver saw, once per event id: the duplicate-rate KPI and the trace
-- from a webhook to its purchase. In ops, not public: the marketplace gets no new table from the console.
CREATE TABLE IF NOT EXISTS ops.stripe_webhook_events (
    event_id          text PRIMARY KEY,
    type              text NOT NULL,
    deliveries        int NOT NULL DEFAULT 1,
    first_received_at timestamptz NOT NULL DEFAULT now(),
    last_received_at  timestamptz NOT NULL DEFAULT now(),
    purchase_id       uuid,
    payment_intent_id text
);
CREATE INDEX IF NOT EXISTS stripe_webhook_events_last_received_at_idx ON ops.stripe_webhook_events (last_received_at);
CREATE INDEX IF NOT EXISTS stripe_webhook_events_purchase_id_idx ON ops.stripe_webhook_events (purchase_id) WHERE purchase_id IS NOT NULL;

-- Leads whose sold_count went above 1, noted by a trigger: invariant 1 reads these few rows instead of
-- every lead, and no index on sold_count is needed (no purchase writes this table).
CREATE TABLE IF NOT EXISTS ops.double_sold_leads (
    lead_id  uuid PRIMARY KEY,
    noted_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION ops.note_double_sold_lead()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ops, public, pg_temp
AS $fn$
BEGIN
    INSERT INTO ops.double_sold_leads (lead_id) VALUES (NEW.id) ON CONFLICT (lead_id) DO NOTHING;
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION ops.note_double_sold_lead() FROM PUBLIC;

CREATE OR REPLACE TRIGGER leads_note_double_sold
    AFTER INSERT OR UPDATE OF sold_count ON public.leads
    FOR EACH ROW WHEN (NEW.sold_count > 1)
    EXECUTE FUNCTION ops.note_double_sold_lead();

INSERT INTO ops.double_sold_leads (lead_id)
SELECT l.id FROM public.leads AS l WHERE l.sold_count > 1
ON CONFLICT (lead_id) DO NOTHING;

-- The console's queries. Plain CREATE INDEX (one transaction per script): on a large marketplace create
-- them CONCURRENTLY by hand first, with these names; this is then a no-op.
--   completed purchases by completion time: invariant 1 from the items, over the last hour's sales
CREATE INDEX IF NOT EXISTS marketplace_purchases_completed_at_idx
    ON public.marketplace_purchases (completed_at) WHERE status = 'completed';
--   every window of the metrics, the purchase list
CREATE INDEX IF NOT EXISTS marketplace_purchases_created_at_idx ON public.marketplace_purchases (created_at);
CREATE INDEX IF NOT EXISTS marketplace_purchases_buyer_workspace_id_idx ON public.marketplace_purchases (buyer_workspace_id);
--   the /stripe page's refund queue and expired checkouts
CREATE INDEX IF NOT EXISTS marketplace_purchases_refund_required_idx
    ON public.marketplace_purchases (created_at DESC) WHERE status = 'refund_required';
CREATE INDEX IF NOT EXISTS marketplace_purchases_expired_stripe_idx
    ON public.marketplace_purchases (created_at DESC) WHERE status = 'expired' AND payment_method = 'stripe';
--   a seller's leads (credits, search)
CREATE INDEX IF NOT EXISTS leads_workspace_id_idx ON public.leads (workspace_id);
--   conflicts per minute (metrics), and the audit rows naming a purchase (search, purchase page)
CREATE INDEX IF NOT EXISTS audit_logs_action_created_at_idx ON public.audit_logs (action, created_at);
CREATE INDEX IF NOT EXISTS audit_logs_resource_id_idx ON public.audit_logs (resource_id) WHERE resource_id IS NOT NULL;

-- Grants. The owner role's SECURITY DEFINER functions in ops (metrics rollup, lock views) and its foreign
-- keys (ops.credit_adjustments -> workspaces) read the marketplace's tables; its later migrations add
-- triggers to them. The runtime reads everything the pages show, buys as the app does (purchase and items
-- inserted, duration stored), corrects credit rows (the credit editor) and appends audit rows. The probe
-- reads what the runbook's checks read.
GRANT USAGE ON SCHEMA public TO opsconsole_owner, opsconsole_runtime, opsconsole_probe;
GRANT SELECT ON public.workspaces, public.users, public.partners, public.leads, public.workspace_credits,
                public.marketplace_purchases, public.marketplace_purchase_items, public.audit_logs
    TO opsconsole_owner, opsconsole_runtime, opsconsole_probe;
GRANT REFERENCES ON public.workspaces, public.marketplace_purchases, public.leads TO opsconsole_owner;
GRANT TRIGGER ON public.marketplace_purchases, public.audit_logs, public.leads TO opsconsole_owner;
GRANT INSERT ON public.marketplace_purchases, public.marketplace_purchase_items, public.audit_logs TO opsconsole_runtime;
-- The console buys as the app does, through the drop-in's functions, with EXECUTE of its own rather than
-- membership of service_role (which would bring every table privilege of the marketplace; see 0030).
GRANT EXECUTE ON FUNCTION public.validate_and_lock_leads_for_purchase(uuid[], uuid), public.complete_credit_lead_purchase(uuid, uuid, numeric),
                          public.complete_stripe_lead_purchase(uuid, text), public.mark_leads_sold_bulk(uuid[]),
                          public.release_expired_lead_reservations() TO opsconsole_runtime;
GRANT UPDATE (duration_ms) ON public.marketplace_purchases TO opsconsole_runtime;
-- The refund queue (Core/Stripe/StripeRefunds): a refund Stripe issued moves refund_required to refunded or
-- partially_refunded with the amount refunded. Through the same UPDATE policy as the durations.
GRANT UPDATE (status, refund_amount) ON public.marketplace_purchases TO opsconsole_runtime;
-- The /stripe page tells a card checkout still held from one whose reservation ended by the drop-in's own
-- reservation time (marketplace.reservation_ttl), read through its helper rather than a copy of it.
GRANT EXECUTE ON FUNCTION public.lead_reservation_interval() TO opsconsole_runtime;
GRANT UPDATE (balance, total_purchased, total_earned, total_used, updated_at) ON public.workspace_credits TO opsconsole_runtime;

-- RLS policies for the grants above (RLS applies to every role but the tables' owner and BYPASSRLS roles).
DO $policies$
DECLARE
    p record;
BEGIN
    FOR p IN
        SELECT * FROM (VALUES
            ('workspaces',                 'OpsConsole reads workspaces',       'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('users',                      'OpsConsole reads users',            'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('partners',                   'OpsConsole reads partners',         'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('leads',                      'OpsConsole reads leads',            'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('workspace_credits',          'OpsConsole reads credits',          'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('marketplace_purchases',      'OpsConsole reads purchases',        'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('marketplace_purchase_items', 'OpsConsole reads purchase items',   'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('audit_logs',                 'OpsConsole reads audit logs',       'SELECT', 'opsconsole_owner, opsconsole_runtime, opsconsole_probe'),
            ('marketplace_purchases',      'OpsConsole inserts purchases',      'INSERT', 'opsconsole_runtime'),
            ('marketplace_purchases',      'OpsConsole records durations',      'UPDATE', 'opsconsole_runtime'),
            ('marketplace_purchase_items', 'OpsConsole inserts purchase items', 'INSERT', 'opsconsole_runtime'),
            ('audit_logs',                 'OpsConsole appends audit logs',     'INSERT', 'opsconsole_runtime'),
            ('workspace_credits',          'OpsConsole corrects credits',       'UPDATE', 'opsconsole_runtime')
        ) AS v(tbl, name, cmd, roles)
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'public' AND tablename = p.tbl AND policyname = p.name);
        EXECUTE format('CREATE POLICY %I ON public.%I FOR %s TO %s %s', p.name, p.tbl, p.cmd, p.roles,
                       CASE p.cmd WHEN 'SELECT' THEN 'USING (true)' WHEN 'INSERT' THEN 'WITH CHECK (true)'
                                  ELSE 'USING (true) WITH CHECK (true)' END);
    END LOOP;
END
$policies$;
