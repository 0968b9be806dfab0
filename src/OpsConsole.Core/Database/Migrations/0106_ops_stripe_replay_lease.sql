-- 0106_ops_stripe_replay_lease.sql
--
-- The replay of missed Stripe events is leased, not locked: an instance claims this one row with a short UPDATE, pages
-- through Stripe's API over HTTP outside any transaction, renews the lease as it goes and clears it when done. Another
-- instance finds the lease held and does not start; one that died holding it loses it when leased_until passes.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql meta-commands, no
-- BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS ops.stripe_replay_lease (
    id           int         PRIMARY KEY,
    holder       uuid,
    leased_until timestamptz,
    CONSTRAINT stripe_replay_lease_one_row CHECK (id = 1),
    CONSTRAINT stripe_replay_lease_whole CHECK ((holder IS NULL) = (leased_until IS NULL))
);

INSERT INTO ops.stripe_replay_lease (id) VALUES (1) ON CONFLICT (id) DO NOTHING;

GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
GRANT SELECT, UPDATE ON ops.stripe_replay_lease TO opsconsole_runtime;
