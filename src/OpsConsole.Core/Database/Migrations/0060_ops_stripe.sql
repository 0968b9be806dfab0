-- 0060_ops_stripe.sql
--
-- The Stripe receiver's records (/stripe): every webhook delivery, every refund attempt, every
-- replay of missed events and every reservation-expiry sweep.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql
-- meta-commands, no BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only
-- a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

-- One row per delivery, accepted or not. A delivery whose signature was refused is kept without
-- anything from its body (event id and type stay NULL: nothing unverified is believed). A row
-- of an accepted delivery is written in the same transaction as the purchase change it caused.
CREATE TABLE IF NOT EXISTS ops.stripe_deliveries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at       timestamptz   NOT NULL DEFAULT clock_timestamp(),
    source            text          NOT NULL,
    event_id          text,
    event_type        text,
    api_version       text,
    signature         text          NOT NULL,
    outcome           text          NOT NULL,
    http_status       int           NOT NULL,
    purchase_id       uuid,
    payment_intent_id text,
    duration_ms       numeric(12,3) NOT NULL,
    error             text,
    CONSTRAINT stripe_deliveries_source_known CHECK (source IN ('webhook', 'replay')),
    CONSTRAINT stripe_deliveries_signature_known CHECK (signature IN ('valid', 'invalid', 'stale', 'missing', 'api')),
    CONSTRAINT stripe_deliveries_outcome_known CHECK (outcome IN (
        'completed', 'duplicate', 'already_completed', 'refund_required', 'ignored', 'problem',
        'rejected', 'malformed', 'unavailable')),
    CONSTRAINT stripe_deliveries_rejected_carry_nothing CHECK (
        signature IN ('valid', 'api') OR (event_id IS NULL AND event_type IS NULL AND purchase_id IS NULL))
);

CREATE INDEX IF NOT EXISTS stripe_deliveries_received_idx ON ops.stripe_deliveries (received_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS stripe_deliveries_event_idx ON ops.stripe_deliveries (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS stripe_deliveries_purchase_idx ON ops.stripe_deliveries (purchase_id) WHERE purchase_id IS NOT NULL;

-- Every refund attempt, kept: who asked, with which idempotency key, and what Stripe answered
-- (its refund, or its error as it worded it). A purchase counts as refunded only through a row
-- with outcome 'issued', which exists only after Stripe returned a refund; at most one per purchase.
CREATE TABLE IF NOT EXISTS ops.stripe_refunds (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_id       uuid          NOT NULL,
    payment_intent_id text          NOT NULL,
    idempotency_key   text          NOT NULL,
    outcome           text          NOT NULL,
    refund_id         text,
    refund_status     text,
    amount_minor      bigint,
    currency          text,
    error_code        text,
    error_message     text,
    actor_id          text          NOT NULL,
    actor             text          NOT NULL,
    created_at        timestamptz   NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT stripe_refunds_outcome_known CHECK (outcome IN ('issued', 'error')),
    CONSTRAINT stripe_refunds_issued_has_refund CHECK (outcome <> 'issued' OR refund_id IS NOT NULL),
    CONSTRAINT stripe_refunds_error_has_message CHECK (outcome <> 'error' OR error_message IS NOT NULL)
);

CREATE UNIQUE INDEX IF NOT EXISTS stripe_refunds_one_issued_idx ON ops.stripe_refunds (purchase_id) WHERE outcome = 'issued';
CREATE INDEX IF NOT EXISTS stripe_refunds_purchase_idx ON ops.stripe_refunds (purchase_id, id DESC);

-- Each replay of missed events: what the Stripe API listed and how many were applied.
CREATE TABLE IF NOT EXISTS ops.stripe_replays (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz   NOT NULL,
    finished_at timestamptz   NOT NULL DEFAULT clock_timestamp(),
    trigger     text          NOT NULL,
    actor       text,
    listed      int           NOT NULL,
    applied     int           NOT NULL,
    error       text,
    CONSTRAINT stripe_replays_trigger_known CHECK (trigger IN ('schedule', 'manual'))
);

CREATE INDEX IF NOT EXISTS stripe_replays_latest_idx ON ops.stripe_replays (id DESC);

-- Each sweep of release_expired_lead_reservations(), by whichever instance held the lock.
CREATE TABLE IF NOT EXISTS ops.stripe_expiry_sweeps (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance    text          NOT NULL,
    started_at  timestamptz   NOT NULL,
    finished_at timestamptz   NOT NULL DEFAULT clock_timestamp(),
    expired     int           NOT NULL
);

CREATE INDEX IF NOT EXISTS stripe_expiry_sweeps_latest_idx ON ops.stripe_expiry_sweeps (started_at DESC);

-- The /stripe page's lists of card purchases: the refund queue and the expired checkouts. Both
-- keyed on created_at, which never changes, and filtered on status, which the pending-purchase
-- index already watches, so no purchase update that was HOT before stops being HOT.
CREATE INDEX IF NOT EXISTS marketplace_purchases_refund_required_idx
    ON public.marketplace_purchases (created_at DESC)
    WHERE status = 'refund_required';
CREATE INDEX IF NOT EXISTS marketplace_purchases_expired_stripe_idx
    ON public.marketplace_purchases (created_at DESC)
    WHERE status = 'expired' AND payment_method = 'stripe';

-- The running console: records are appended and read, never changed. DELETE on the delivery log
-- only, for its retention (Stripe:DeliveryRetention): it holds one row per HTTP request, also
-- for forged requests that anyone can send, so it must not grow without bound. Refund attempts
-- are money evidence and are never deleted; replays and sweeps are a few thousand small rows a day.
GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
GRANT SELECT, INSERT, DELETE ON ops.stripe_deliveries TO opsconsole_runtime;
GRANT SELECT, INSERT ON ops.stripe_refunds, ops.stripe_replays, ops.stripe_expiry_sweeps TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE ops.stripe_deliveries_id_seq, ops.stripe_refunds_id_seq,
    ops.stripe_replays_id_seq, ops.stripe_expiry_sweeps_id_seq TO opsconsole_runtime;
