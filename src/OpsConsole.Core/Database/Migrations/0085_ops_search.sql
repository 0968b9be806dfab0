-- 0085_ops_search.sql
--
-- Indexes for the search box (Core/Search) and the purchase page it lands on: a Stripe payment
-- intent in the delivery log, a backend pid in the record of cancels and terminates, and the audit
-- rows naming a purchase (details->>'purchase_id'). Without them each lookup reads its whole table.
--
-- Plain CREATE INDEX (DbUp runs each script in a transaction): it blocks inserts into the table while
-- it builds. On a large marketplace create them CONCURRENTLY by hand before deploying, with these
-- names; the script is then a no-op. Runs as opsconsole_owner, which owns the tables. Indexes need
-- no grant: opsconsole_runtime already reads all three tables (0030, 0040, 0060), and this migration
-- grants nothing new.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error.

CREATE INDEX IF NOT EXISTS stripe_deliveries_payment_intent_idx
    ON ops.stripe_deliveries (payment_intent_id)
    WHERE payment_intent_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS lock_actions_pid_idx
    ON ops.lock_actions (pid, id DESC);

CREATE INDEX IF NOT EXISTS audit_logs_purchase_id_idx
    ON public.audit_logs ((details ->> 'purchase_id'));
