-- 0070_ops_sessions.sql
--
-- Sessions and sign-in (issue 11):
-- * ops.accounts.security_stamp, carried in every sign-in cookie and compared when a session is re-checked: a
--   password reset, a role change or disabling the account gives the account a new stamp (a trigger, so every
--   way of changing those columns does it), which ends the account's sessions. ops.accounts.disabled_at.
-- * ops.sign_in_failures: the failure counters of names that have no account, in the database (they survive a
--   restart and are shared by instances), keyed by an HMAC of the normalised name, never the name in clear.
-- * ops.sign_in_secret: the HMAC's key, made here at random; the same key names an unknown name in the log.
-- * ops.data_protection_keys: ASP.NET Data Protection's key ring (cookies and antiforgery tokens), shared by
--   every console instance and kept across restarts.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql meta-commands, no
-- BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

ALTER TABLE ops.accounts ADD COLUMN IF NOT EXISTS security_stamp uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE ops.accounts ADD COLUMN IF NOT EXISTS disabled_at timestamptz;

CREATE OR REPLACE FUNCTION ops.accounts_new_security_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash
       OR NEW.role IS DISTINCT FROM OLD.role
       OR NEW.disabled_at IS DISTINCT FROM OLD.disabled_at
       OR NEW.user_name IS DISTINCT FROM OLD.user_name THEN
        NEW.security_stamp := gen_random_uuid();
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS accounts_security_stamp ON ops.accounts;
CREATE TRIGGER accounts_security_stamp
    BEFORE UPDATE ON ops.accounts
    FOR EACH ROW EXECUTE FUNCTION ops.accounts_new_security_stamp();

CREATE TABLE IF NOT EXISTS ops.sign_in_failures (
    name_key        bytea       PRIMARY KEY,
    failed_attempts int         NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sign_in_failures_key_is_a_hash CHECK (octet_length(name_key) = 32),
    CONSTRAINT sign_in_failures_failed_attempts_not_negative CHECK (failed_attempts >= 0)
);

-- Rows of names nobody tried for a day are removed as failures come in (see AccountService).
CREATE INDEX IF NOT EXISTS sign_in_failures_updated_idx ON ops.sign_in_failures (updated_at);

CREATE TABLE IF NOT EXISTS ops.sign_in_secret (
    id  boolean PRIMARY KEY DEFAULT true,
    key bytea   NOT NULL,
    CONSTRAINT sign_in_secret_one_row CHECK (id),
    CONSTRAINT sign_in_secret_key_length CHECK (octet_length(key) = 32)
);

INSERT INTO ops.sign_in_secret (id, key)
VALUES (true, decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'))
ON CONFLICT (id) DO NOTHING;

-- One row per key ring element (a key or a revocation), as XmlKeyManager stores them; never updated.
CREATE TABLE IF NOT EXISTS ops.data_protection_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    friendly_name text        NOT NULL,
    xml           text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT data_protection_keys_friendly_name_key UNIQUE (friendly_name)
);

GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
-- ops.accounts already has SELECT, INSERT, UPDATE (0030): the stamp, disabled_at and the lockout counters are
-- UPDATEs, and SELECT ... FOR UPDATE needs UPDATE too.
GRANT SELECT, INSERT, UPDATE, DELETE ON ops.sign_in_failures TO opsconsole_runtime;
GRANT SELECT ON ops.sign_in_secret TO opsconsole_runtime;
GRANT SELECT, INSERT ON ops.data_protection_keys TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE ops.data_protection_keys_id_seq TO opsconsole_runtime;
