-- 0031_demo_accounts.sql
--
-- Which accounts the demo created: the demo sets the password and role of those only, never of an account it
-- did not create (a real "admin" on a database where demo mode was switched on keeps its password). Accounts
-- that existed before this migration count as not created by the demo. Idempotent.
ALTER TABLE ops.accounts ADD COLUMN IF NOT EXISTS created_by_demo boolean NOT NULL DEFAULT false;
