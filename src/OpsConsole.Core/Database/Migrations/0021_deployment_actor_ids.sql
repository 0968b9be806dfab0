-- 0021_deployment_actor_ids.sql
--
-- Four-eyes compares stable identities, not names: next to every name the deployment tables keep
-- (a signature, who ticked an item, who wrote a note, who acted in the timeline) the actor's id
-- (`local:<account id>` or `oidc:<issuer>|<subject>`). The names stay, for people to read. Rows
-- written before this migration have no id (NULL); for them the rules fall back to the names.
--
-- Also grants the running console what it needs on the deployment tables: the timeline, the
-- evidence and the notes are append-only, so on them it gets SELECT and INSERT only.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql
-- meta-commands, no BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only
-- a semicolon (DbUp splits there).

ALTER TABLE ops.deployment_runs
    ADD COLUMN IF NOT EXISTS started_by_id     text,
    ADD COLUMN IF NOT EXISTS deployed_by_id    text,
    ADD COLUMN IF NOT EXISTS verified_by_id    text,
    ADD COLUMN IF NOT EXISTS approved_by_id    text,
    ADD COLUMN IF NOT EXISTS rolled_back_by_id text;

ALTER TABLE ops.deployment_item_states ADD COLUMN IF NOT EXISTS updated_by_id text;
ALTER TABLE ops.deployment_contacts ADD COLUMN IF NOT EXISTS updated_by_id text;
ALTER TABLE ops.deployment_probe_results ADD COLUMN IF NOT EXISTS run_by_id text;
ALTER TABLE ops.deployment_notes ADD COLUMN IF NOT EXISTS author_id text;
ALTER TABLE ops.deployment_events ADD COLUMN IF NOT EXISTS actor_id text;

-- The table's own four-eyes checks compared names, so two people with one display name could not
-- both sign. They compare ids now, and names only where a signature predates the ids.
CREATE OR REPLACE FUNCTION ops.deployment_same_actor(a_name text, a_id text, b_name text, b_id text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $fn$
    SELECT CASE WHEN a_id IS NOT NULL AND b_id IS NOT NULL THEN a_id = b_id ELSE lower(a_name) = lower(b_name) END
$fn$;

ALTER TABLE ops.deployment_runs DROP CONSTRAINT IF EXISTS deployment_runs_verifier_not_deployer;
ALTER TABLE ops.deployment_runs ADD CONSTRAINT deployment_runs_verifier_not_deployer CHECK (
    verified_by IS NULL OR (deployed_by IS NOT NULL
        AND NOT ops.deployment_same_actor(verified_by, verified_by_id, deployed_by, deployed_by_id)));

ALTER TABLE ops.deployment_runs DROP CONSTRAINT IF EXISTS deployment_runs_approver_is_a_third_person;
ALTER TABLE ops.deployment_runs ADD CONSTRAINT deployment_runs_approver_is_a_third_person CHECK (
    approved_by IS NULL OR (verified_by IS NOT NULL
        AND NOT ops.deployment_same_actor(approved_by, approved_by_id, deployed_by, deployed_by_id)
        AND NOT ops.deployment_same_actor(approved_by, approved_by_id, verified_by, verified_by_id)));

GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
GRANT EXECUTE ON FUNCTION ops.deployment_same_actor(text, text, text, text) TO opsconsole_runtime;
GRANT SELECT, INSERT, UPDATE ON ops.deployment_templates, ops.deployment_runs, ops.deployment_item_states, ops.deployment_contacts
    TO opsconsole_runtime;
GRANT SELECT, INSERT ON ops.deployment_probe_results, ops.deployment_notes, ops.deployment_events TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE ops.deployment_templates_id_seq, ops.deployment_runs_id_seq, ops.deployment_probe_results_id_seq,
    ops.deployment_notes_id_seq, ops.deployment_events_id_seq TO opsconsole_runtime;
