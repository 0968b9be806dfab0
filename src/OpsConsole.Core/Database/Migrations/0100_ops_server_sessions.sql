-- 0100_ops_server_sessions.sql
--
-- Server-side sessions: the sign-in cookie carries only a session's id; the sign-in itself is a row here, read on
-- every request by every console instance. Signing out deletes the row, so a copied cookie stops working at once.
-- A new security stamp on an account (password reset, role change, disable: the trigger of 0070) deletes the
-- account's rows in the same transaction, and so does deleting the account.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql meta-commands, no
-- BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS ops.sessions (
    id          uuid        PRIMARY KEY,
    -- The local account signed in; null for a single sign-on user (the provider's claims are the ticket's).
    account_id  bigint      REFERENCES ops.accounts (id) ON DELETE CASCADE,
    user_name   text        NOT NULL,
    -- ASP.NET Core's serialized AuthenticationTicket (TicketSerializer).
    ticket      bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    renewed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS sessions_account_idx ON ops.sessions (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_expires_idx ON ops.sessions (expires_at);

CREATE OR REPLACE FUNCTION ops.accounts_end_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ops.sessions WHERE account_id = NEW.id;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS accounts_end_sessions ON ops.accounts;
CREATE TRIGGER accounts_end_sessions
    -- Not "UPDATE OF security_stamp": the stamp is set by the BEFORE trigger, which a column list does not see.
    AFTER UPDATE ON ops.accounts
    FOR EACH ROW WHEN (OLD.security_stamp IS DISTINCT FROM NEW.security_stamp)
    EXECUTE FUNCTION ops.accounts_end_sessions();

GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON ops.sessions TO opsconsole_runtime;
