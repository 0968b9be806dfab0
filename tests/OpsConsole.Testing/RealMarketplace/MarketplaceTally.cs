using Dapper;
using Npgsql;

namespace OpsConsole.Testing.RealMarketplace;

/// <summary>What went wrong after a run of the app's calls, counted from the rows.</summary>
/// <param name="CompletedPurchases">Purchases with status <c>completed</c>.</param>
/// <param name="LeadsSoldMoreThanOnce">Leads in more than one completed purchase.</param>
/// <param name="ExtraSales">Sales beyond the first, summed over all leads.</param>
/// <param name="LeadsWithSoldCountAboveOne">Leads whose <c>sold_count</c> is above 1.</param>
/// <param name="BuyersChargedOffItems">Buyers whose credits fell by other than the items' total of their completed credit purchases.</param>
/// <param name="RowsOffFormula">Credit rows with <c>balance &lt;&gt; total_purchased + total_earned - total_used</c>.</param>
/// <param name="RefundRequired">Purchases with status <c>refund_required</c>.</param>
public sealed record MarketplaceTally(
    int CompletedPurchases, int LeadsSoldMoreThanOnce, int ExtraSales, int LeadsWithSoldCountAboveOne,
    int BuyersChargedOffItems, int RowsOffFormula, int RefundRequired)
{
    /// <summary>Counts them.</summary>
    public static async Task<MarketplaceTally> MeasureAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        // Charged = what the buyer bought minus what is left; owed = the items of its completed credit purchases.
        const string sql = """
            WITH sales AS (
                SELECT i.lead_id, count(*) AS n
                FROM marketplace_purchase_items i JOIN marketplace_purchases p ON p.id = i.purchase_id
                WHERE p.status = 'completed' GROUP BY i.lead_id),
            owed AS (
                SELECT c.workspace_id,
                       coalesce(c.total_purchased, 0) - c.balance AS charged,
                       coalesce((SELECT sum(i.price_at_purchase) FROM marketplace_purchases p
                                 JOIN marketplace_purchase_items i ON i.purchase_id = p.id
                                 WHERE p.buyer_workspace_id = c.workspace_id AND p.status = 'completed'
                                   AND p.payment_method = 'credits'), 0) AS owed
                FROM workspace_credits c)
            SELECT
                (SELECT count(*)::int FROM marketplace_purchases WHERE status = 'completed') AS CompletedPurchases,
                (SELECT count(*)::int FROM sales WHERE n > 1) AS LeadsSoldMoreThanOnce,
                (SELECT coalesce(sum(n - 1), 0)::int FROM sales) AS ExtraSales,
                (SELECT count(*)::int FROM leads WHERE sold_count > 1) AS LeadsWithSoldCountAboveOne,
                (SELECT count(*)::int FROM owed WHERE charged <> owed) AS BuyersChargedOffItems,
                (SELECT count(*)::int FROM workspace_credits
                  WHERE balance <> coalesce(total_purchased, 0) + coalesce(total_earned, 0) - coalesce(total_used, 0)) AS RowsOffFormula,
                (SELECT count(*)::int FROM marketplace_purchases WHERE status = 'refund_required') AS RefundRequired
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<MarketplaceTally>(new CommandDefinition(sql, cancellationToken: cancellationToken));
    }
}
