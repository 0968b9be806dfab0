-- 0003_console_roles.sql
--
-- The console's three group roles (NOLOGIN), so that every later migration can grant to them by name:
--   opsconsole_owner    owns the console's schema objects and the SECURITY DEFINER purchase functions;
--                       migrations run as a member of it.
--   opsconsole_runtime  what the running console may do: EXECUTE on the purchase functions (through
--                       service_role), the reads it needs, and on audit and evidence tables INSERT and
--                       SELECT only. Each migration grants its own objects to it.
--   opsconsole_probe    what a runbook check may read, nothing more.
-- Login users are members of these roles; who logs in as what is the deployment's choice (README, Security).
-- Roles are cluster-wide: created only when missing, so a migrator without CREATEROLE works once they exist.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['opsconsole_owner', 'opsconsole_runtime', 'opsconsole_probe'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- another database's migration created it meanwhile
            END;
        END IF;
    END LOOP;
END
$roles$;
