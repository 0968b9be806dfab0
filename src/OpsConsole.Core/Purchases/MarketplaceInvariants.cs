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
        [3] = "Every completed purchase's leads are sold, its total is the sum of its items and total_leads their count",
        [4] = "Each buyer's credits fell by the items' total of its completed credit purchases",
        [5] = "A sold lead is marked sold, counted, and reserved for nobody",
    };

    /// <summary>
    /// How far back the check of invariant 1 looks for a lead in two completed purchases: the later of the two sales
    /// must have completed within it. A double sale stays on the live checks that long (and for good when sold_count
    /// shows it too); the metrics page runs the check every few seconds.
    /// </summary>
    public static readonly TimeSpan DoubleSaleWindow = TimeSpan.FromHours(1);

    // One SELECT per invariant, each with the columns (Invariant, Subject, Detail), so that a caller can run only
    // the checks it needs (the metrics page batches 1 and 2 every few seconds; 3 and 4 read every purchase).
    private static readonly IReadOnlyDictionary<int, string> Checks = new Dictionary<int, string>
    {
        // From both sides: a lead whose sold_count says so (any age), and a lead in two completed purchases
        // whatever its sold_count says (the double sale the functions must prevent, seen in the items). The
        // first reads the leads a trigger noted when their sold_count went above 1 (ops.double_sold_leads,
        // migration 0090, which no purchase writes: an index on sold_count would make every sale a non-HOT
        // update), each checked against the lead itself by primary key (the LATERAL with OFFSET 0 keeps the
        // noted leads driving; as a plain join the planner may read leads whole, its statistics saying no lead
        // has sold_count > 1). The second starts from purchases completed in the last DoubleSaleWindow (index
        // on completed_at, migration 0004) and follows their leads' other items (index on lead_id), so its cost
        // follows recent sales, not the table's size.
        [1] = $"""
            SELECT 1 AS Invariant, 'lead ' || coalesce(s.id, c.lead_id) AS Subject,
                   concat_ws('; ', 'sold_count = ' || s.sold_count,
                             'in ' || c.purchases || ' completed purchases (' || c.ids || ')') AS Detail
            FROM (SELECT l.id, l.sold_count
                  FROM ops.double_sold_leads AS d
                  CROSS JOIN LATERAL (SELECT l.id, l.sold_count FROM leads AS l WHERE l.id = d.lead_id OFFSET 0) AS l
                  WHERE l.sold_count > 1) AS s
            FULL JOIN (
                SELECT o.lead_id, count(*) AS purchases, string_agg(o.purchase_id::text, ', ' ORDER BY o.purchase_id) AS ids
                FROM (SELECT DISTINCT it.lead_id
                      FROM marketplace_purchases AS p
                      JOIN marketplace_purchase_items AS it ON it.purchase_id = p.id
                      WHERE p.status = 'completed' AND p.completed_at > now() - interval '{(int)DoubleSaleWindow.TotalSeconds} seconds') AS recent
                JOIN marketplace_purchase_items AS o ON o.lead_id = recent.lead_id
                JOIN marketplace_purchases AS op ON op.id = o.purchase_id AND op.status = 'completed'
                GROUP BY o.lead_id
                HAVING count(*) > 1) AS c ON c.lead_id = s.id
            """,
        [2] = """
            SELECT 2 AS Invariant, 'workspace ' || workspace_id AS Subject,
                   format('balance %s, purchased %s + earned %s - used %s = %s', balance, coalesce(total_purchased, 0),
                          coalesce(total_earned, 0), coalesce(total_used, 0),
                          coalesce(total_purchased, 0) + coalesce(total_earned, 0) - coalesce(total_used, 0)) AS Detail
            FROM workspace_credits
            WHERE balance <> coalesce(total_purchased, 0) + coalesce(total_earned, 0) - coalesce(total_used, 0) OR balance < 0
            """,
        [3] = """
            SELECT 3 AS Invariant, 'purchase ' || p.id AS Subject,
                   format('total %s for %s leads, items sum %s over %s items, unsold leads %s',
                          p.total_price, p.total_leads, i.items_total, i.items, i.unsold) AS Detail
            FROM marketplace_purchases AS p
            CROSS JOIN LATERAL (
                SELECT sum(it.price_at_purchase) AS items_total, count(*) AS items,
                       count(*) FILTER (WHERE l.sold_at IS NULL OR l.marketplace_status IS DISTINCT FROM 'sold') AS unsold
                FROM marketplace_purchase_items AS it JOIN leads AS l ON l.id = it.lead_id
                WHERE it.purchase_id = p.id) AS i
            WHERE p.status = 'completed'
              AND (i.unsold > 0 OR i.items_total IS DISTINCT FROM p.total_price OR i.items <> p.total_leads)
            """,
        // Holds for a marketplace whose total_used moved only through the purchase functions (any database
        // this project creates): each buyer's credits fell by the items' total of its completed credit purchases.
        [4] = """
            SELECT 4 AS Invariant, 'workspace ' || c.workspace_id AS Subject,
                   format('used %s, completed credit purchases'' items total %s', coalesce(c.total_used, 0), coalesce(b.spent, 0)) AS Detail
            FROM workspace_credits AS c
            LEFT JOIN (SELECT p.buyer_workspace_id, sum(it.price_at_purchase) AS spent
                       FROM marketplace_purchases AS p
                       JOIN marketplace_purchase_items AS it ON it.purchase_id = p.id
                       WHERE p.status = 'completed' AND p.payment_method = 'credits'
                       GROUP BY p.buyer_workspace_id) AS b ON b.buyer_workspace_id = c.workspace_id
            WHERE coalesce(c.total_used, 0) <> coalesce(b.spent, 0)
            """,
        [5] = """
            SELECT 5 AS Invariant, 'lead ' || l.id AS Subject,
                   format('sold_at %s, sold_count %s, status %s, reserved for %s', l.sold_at, l.sold_count,
                          l.marketplace_status, coalesce(l.reserved_for_workspace_id::text, 'nobody')) AS Detail
            FROM leads AS l
            WHERE (l.sold_at IS NOT NULL AND (l.marketplace_status IS DISTINCT FROM 'sold' OR l.reserved_for_workspace_id IS NOT NULL
                                              OR coalesce(l.sold_count, 0) < 1))
               OR (l.sold_at IS NULL AND l.marketplace_status = 'sold')
            """,
    };

    private static readonly string Sql = QueryFor(Names.Keys);

    /// <summary>
    /// The query for the given invariants only, with the columns <c>Invariant, Subject, Detail</c> of
    /// <see cref="InvariantViolation"/>, in invariant order, at most 1000 rows: for callers that batch it with statements of their own.
    /// </summary>
    public static string QueryFor(IEnumerable<int> invariants)
    {
        var parts = invariants.Distinct().Order().Select(n => Checks.TryGetValue(n, out var check)
            ? check
            : throw new ArgumentOutOfRangeException(nameof(invariants), n, "The contract has invariants 1 to 5."));
        return string.Join("\nUNION ALL\n", parts) + "\nORDER BY 1, 2\nLIMIT 1000";
    }

    /// <summary>Every row that breaks an invariant (at most 1000), in invariant order; empty when all hold.</summary>
    public static async Task<IReadOnlyList<InvariantViolation>> FindViolationsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<InvariantViolation>(new CommandDefinition(Sql, cancellationToken: cancellationToken));
        return rows.AsList();
    }
}
