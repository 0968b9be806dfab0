-- 0105_ops_stripe_rejections.sql
--
-- Refused webhook requests (bad, stale or missing signature, or a signed body that is no event) are counted here, one
-- row per client, minute and reason, instead of one delivery row each: junk cannot grow the delivery log, and this
-- table holds at most (clients per minute, capped by the console) x (reasons) rows per minute kept.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql meta-commands, no
-- BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS ops.stripe_rejections (
    -- The client's address (an IPv6 client by its /64), or 'other' past the per-minute cap of clients.
    client     text        NOT NULL,
    minute     timestamptz NOT NULL,
    reason     text        NOT NULL,
    count      bigint      NOT NULL,
    CONSTRAINT stripe_rejections_reason_known CHECK (reason IN ('missing', 'invalid', 'stale', 'malformed', 'throttled')),
    CONSTRAINT stripe_rejections_count_positive CHECK (count > 0),
    PRIMARY KEY (client, minute, reason)
);

CREATE INDEX IF NOT EXISTS stripe_rejections_minute_idx ON ops.stripe_rejections (minute);

-- Upserted (INSERT ... ON CONFLICT DO UPDATE needs UPDATE) and pruned past the retention.
GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON ops.stripe_rejections TO opsconsole_runtime;
