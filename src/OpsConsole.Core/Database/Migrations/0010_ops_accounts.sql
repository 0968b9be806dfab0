-- The console's own sign-in accounts and per-user preferences, in the console's schema `ops`.
-- Idempotent: it applies with plain psql, and a second time without error.
CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS ops.accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_name       text        NOT NULL,
    role            text        NOT NULL,
    password_hash   text        NOT NULL,
    failed_attempts int         NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_sign_in_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_role_known CHECK (role IN ('engineer', 'support', 'manager', 'admin')),
    CONSTRAINT accounts_user_name_not_blank CHECK (btrim(user_name) <> ''),
    CONSTRAINT accounts_failed_attempts_not_negative CHECK (failed_attempts >= 0)
);

-- User names are matched case-insensitively: "Manager" and "manager" are one account.
CREATE UNIQUE INDEX IF NOT EXISTS accounts_user_name_key ON ops.accounts (lower(user_name));

-- Keyed by the signed-in name, not by accounts.id, so that OpenID Connect users (who have no
-- local account) keep their preferences too.
CREATE TABLE IF NOT EXISTS ops.user_preferences (
    user_name  text        PRIMARY KEY,
    dark_mode  boolean     NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
