-- 0030_least_privilege.sql
--
-- Least privilege for the console's three group roles (0003):
--   opsconsole_owner    owns the console's objects: the schema ops and everything in it. The marketplace's
--                       tables and the drop-in's functions keep their owner (on Supabase: postgres); the
--                       owner role reads them through the grants and policies of 0004.
--   opsconsole_runtime  owns nothing; EXECUTE on the five functions (0004, never service_role), the reads and
--                       writes the console's code makes, and on audit and evidence tables INSERT and
--                       SELECT only: no UPDATE, DELETE, TRUNCATE, and no DDL anywhere.
--   opsconsole_probe    SELECT on what the shipped runbook's checks read, and EXECUTE on the five functions
--                       (directly and through service_role) so that information_schema shows it the functions
--                       and their grants; a check runs in a read-only transaction, where a purchase function
--                       fails at its first write.
--
-- Later migrations run as opsconsole_owner (DatabaseMigrator switches role once this one is applied) and
-- GRANT their own objects to opsconsole_runtime explicitly; no default privileges are set, because an
-- append-only table must not get UPDATE by default.
--
-- Idempotent (applies twice with plain psql). Changing an owner needs a superuser or a member of the
-- current owner; a migrator without that fails here with PostgreSQL's "must be owner" error, and the README
-- (Security) gives the one-time SQL for the database administrator.

-- 1. Ownership.
DO $own$
DECLARE
    obj record;
BEGIN
    IF (SELECT nspowner FROM pg_namespace WHERE nspname = 'ops') <> 'opsconsole_owner'::regrole THEN
        ALTER SCHEMA ops OWNER TO opsconsole_owner;
    END IF;

    -- Tables, views and free-standing sequences of ops. Sequences of identity columns follow their table.
    FOR obj IN
        SELECT c.oid::regclass AS name, c.relkind
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relowner <> 'opsconsole_owner'::regrole
          AND n.nspname = 'ops'
          AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend AS d
                                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO opsconsole_owner',
                       CASE obj.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                       obj.name);
    END LOOP;

    -- Functions of ops.
    FOR obj IN
        SELECT p.oid::regprocedure AS name, p.prokind
        FROM pg_proc AS p
        JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE p.proowner <> 'opsconsole_owner'::regrole
          AND n.nspname = 'ops'
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO opsconsole_owner', CASE obj.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, obj.name);
    END LOOP;
END
$own$;

-- 2. Nobody but the owner creates objects in public (PostgreSQL 15 already starts that way; older
--    databases let PUBLIC create there). Only when PUBLIC still has it, so a migrator that does not own
--    public passes once the administrator has revoked it.
DO $public$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_namespace AS n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
               WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
    -- The owner, which runs every later migration, still creates its objects in public (indexes, functions).
    BEGIN
        GRANT CREATE ON SCHEMA public TO opsconsole_owner;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'public is not ours to grant on: GRANT CREATE ON SCHEMA public TO opsconsole_owner as its owner';
    END;
END
$public$;

REVOKE ALL ON SCHEMA ops FROM PUBLIC;

-- Later migrations run as the owner and say CREATE SCHEMA IF NOT EXISTS, which needs CREATE on the database.
DO $database$
BEGIN
    IF NOT has_database_privilege('opsconsole_owner', current_database(), 'CREATE') THEN
        EXECUTE format('GRANT CREATE ON DATABASE %I TO opsconsole_owner', current_database());
    END IF;
END
$database$;

-- 3. The runtime role is NOT a member of service_role: that role carries every table privilege of the
--    marketplace and its "Service role bypass" policies, which would let the console rewrite any credit row or
--    delete workspaces. It calls the five functions through its own EXECUTE (0004) and reaches the tables only
--    through the grants and policies of 0004. The probe is a member, for information_schema's sake (section 4);
--    its checks run in read-only transactions.
DO $service$
BEGIN
    IF NOT pg_has_role('opsconsole_probe', 'service_role', 'MEMBER') THEN
        GRANT service_role TO opsconsole_probe;
    END IF;
END
$service$;

GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;

-- The marketplace's tables: grants and policies in 0004. The webhook event log: read and recorded.
GRANT SELECT, INSERT, UPDATE ON ops.stripe_webhook_events TO opsconsole_runtime;
-- The leads sold more than once (0004's trigger fills it): invariant 1 of the metrics and the integrity card.
GRANT SELECT ON ops.double_sold_leads TO opsconsole_runtime;

-- Audit and evidence: append and read only.
REVOKE UPDATE, DELETE, TRUNCATE ON public.audit_logs, ops.deployment_events, ops.deployment_probe_results, ops.deployment_notes
    FROM opsconsole_runtime;
GRANT SELECT, INSERT ON ops.deployment_events, ops.deployment_probe_results, ops.deployment_notes
    TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE ops.deployment_events_id_seq, ops.deployment_probe_results_id_seq,
                        ops.deployment_notes_id_seq TO opsconsole_runtime;

-- The console's own state: read, add and change, never delete. The runbook text a run started from is kept
-- as it was: only the no-op UPDATE of its upsert (slug = slug) is allowed.
GRANT SELECT, INSERT, UPDATE ON ops.accounts, ops.user_preferences, ops.deployment_runs, ops.deployment_item_states,
                                ops.deployment_contacts TO opsconsole_runtime;
REVOKE UPDATE ON ops.deployment_templates FROM opsconsole_runtime;
GRANT SELECT, INSERT ON ops.deployment_templates TO opsconsole_runtime;
GRANT UPDATE (slug) ON ops.deployment_templates TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE ops.accounts_id_seq, ops.deployment_templates_id_seq, ops.deployment_runs_id_seq TO opsconsole_runtime;

-- The health endpoint reports the migration version from DbUp's journal (absent when applied with psql).
DO $journal$
BEGIN
    IF to_regclass('ops.schema_versions') IS NOT NULL THEN
        GRANT SELECT ON ops.schema_versions TO opsconsole_runtime;
    END IF;
END
$journal$;

-- 4. The probe role: what the shipped runbook's checks read (information_schema and pg_catalog are readable
--    by PUBLIC; information_schema shows a role only what it has some privilege on).
-- information_schema.routine_privileges shows a role the grants made to roles it belongs to (service_role) and
-- lists a function only when the role has some privilege on it: EXECUTE of its own keeps each function listed, so
-- that the permission check sees a function whose grant to service_role was revoked, and fails.
GRANT EXECUTE ON FUNCTION public.validate_and_lock_leads_for_purchase(uuid[], uuid), public.complete_credit_lead_purchase(uuid, uuid, numeric),
                          public.complete_stripe_lead_purchase(uuid, text), public.mark_leads_sold_bulk(uuid[]),
                          public.release_expired_lead_reservations() TO opsconsole_probe;
