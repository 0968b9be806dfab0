-- 0001_marketplace_tables.sql
--
-- The marketplace tables of the marketplace database contract (marketplace-contract.md),
-- with the columns, constraints and indexes that 0002_fix_payment_race_conditions.sql
-- relies on.
--
-- In production these tables already exist (the deployment guide only adds columns to
-- `leads`), while tests and new environments start from an empty database. So every
-- statement is "create or add if missing": the script builds the schema from nothing,
-- brings an older schema up to date, and is a no-op when applied again.
--
-- Runs under psql (-v ON_ERROR_STOP=1) and under DbUp (one transaction per script,
-- variables disabled). Therefore: no psql meta-commands, no BEGIN/COMMIT, no
-- CREATE INDEX CONCURRENTLY, and no line holding only a semicolon (DbUp splits there).

-- The console's own tables (sign-offs, users, ...) live apart from the product's tables.
CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS public.workspaces (
    id   uuid PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE IF NOT EXISTS public.leads (
    id                    uuid PRIMARY KEY,
    workspace_id          uuid NOT NULL REFERENCES public.workspaces (id),
    is_marketplace_listed boolean NOT NULL DEFAULT false,
    marketplace_price     numeric(12,2),
    marketplace_status    text NOT NULL DEFAULT 'available',
    sold_count            int NOT NULL DEFAULT 0,
    first_sold_at         timestamptz,
    sold_at               timestamptz
);

-- The guide adds sold_at and marketplace_status to an existing leads table; the other
-- marketplace columns are listed too so that an older table missing any of them is
-- completed rather than half-migrated. The reservation columns are ours: a reservation
-- names its purchase so a lead can be reserved by one purchase only, and expires.
ALTER TABLE public.leads
    ADD COLUMN IF NOT EXISTS is_marketplace_listed   boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS marketplace_price       numeric(12,2),
    ADD COLUMN IF NOT EXISTS marketplace_status      text NOT NULL DEFAULT 'available',
    ADD COLUMN IF NOT EXISTS sold_count              int NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS first_sold_at           timestamptz,
    ADD COLUMN IF NOT EXISTS sold_at                 timestamptz,
    ADD COLUMN IF NOT EXISTS reserved_by_purchase_id uuid,
    ADD COLUMN IF NOT EXISTS reserved_until          timestamptz,
    ADD COLUMN IF NOT EXISTS created_at              timestamptz NOT NULL DEFAULT now();

-- A lead sold before this migration gets marketplace_status 'available' from the new
-- column's default; say 'sold' instead, so the console and invariant 3 see the truth.
-- (The purchase functions refuse sold_count > 0 anyway.) Matches no row on a re-run.
UPDATE public.leads
   SET marketplace_status = 'sold'
 WHERE sold_count > 0
   AND marketplace_status = 'available';

CREATE TABLE IF NOT EXISTS public.workspace_credits (
    workspace_id    uuid PRIMARY KEY REFERENCES public.workspaces (id),
    balance         numeric(12,2) NOT NULL DEFAULT 0,
    total_purchased numeric(12,2) NOT NULL DEFAULT 0,
    total_earned    numeric(12,2) NOT NULL DEFAULT 0,
    total_used      numeric(12,2) NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.marketplace_purchases (
    id                 uuid PRIMARY KEY,
    buyer_workspace_id uuid NOT NULL,
    status             text NOT NULL,
    payment_method     text NOT NULL,
    total_price        numeric(12,2) NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz
);

-- reserved_until: when the checkout stops holding its leads.
-- stripe_*: the payment intent and the webhook event that completed the purchase (or
--   found it too late), so a refund can name the payment.
-- duration_ms: filled by the core library in the same transaction, measured from its
--   first attempt (retries included); the SQL functions never set it.
ALTER TABLE public.marketplace_purchases
    ADD COLUMN IF NOT EXISTS reserved_until           timestamptz,
    ADD COLUMN IF NOT EXISTS stripe_payment_intent_id text,
    ADD COLUMN IF NOT EXISTS stripe_event_id          text,
    ADD COLUMN IF NOT EXISTS duration_ms              numeric(12,3),
    ADD COLUMN IF NOT EXISTS updated_at               timestamptz NOT NULL DEFAULT now();

CREATE TABLE IF NOT EXISTS public.marketplace_purchase_items (
    purchase_id uuid,
    lead_id     uuid,
    price       numeric(12,2) NOT NULL,
    PRIMARY KEY (purchase_id, lead_id)
);

CREATE TABLE IF NOT EXISTS public.audit_logs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action       text NOT NULL,
    workspace_id uuid,
    actor        text,
    details      jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.stripe_webhook_events (
    event_id          text PRIMARY KEY,
    type              text NOT NULL,
    deliveries        int NOT NULL DEFAULT 1,
    first_received_at timestamptz NOT NULL DEFAULT now(),
    last_received_at  timestamptz NOT NULL DEFAULT now()
);

-- Which purchase and payment an event was about, to trace a webhook to its purchase.
ALTER TABLE public.stripe_webhook_events
    ADD COLUMN IF NOT EXISTS purchase_id       uuid,
    ADD COLUMN IF NOT EXISTS payment_intent_id text;

-- Constraints are added by name only when missing: ALTER TABLE ... ADD CONSTRAINT has
-- no IF NOT EXISTS, and a pre-existing table may lack any of them.
-- There is no CHECK (balance >= 0) and no check of the balance formula (invariant 2):
-- rows that drifted before this migration must stay representable, and must still take
-- updates that do not make them worse, until the credit reconciliation editor fixes them.
-- A CHECK, even NOT VALID, refuses every update of a row already below zero (a seller at
-- -50 could then not be paid for a lead sold by card, and the paid webhook would fail
-- forever). The trigger below refuses only what makes a balance negative or more negative.
DO $constraints$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT *
          FROM (VALUES
            ('leads', 'leads_marketplace_status_check',
             $d$CHECK (marketplace_status IN ('available', 'reserved', 'sold', 'unlisted'))$d$),
            ('leads', 'leads_sold_count_check', $d$CHECK (sold_count >= 0)$d$),
            ('leads', 'leads_marketplace_price_check', $d$CHECK (marketplace_price >= 0)$d$),
            ('marketplace_purchases', 'marketplace_purchases_status_check',
             $d$CHECK (status IN ('pending', 'completed', 'failed', 'expired', 'refund_required'))$d$),
            ('marketplace_purchases', 'marketplace_purchases_payment_method_check',
             $d$CHECK (payment_method IN ('credits', 'stripe'))$d$),
            ('marketplace_purchases', 'marketplace_purchases_total_price_check',
             $d$CHECK (total_price >= 0)$d$),
            ('marketplace_purchases', 'marketplace_purchases_buyer_workspace_id_fkey',
             $d$FOREIGN KEY (buyer_workspace_id) REFERENCES public.workspaces (id)$d$),
            ('marketplace_purchase_items', 'marketplace_purchase_items_purchase_id_fkey',
             $d$FOREIGN KEY (purchase_id) REFERENCES public.marketplace_purchases (id)$d$),
            ('marketplace_purchase_items', 'marketplace_purchase_items_lead_id_fkey',
             $d$FOREIGN KEY (lead_id) REFERENCES public.leads (id)$d$),
            ('marketplace_purchase_items', 'marketplace_purchase_items_price_check',
             $d$CHECK (price >= 0)$d$),
            ('leads', 'leads_reserved_by_purchase_id_fkey',
             $d$FOREIGN KEY (reserved_by_purchase_id) REFERENCES public.marketplace_purchases (id)$d$)
          ) AS wanted (table_name, constraint_name, definition)
    LOOP
        IF NOT EXISTS (
            SELECT 1
              FROM pg_constraint
             WHERE conrelid = format('public.%I', c.table_name)::regclass
               AND conname = c.constraint_name
        ) THEN
            EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I %s',
                           c.table_name, c.constraint_name, c.definition);
        END IF;
    END LOOP;
END
$constraints$;

-- A balance may not become negative, nor more negative than it was (drift from before this
-- migration is kept, not hidden, and not worsened). The WHEN clauses are evaluated without
-- calling the function, so the purchase path pays nothing for rows that stay non-negative.
CREATE OR REPLACE FUNCTION public.workspace_credits_refuse_negative_balance()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '23514',
        MESSAGE = format('workspace %s: balance %s would be negative%s', NEW.workspace_id, NEW.balance,
                         CASE WHEN TG_OP = 'UPDATE' THEN format(' and lower than %s', OLD.balance) ELSE '' END);
END
$fn$;

-- AFTER, not BEFORE, INSERT: an INSERT ... ON CONFLICT DO UPDATE that moves credits of an
-- existing row proposes a row holding only the delta, which BEFORE INSERT would judge.
CREATE OR REPLACE TRIGGER workspace_credits_no_new_negative_balance
    AFTER INSERT ON public.workspace_credits
    FOR EACH ROW WHEN (NEW.balance < 0)
    EXECUTE FUNCTION public.workspace_credits_refuse_negative_balance();

CREATE OR REPLACE TRIGGER workspace_credits_no_lower_negative_balance
    BEFORE UPDATE OF balance ON public.workspace_credits
    FOR EACH ROW WHEN (NEW.balance < 0 AND NEW.balance < OLD.balance)
    EXECUTE FUNCTION public.workspace_credits_refuse_negative_balance();

-- Indexes: each serves a function of 0002 or a monitoring query of the deployment guide.
-- Purchases by age: success rate, recent purchases and performance queries.
CREATE INDEX IF NOT EXISTS marketplace_purchases_created_at_idx
    ON public.marketplace_purchases (created_at);
-- release_expired_lead_reservations: only pending purchases can expire, and they are few.
CREATE INDEX IF NOT EXISTS marketplace_purchases_pending_reserved_until_idx
    ON public.marketplace_purchases (reserved_until)
    WHERE status = 'pending';
-- A buyer's purchases, and the foreign key's checks when a workspace is deleted.
CREATE INDEX IF NOT EXISTS marketplace_purchases_buyer_workspace_id_idx
    ON public.marketplace_purchases (buyer_workspace_id);
-- Purchases of a lead (the primary key covers purchase_id first, not lead_id).
CREATE INDEX IF NOT EXISTS marketplace_purchase_items_lead_id_idx
    ON public.marketplace_purchase_items (lead_id);
-- A seller's leads, and the foreign key's checks.
CREATE INDEX IF NOT EXISTS leads_workspace_id_idx
    ON public.leads (workspace_id);
-- No index on leads.reserved_by_purchase_id: the functions reach a purchase's leads through
-- its items (primary key purchase_id, lead_id), and an index on a column every reservation
-- and sale changes would make those updates non-HOT, adding index entries and WAL to each
-- purchase. Room left on each page (fillfactor) lets those updates stay on their page (HOT).
ALTER TABLE public.leads SET (fillfactor = 85);
-- The guide's double-sell detection; stays empty while invariant 1 holds.
CREATE INDEX IF NOT EXISTS leads_double_sold_sold_at_idx
    ON public.leads (sold_at)
    WHERE sold_count > 1;
-- The guide's conflict-rate query and the console's audit views.
CREATE INDEX IF NOT EXISTS audit_logs_action_created_at_idx
    ON public.audit_logs (action, created_at);
-- Webhook duplicate rate over recent deliveries.
CREATE INDEX IF NOT EXISTS stripe_webhook_events_last_received_at_idx
    ON public.stripe_webhook_events (last_received_at);
