-- 0004_invariant_indexes.sql
--
-- What the live invariant checks (MarketplaceInvariants, shown by the console and the metrics page's
-- integrity card every few seconds) need to stay cheap however many purchases there are.
--
-- Invariant 1 is checked from the purchase items, not only from leads.sold_count: a lead in two
-- completed purchases is a double sale even when sold_count says 1. The check starts from the
-- purchases completed in the last hour (this index, a range scan over a few rows), reaches their
-- items through the items' primary key (purchase_id, lead_id), and each lead's other items through
-- marketplace_purchase_items_lead_id_idx (0001): its cost follows the last hour's sales, not the
-- table's size. Partial: only completed purchases have a completion time worth searching. The cost to
-- the purchase path is one index entry per completed purchase: the completing UPDATE was never HOT
-- (status is in the predicate of marketplace_purchases_pending_reserved_until_idx).
--
-- Plain CREATE INDEX (DbUp runs each script in a transaction, where CONCURRENTLY is not allowed):
-- on a large marketplace, create it CONCURRENTLY by hand before deploying; this is then a no-op.
CREATE INDEX IF NOT EXISTS marketplace_purchases_completed_at_idx
    ON public.marketplace_purchases (completed_at)
    WHERE status = 'completed';

-- Belongs to 0001, repeated so that this script alone says what the check relies on (a no-op there).
CREATE INDEX IF NOT EXISTS marketplace_purchase_items_lead_id_idx
    ON public.marketplace_purchase_items (lead_id);
