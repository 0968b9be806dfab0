-- rollback_fix_payment_race_conditions.sql
--
-- NEVER APPLIED AUTOMATICALLY. This file is not an embedded migration and DbUp never
-- sees it; a DBA runs it by hand:
--     psql -v ON_ERROR_STOP=1 -d <database> -f rollback_fix_payment_race_conditions.sql
--
-- When: only in step 3 of the deployment guide's rollback procedure, after the
-- application code has been reverted to a version that does not call these functions,
-- and only if the migration itself is what caused the issue. Rolling back while the new
-- code still runs turns every purchase into "function does not exist".
--
-- What: drops the four functions the guide names. Tables, columns, constraints, indexes
-- and data stay (the guide: "columns can stay, they don't hurt"), and so does the role.
-- The migration journal (ops.schema_versions) still lists 0002, so the migrator will not
-- bring the functions back by itself: to roll forward again, run
-- 0002_fix_payment_race_conditions.sql with psql the same way (it is safe to re-run).
--
-- release_expired_lead_reservations is kept on purpose: it only expires abandoned
-- checkouts and frees their leads, which is harmless with or without the other four, and
-- dropping it would strand any lead still reserved when the rollback happens.

DROP FUNCTION IF EXISTS public.validate_and_lock_leads_for_purchase(uuid, uuid[], text);
DROP FUNCTION IF EXISTS public.complete_credit_lead_purchase(uuid);
DROP FUNCTION IF EXISTS public.complete_stripe_lead_purchase(uuid, text, text);
DROP FUNCTION IF EXISTS public.mark_leads_sold_bulk(uuid, uuid[]);
