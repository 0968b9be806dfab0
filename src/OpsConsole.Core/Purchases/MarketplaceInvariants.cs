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
        [5] = "A reserved lead is held by exactly one live pending purchase, which holds all its leads",
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
                   format('balance %s, purchased %s + earned %s - used %s = %s',
                          balance, total_purchased, total_earned, total_used, total_purchased + total_earned - total_used) AS Detail
            FROM workspace_credits
            WHERE balance <> total_purchased + total_earned - total_used OR balance < 0
            """,
        [3] = """
            SELECT 3 AS Invariant, 'purchase ' || p.id AS Subject,
                   format('total %s, items sum %s, unsold leads %s', p.total_price, i.items_total, i.unsold) AS Detail
            FROM marketplace_purchases AS p
            CROSS JOIN LATERAL (
                SELECT sum(it.price) AS items_total, count(*) FILTER (WHERE l.marketplace_status <> 'sold') AS unsold
                FROM marketplace_purchase_items AS it JOIN leads AS l ON l.id = it.lead_id
                WHERE it.purchase_id = p.id) AS i
            WHERE p.status = 'completed' AND (i.unsold > 0 OR i.items_total IS DISTINCT FROM p.total_price)
            """,
        // Compares the ledgers' totals with the purchases': it holds for a marketplace whose total_used and
        // total_earned moved only through these functions (any database this project creates).
        [4] = """
            SELECT 4 AS Invariant, 'credit totals' AS Subject,
                   format('buyers used %s, credit purchases completed %s; sellers earned %s, purchases completed %s',
                          c.used, p.credit_total, c.earned, p.all_total) AS Detail
            FROM (SELECT coalesce(sum(total_used), 0) AS used, coalesce(sum(total_earned), 0) AS earned FROM workspace_credits) AS c,
                 (SELECT coalesce(sum(total_price) FILTER (WHERE payment_method = 'credits'), 0) AS credit_total,
                         coalesce(sum(total_price), 0) AS all_total
                  FROM marketplace_purchases WHERE status = 'completed') AS p
            WHERE c.used <> p.credit_total OR c.earned <> p.all_total
            """,
        [5] = """
            SELECT 5 AS Invariant, 'lead ' || l.id AS Subject,
                   'reserved, but not by a pending purchase holding it (by ' || coalesce(l.reserved_by_purchase_id::text, 'nobody') || ')' AS Detail
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
            UNION ALL
            SELECT 5, 'purchase ' || p.id,
                   format('live pending purchase, but its lead %s is %s%s', l.id, l.marketplace_status,
                          ' by ' || l.reserved_by_purchase_id)
            FROM marketplace_purchases AS p
            JOIN marketplace_purchase_items AS it ON it.purchase_id = p.id
            JOIN leads AS l ON l.id = it.lead_id
            WHERE p.status = 'pending' AND p.reserved_until > clock_timestamp()
              AND (l.marketplace_status <> 'reserved' OR l.reserved_by_purchase_id IS DISTINCT FROM p.id)
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
