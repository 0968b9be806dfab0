-- 0030_least_privilege.sql
--
-- Least privilege for the console's three group roles (0003):
--   opsconsole_owner    owns the console's objects: the schema ops and everything in it, the contract's
--                       tables and the SECURITY DEFINER purchase functions (a non-superuser owner, so that
--                       the functions run with no more than the tables they need).
--   opsconsole_runtime  owns nothing; EXECUTE on the five functions through service_role, the reads and
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

    -- Tables, views and free-standing sequences of ops, and the contract's tables. Sequences of identity
    -- columns follow their table.
    FOR obj IN
        SELECT c.oid::regclass AS name, c.relkind
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relowner <> 'opsconsole_owner'::regrole
          AND (n.nspname = 'ops'
               OR (n.nspname = 'public' AND c.relname IN ('workspaces', 'leads', 'workspace_credits', 'marketplace_purchases',
                                                          'marketplace_purchase_items', 'audit_logs', 'stripe_webhook_events')))
          AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend AS d
                                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO opsconsole_owner',
                       CASE obj.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                       obj.name);
    END LOOP;

    -- Functions of ops, and the contract's functions with the trigger function of its tables.
    FOR obj IN
        SELECT p.oid::regprocedure AS name, p.prokind
        FROM pg_proc AS p
        JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE p.proowner <> 'opsconsole_owner'::regrole
          AND (n.nspname = 'ops'
               OR (n.nspname = 'public' AND p.proname IN ('validate_and_lock_leads_for_purchase', 'complete_credit_lead_purchase',
                                                          'complete_stripe_lead_purchase', 'mark_leads_sold_bulk',
                                                          'release_expired_lead_reservations', 'workspace_credits_refuse_negative_balance')))
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

-- 3. The runtime role. Membership of service_role gives EXECUTE on the five functions; granting it needs
--    ADMIN on service_role, so only when it is missing (the administrator may have granted it already).
DO $service$
BEGIN
    IF NOT pg_has_role('opsconsole_runtime', 'service_role', 'MEMBER') THEN
        GRANT service_role TO opsconsole_runtime;
    END IF;
    IF NOT pg_has_role('opsconsole_probe', 'service_role', 'MEMBER') THEN
        GRANT service_role TO opsconsole_probe;
    END IF;
END
$service$;

GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;

-- Reads of the metrics, the invariants, the demo traffic and the deployment checks' judge.
GRANT SELECT ON public.workspaces, public.leads, public.workspace_credits, public.marketplace_purchases,
                public.marketplace_purchase_items, public.stripe_webhook_events TO opsconsole_runtime;
-- The purchase service stores the duration it measured on the purchase row, nothing else.
GRANT UPDATE (duration_ms) ON public.marketplace_purchases TO opsconsole_runtime;

-- Audit and evidence: append and read only.
REVOKE UPDATE, DELETE, TRUNCATE ON public.audit_logs, ops.deployment_events, ops.deployment_probe_results, ops.deployment_notes
    FROM opsconsole_runtime;
GRANT SELECT, INSERT ON public.audit_logs, ops.deployment_events, ops.deployment_probe_results, ops.deployment_notes
    TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE public.audit_logs_id_seq, ops.deployment_events_id_seq, ops.deployment_probe_results_id_seq,
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
GRANT SELECT ON public.leads, public.workspace_credits, public.marketplace_purchases, public.audit_logs TO opsconsole_probe;
-- information_schema.routine_privileges shows a role the grants made to roles it belongs to (service_role) and
-- lists a function only when the role has some privilege on it: EXECUTE of its own keeps each function listed, so
-- that the permission check sees a function whose grant to service_role was revoked, and fails.
GRANT EXECUTE ON FUNCTION public.validate_and_lock_leads_for_purchase(uuid, uuid[], text), public.complete_credit_lead_purchase(uuid),
                          public.complete_stripe_lead_purchase(uuid, text, text), public.mark_leads_sold_bulk(uuid, uuid[]),
                          public.release_expired_lead_reservations() TO opsconsole_probe;
