using Dapper;
using Npgsql;

namespace OpsConsole.Core.Purchases;

/// <summary>One row that breaks one of the contract's invariants.</summary>
/// <param name="Invariant">The invariant's number in the contract (1 to 5).</param>
/// <param name="Subject">What breaks it: a lead, a workspace, a purchase, or a total.</param>
/// <param name="Detail">The values that show it.</param>
public sealed record InvariantViolation(int Invariant, string Subject, string Detail);

/// <summary>
/// The five invariants of the marketplace contract as queries. Tests and benchmarks assert them after
/// concurrent runs; the console shows them as live checks.
/// </summary>
public static class MarketplaceInvariants
{
    /// <summary>Short names of the invariants, by number.</summary>
    public static IReadOnlyDictionary<int, string> Names { get; } = new Dictionary<int, string>
    {
        [1] = "No lead is sold more than once",
        [2] = "Every balance equals purchased + earned - used, and is not negative",
        [3] = "Every completed purchase's leads are sold and its total is the sum of its items",
        [4] = "Credits are conserved: what buyers spent equals what sellers earned",
        [5] = "A reserved lead is held by exactly one live pending purchase",
    };

    // Invariant 4 compares the ledgers' totals with the purchases': it holds for a marketplace whose
    // total_used and total_earned moved only through these functions (any database this project creates).
    private const string Sql = """
        SELECT 1 AS Invariant, 'lead ' || id AS Subject, 'sold_count = ' || sold_count AS Detail
        FROM leads WHERE sold_count > 1
        UNION ALL
        SELECT 2, 'workspace ' || workspace_id,
               format('balance %s, purchased %s + earned %s - used %s = %s',
                      balance, total_purchased, total_earned, total_used, total_purchased + total_earned - total_used)
        FROM workspace_credits
        WHERE balance <> total_purchased + total_earned - total_used OR balance < 0
        UNION ALL
        SELECT 3, 'purchase ' || p.id,
               format('total %s, items sum %s, unsold leads %s', p.total_price, i.items_total, i.unsold)
        FROM marketplace_purchases AS p
        CROSS JOIN LATERAL (
            SELECT sum(it.price) AS items_total, count(*) FILTER (WHERE l.marketplace_status <> 'sold') AS unsold
            FROM marketplace_purchase_items AS it JOIN leads AS l ON l.id = it.lead_id
            WHERE it.purchase_id = p.id) AS i
        WHERE p.status = 'completed' AND (i.unsold > 0 OR i.items_total IS DISTINCT FROM p.total_price)
        UNION ALL
        SELECT 4, 'credit totals',
               format('buyers used %s, credit purchases completed %s; sellers earned %s, purchases completed %s',
                      c.used, p.credit_total, c.earned, p.all_total)
        FROM (SELECT coalesce(sum(total_used), 0) AS used, coalesce(sum(total_earned), 0) AS earned FROM workspace_credits) AS c,
             (SELECT coalesce(sum(total_price) FILTER (WHERE payment_method = 'credits'), 0) AS credit_total,
                     coalesce(sum(total_price), 0) AS all_total
              FROM marketplace_purchases WHERE status = 'completed') AS p
        WHERE c.used <> p.credit_total OR c.earned <> p.all_total
        UNION ALL
        SELECT 5, 'lead ' || l.id, 'reserved, but not by a pending purchase holding it (by ' || coalesce(l.reserved_by_purchase_id::text, 'nobody') || ')'
        FROM leads AS l
        WHERE l.marketplace_status = 'reserved'
          AND NOT EXISTS (
              SELECT 1 FROM marketplace_purchases AS p
              JOIN marketplace_purchase_items AS it ON it.purchase_id = p.id AND it.lead_id = l.id
              WHERE p.id = l.reserved_by_purchase_id AND p.status = 'pending')
        UNION ALL
        SELECT 5, 'lead ' || it.lead_id, count(*) || ' live pending purchases hold it'
        FROM marketplace_purchase_items AS it
        JOIN marketplace_purchases AS p ON p.id = it.purchase_id
        WHERE p.status = 'pending' AND p.reserved_until > clock_timestamp()
        GROUP BY it.lead_id HAVING count(*) > 1
        ORDER BY 1, 2
        LIMIT 1000
        """;

    /// <summary>Every row that breaks an invariant (at most 1000), in invariant order; empty when all hold.</summary>
    public static async Task<IReadOnlyList<InvariantViolation>> FindViolationsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<InvariantViolation>(new CommandDefinition(Sql, cancellationToken: cancellationToken));
        return rows.AsList();
    }
}
