-- 0050_ops_credits.sql
--
-- The credit reconciliation editor (/credits): a journal of credit adjustments, each a correcting
-- entry with its deltas, reason, maker and the row's values before and after, and the journal's
-- status changes as appended events.
--
-- Append-only, also for status: an adjustment row is written once and never updated. Its status
-- (pending_approval, applied, rejected, reversed) is the status of its latest row in
-- ops.credit_adjustment_events, which is append-only too; approving a pending adjustment appends an
-- 'applied' event, rejecting it a 'rejected' one, applying its reversal a 'reversed' one. So the
-- console's role needs SELECT and INSERT on both tables and nothing else, and a status can be
-- reached at most once per adjustment (unique (adjustment_id, status)).
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql
-- meta-commands, no BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only
-- a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS ops.credit_adjustments (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id          uuid          NOT NULL REFERENCES public.workspaces (id),
    balance_delta         numeric(12,2) NOT NULL DEFAULT 0,
    total_purchased_delta numeric(12,2) NOT NULL DEFAULT 0,
    total_earned_delta    numeric(12,2) NOT NULL DEFAULT 0,
    total_used_delta      numeric(12,2) NOT NULL DEFAULT 0,
    reason                text          NOT NULL,
    ticket                text,
    maker_id              text          NOT NULL,
    maker_name            text          NOT NULL,
    created_at            timestamptz   NOT NULL DEFAULT clock_timestamp(),
    -- The opaque version of the credit row the maker saw; approval re-checks it.
    seen_version          text          NOT NULL,
    -- The row's values (balance, totalPurchased, totalEarned, totalUsed) the maker saw, and after the deltas.
    before                jsonb         NOT NULL,
    after                 jsonb         NOT NULL,
    reverses_id           bigint        REFERENCES ops.credit_adjustments (id),
    batch_id              uuid,
    CONSTRAINT credit_adjustments_reason_long_enough CHECK (char_length(btrim(reason)) >= 10),
    CONSTRAINT credit_adjustments_changes_something CHECK (
        balance_delta <> 0 OR total_purchased_delta <> 0 OR total_earned_delta <> 0 OR total_used_delta <> 0)
);

CREATE INDEX IF NOT EXISTS credit_adjustments_workspace_idx ON ops.credit_adjustments (workspace_id, id);
CREATE INDEX IF NOT EXISTS credit_adjustments_reverses_idx ON ops.credit_adjustments (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS credit_adjustments_batch_idx ON ops.credit_adjustments (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS ops.credit_adjustment_events (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    adjustment_id bigint      NOT NULL REFERENCES ops.credit_adjustments (id),
    workspace_id  uuid        NOT NULL,
    status        text        NOT NULL,
    actor_id      text        NOT NULL,
    actor_name    text        NOT NULL,
    reason        text,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- For 'applied': the row's values just before and just after the deltas were applied.
    before        jsonb,
    after         jsonb,
    CONSTRAINT credit_adjustment_events_status_known CHECK (status IN ('pending_approval', 'applied', 'rejected', 'reversed')),
    CONSTRAINT credit_adjustment_events_once UNIQUE (adjustment_id, status)
);

CREATE INDEX IF NOT EXISTS credit_adjustment_events_workspace_idx ON ops.credit_adjustment_events (workspace_id, id);
CREATE INDEX IF NOT EXISTS credit_adjustment_events_status_idx ON ops.credit_adjustment_events (status, adjustment_id);

-- Append-only for everyone, the owner included: a correction is corrected by a new entry.
CREATE OR REPLACE FUNCTION ops.credit_journal_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE OR REPLACE TRIGGER credit_adjustments_append_only
    BEFORE UPDATE OR DELETE ON ops.credit_adjustments
    FOR EACH ROW EXECUTE FUNCTION ops.credit_journal_refuse_change();

CREATE OR REPLACE TRIGGER credit_adjustments_no_truncate
    BEFORE TRUNCATE ON ops.credit_adjustments
    FOR EACH STATEMENT EXECUTE FUNCTION ops.credit_journal_refuse_change();

CREATE OR REPLACE TRIGGER credit_adjustment_events_append_only
    BEFORE UPDATE OR DELETE ON ops.credit_adjustment_events
    FOR EACH ROW EXECUTE FUNCTION ops.credit_journal_refuse_change();

CREATE OR REPLACE TRIGGER credit_adjustment_events_no_truncate
    BEFORE TRUNCATE ON ops.credit_adjustment_events
    FOR EACH STATEMENT EXECUTE FUNCTION ops.credit_journal_refuse_change();

-- Every console instance LISTENs on this channel; NOTIFY is delivered at commit, so nobody hears
-- of a change that was rolled back. Payload: "<workspace id>:<adjustment id>".
CREATE OR REPLACE FUNCTION ops.credit_adjustment_events_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM pg_notify('ops_credit_changes', NEW.workspace_id::text || ':' || NEW.adjustment_id::text);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER credit_adjustment_events_notify
    AFTER INSERT ON ops.credit_adjustment_events
    FOR EACH ROW EXECUTE FUNCTION ops.credit_adjustment_events_notify();

-- What the running console needs for credits: read the records, lock and move the four columns of a
-- credit row (SELECT ... FOR UPDATE needs UPDATE on a column), append to the journal and audit_logs.
GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
GRANT SELECT, INSERT ON ops.credit_adjustments, ops.credit_adjustment_events TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE ops.credit_adjustments_id_seq, ops.credit_adjustment_events_id_seq TO opsconsole_runtime;
GRANT SELECT ON public.workspaces, public.leads, public.marketplace_purchases, public.marketplace_purchase_items
    TO opsconsole_runtime;
GRANT SELECT, UPDATE (balance, total_purchased, total_earned, total_used, updated_at) ON public.workspace_credits
    TO opsconsole_runtime;
GRANT SELECT, INSERT ON public.audit_logs TO opsconsole_runtime;

DO $grants$
BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO opsconsole_runtime', pg_get_serial_sequence('public.audit_logs', 'id'));
END
$grants$;
