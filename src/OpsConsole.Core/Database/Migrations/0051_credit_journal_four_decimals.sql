-- 0051_credit_journal_four_decimals.sql
--
-- The marketplace's credit columns are numeric(14,4) after the drop-in (prices are numeric(10,4)): a drift of a
-- fraction of a cent must be correctable, so the journal's deltas take the same type. Widening keeps every value.
--
-- Idempotent: altering a column to the type it has changes nothing. The journal's append-only triggers are row
-- triggers and do not fire on a type change.

ALTER TABLE ops.credit_adjustments
    ALTER COLUMN balance_delta TYPE numeric(14,4),
    ALTER COLUMN total_purchased_delta TYPE numeric(14,4),
    ALTER COLUMN total_earned_delta TYPE numeric(14,4),
    ALTER COLUMN total_used_delta TYPE numeric(14,4);
