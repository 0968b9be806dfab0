-- 0020_ops_deployments.sql
--
-- The deployment checklist (/deployments): runbook template versions, runs, one row per item
-- state, contact fields, probe evidence, notes, and an append-only timeline whose inserts are
-- announced on channel ops_deployment_events so that every console instance can refresh.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql
-- meta-commands, no BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only
-- a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

-- One row per version of a runbook file that a run was started from: a run keeps the text it
-- started with, whatever the file says later.
CREATE TABLE IF NOT EXISTS ops.deployment_templates (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         text        NOT NULL,
    version_hash text        NOT NULL,
    title        text        NOT NULL,
    markdown     text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deployment_templates_version_key UNIQUE (slug, version_hash)
);

CREATE TABLE IF NOT EXISTS ops.deployment_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template_id    bigint      NOT NULL REFERENCES ops.deployment_templates (id),
    title          text        NOT NULL,
    status         text        NOT NULL DEFAULT 'INCOMPLETE',
    started_by     text        NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    deployed_by    text,
    deployed_at    timestamptz,
    verified_by    text,
    verified_at    timestamptz,
    approved_by    text,
    approved_at    timestamptz,
    rolled_back_by text,
    rolled_back_at timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deployment_runs_status_known CHECK (status IN ('INCOMPLETE', 'COMPLETE', 'ROLLED BACK')),
    -- The four-eyes rules the service enforces, kept by the table too (user names are case-insensitive).
    CONSTRAINT deployment_runs_signature_pairs CHECK (
        (deployed_by IS NULL) = (deployed_at IS NULL) AND (verified_by IS NULL) = (verified_at IS NULL)
        AND (approved_by IS NULL) = (approved_at IS NULL) AND (rolled_back_by IS NULL) = (rolled_back_at IS NULL)),
    CONSTRAINT deployment_runs_verifier_not_deployer CHECK (
        verified_by IS NULL OR (deployed_by IS NOT NULL AND lower(verified_by) <> lower(deployed_by))),
    CONSTRAINT deployment_runs_approver_is_a_third_person CHECK (
        approved_by IS NULL OR (verified_by IS NOT NULL
            AND lower(approved_by) <> lower(deployed_by) AND lower(approved_by) <> lower(verified_by))),
    CONSTRAINT deployment_runs_status_matches_signatures CHECK (
        (status = 'COMPLETE') = (approved_by IS NOT NULL) AND (status = 'ROLLED BACK') = (rolled_back_by IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS deployment_runs_started_at_idx ON ops.deployment_runs (started_at DESC);

-- One row per item that has ever been touched; an item without a row is unchecked. Each tick
-- writes its own row, so two people ticking different items never overwrite each other.
CREATE TABLE IF NOT EXISTS ops.deployment_item_states (
    run_id     bigint      NOT NULL REFERENCES ops.deployment_runs (id),
    item_key   text        NOT NULL,
    state      text        NOT NULL,
    reason     text,
    version    int         NOT NULL DEFAULT 1,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, item_key),
    CONSTRAINT deployment_item_states_state_known CHECK (state IN ('unchecked', 'checked', 'na')),
    CONSTRAINT deployment_item_states_na_has_reason CHECK (state <> 'na' OR btrim(coalesce(reason, '')) <> '')
);

CREATE TABLE IF NOT EXISTS ops.deployment_contacts (
    run_id     bigint      NOT NULL REFERENCES ops.deployment_runs (id),
    field_key  text        NOT NULL,
    value      text        NOT NULL,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, field_key)
);

-- Evidence: every probe execution, kept. The latest per probe is what approval looks at.
CREATE TABLE IF NOT EXISTS ops.deployment_probe_results (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint        NOT NULL REFERENCES ops.deployment_runs (id),
    probe_key   text          NOT NULL,
    batch_id    uuid          NOT NULL,
    sql         text          NOT NULL,
    passed      boolean       NOT NULL,
    message     text          NOT NULL,
    columns     jsonb         NOT NULL DEFAULT '[]',
    rows        jsonb         NOT NULL DEFAULT '[]',
    row_count   int           NOT NULL DEFAULT 0,
    duration_ms numeric(12,3) NOT NULL,
    run_by      text          NOT NULL,
    run_at      timestamptz   NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS deployment_probe_results_latest_idx ON ops.deployment_probe_results (run_id, probe_key, id DESC);

CREATE TABLE IF NOT EXISTS ops.deployment_notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     bigint      NOT NULL REFERENCES ops.deployment_runs (id),
    author     text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deployment_notes_body_not_blank CHECK (btrim(body) <> '')
);

CREATE INDEX IF NOT EXISTS deployment_notes_run_idx ON ops.deployment_notes (run_id, id);

-- The audit timeline: who did what, when, with the state before and after. Append-only.
CREATE TABLE IF NOT EXISTS ops.deployment_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     bigint      NOT NULL REFERENCES ops.deployment_runs (id),
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    subject    text,
    summary    text        NOT NULL,
    before     jsonb,
    after      jsonb
);

CREATE INDEX IF NOT EXISTS deployment_events_run_idx ON ops.deployment_events (run_id, id);

CREATE OR REPLACE FUNCTION ops.deployment_events_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION 'ops.deployment_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE OR REPLACE TRIGGER deployment_events_append_only
    BEFORE UPDATE OR DELETE ON ops.deployment_events
    FOR EACH ROW EXECUTE FUNCTION ops.deployment_events_refuse_change();

CREATE OR REPLACE TRIGGER deployment_events_no_truncate
    BEFORE TRUNCATE ON ops.deployment_events
    FOR EACH STATEMENT EXECUTE FUNCTION ops.deployment_events_refuse_change();

-- Every console instance LISTENs on this channel. NOTIFY is delivered at commit, so a viewer never
-- hears of a change that was rolled back. Payload: "<run id>:<event id>".
CREATE OR REPLACE FUNCTION ops.deployment_events_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM pg_notify('ops_deployment_events', NEW.run_id::text || ':' || NEW.id::text);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER deployment_events_notify
    AFTER INSERT ON ops.deployment_events
    FOR EACH ROW EXECUTE FUNCTION ops.deployment_events_notify();
