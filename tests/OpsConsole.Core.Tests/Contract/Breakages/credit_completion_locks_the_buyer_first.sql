-- Breakage: complete_credit_lead_purchase locks the buyer's credit row before anything else, then pays the sellers
-- (the pg_sleep widens a window the bug has anyway): two workspaces buying from each other at once deadlock.
-- Caught by: BuyersWhoSellTests.Two_workspaces_buying_from_each_other_at_once_never_deadlock and
-- ConcurrentBuyersTests (deadlocks or errors).
ALTER FUNCTION public.complete_credit_lead_purchase(uuid) RENAME TO complete_credit_lead_purchase_intact;
CREATE FUNCTION public.complete_credit_lead_purchase(p_purchase_id uuid)
RETURNS TABLE (purchase_id uuid, status text, buyer_balance numeric) LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
    PERFORM 1 FROM workspace_credits AS c
     WHERE c.workspace_id = (SELECT p.buyer_workspace_id FROM marketplace_purchases AS p WHERE p.id = p_purchase_id)
       FOR UPDATE;
    PERFORM pg_sleep(0.05);
    RETURN QUERY SELECT * FROM complete_credit_lead_purchase_intact(p_purchase_id);
END
$fn$;
