-- 0090_purchase_path_cpu.sql
--
-- The purchase path's server CPU (issue 15, "near the commit-rate limit"). The contract's surface is unchanged:
-- function signatures, result rows, statuses, SQLSTATEs, audit rows, lock order, the invariants. Figures (before
-- and after, CPU per purchase from /proc, WAL per purchase, pg_stat_statements with track = all) are in the
-- README's issue-15 section.
--
-- 1. Generic plans for the functions' statements. With the default plan_cache_mode, a statement whose generic
--    plan is estimated dearer than its custom plans keeps being planned again at every call; for the statements
--    on "= ANY (lead ids)" that is every call (the generic estimate for an array parameter is 10 elements, the
--    custom one the real 3). pg_stat_statements (track_planning) showed 5 statements of a credit purchase
--    planned at every call: the sale's UPDATE, the reservation's availability read, lead lock and INSERT, about
--    0.2 ms of planning a purchase on this machine, 13 % of the purchase's server CPU. With force_generic_plan
--    each is planned once per connection. The generic plans are the index lookups the custom ones were
--    (PurchasePathPlanTests checks every executed statement, foreign-key checks included, at 100,000
--    workspaces and a million leads). ALTER FUNCTION keeps owner, body and grants; a later CREATE OR REPLACE
--    of one of these functions must repeat the SET clause, or loses it.
-- 2. The lead sale becomes a HOT update. leads_double_sold_sold_at_idx (sold_at WHERE sold_count > 1) made
--    every sale a non-HOT update: sold_count and sold_at are in that index, so each sold lead got a new entry
--    in leads_pkey and leads_workspace_id_idx too (6 index insertions and their WAL per 3-lead purchase, on
--    random pages of the two largest indexes at a million leads). Its replacement, which no purchase writes:
--    ops.double_sold_leads, the ids of leads whose sold_count went above 1, filled by a trigger on INSERT and on
--    UPDATE OF sold_count whose WHEN (NEW.sold_count > 1) is evaluated without calling a function (a sale
--    that keeps sold_count at 1 costs the WHEN only), and here by a scan of the existing rows. Invariant 1's
--    check reads it joined to leads by primary key (MarketplaceInvariants), so a lead whose count was later
--    corrected drops out, and its cost follows the double-sold leads (normally none), as the partial index
--    did. What it does not cover: rows written with triggers disabled (session_replication_role = replica).
--    The deployment guide's own double-sell query (runbook probe, run by hand) reads leads by sold_count and
--    sold_at with no index left to serve it on PostgreSQL 15: a sequential scan of leads (133 ms at 170,000 leads
--    under load, so under a second at a million), run on a deployment, against 6 index insertions saved on
--    every purchase.
--
-- Idempotent (IF EXISTS / IF NOT EXISTS / CREATE OR REPLACE, ON CONFLICT), runs as opsconsole_owner, no line
-- holding only a semicolon (DbUp splits there).

ALTER FUNCTION public.validate_and_lock_leads_for_purchase(uuid, uuid[], text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION public.complete_credit_lead_purchase(uuid) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION public.complete_stripe_lead_purchase(uuid, text, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION public.release_expired_lead_reservations() SET plan_cache_mode = force_generic_plan;


CREATE TABLE IF NOT EXISTS ops.double_sold_leads (
    lead_id  uuid PRIMARY KEY,
    noted_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION ops.note_double_sold_lead()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ops, public, pg_temp
AS $fn$
BEGIN
    INSERT INTO ops.double_sold_leads (lead_id) VALUES (NEW.id) ON CONFLICT (lead_id) DO NOTHING;
    RETURN NULL;
END
$fn$;

REVOKE ALL ON FUNCTION ops.note_double_sold_lead() FROM PUBLIC;

CREATE OR REPLACE TRIGGER leads_note_double_sold
    AFTER INSERT OR UPDATE OF sold_count ON public.leads
    FOR EACH ROW WHEN (NEW.sold_count > 1)
    EXECUTE FUNCTION ops.note_double_sold_lead();

-- In one block, under the table's lock (also under plain psql, where each statement commits on its own): the
-- trigger exists from here on, so no double sale slips between the scan and the index's drop.
DO $backfill$
BEGIN
    LOCK TABLE public.leads IN SHARE ROW EXCLUSIVE MODE;
    INSERT INTO ops.double_sold_leads (lead_id)
    SELECT l.id FROM public.leads AS l WHERE l.sold_count > 1
    ON CONFLICT (lead_id) DO NOTHING;
    DROP INDEX IF EXISTS public.leads_double_sold_sold_at_idx;
END
$backfill$;

GRANT SELECT ON ops.double_sold_leads TO opsconsole_runtime;
