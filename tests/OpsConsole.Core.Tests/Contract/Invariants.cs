using System.Globalization;
using System.Text;
using Npgsql;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The five invariants of the marketplace contract as SQL, for any test to assert after whatever it ran
/// (single calls here, concurrent interleavings and killed calls elsewhere). Each query returns the rows
/// that break its invariant; the assertion fails listing all of them.
/// Invariant 4 compares sums over the whole database, so it assumes the database started with no credits
/// used or earned (true of every fixture database: only the functions move them).
/// </summary>
public static class Invariants
{
    private static readonly (string Name, string Sql)[] Checks =
    [
        ("1. no lead has sold_count > 1", """
            SELECT id, sold_count, marketplace_status FROM leads WHERE sold_count > 1 ORDER BY id
            """),
        ("2. balance = total_purchased + total_earned - total_used, and balance >= 0", """
            SELECT workspace_id, balance, total_purchased, total_earned, total_used
            FROM workspace_credits
            WHERE balance <> total_purchased + total_earned - total_used OR balance < 0
            ORDER BY workspace_id
            """),
        ("3a. every completed purchase's leads are sold", """
            SELECT p.id AS purchase_id, l.id AS lead_id, l.marketplace_status
            FROM marketplace_purchases AS p
            JOIN marketplace_purchase_items AS i ON i.purchase_id = p.id
            JOIN leads AS l ON l.id = i.lead_id
            WHERE p.status = 'completed' AND l.marketplace_status <> 'sold'
            ORDER BY p.id, l.id
            """),
        ("3b. every completed purchase's total_price is the sum of its items", """
            SELECT p.id AS purchase_id, p.total_price, coalesce(sum(i.price), 0) AS items_total
            FROM marketplace_purchases AS p
            LEFT JOIN marketplace_purchase_items AS i ON i.purchase_id = p.id
            WHERE p.status = 'completed'
            GROUP BY p.id, p.total_price
            HAVING p.total_price <> coalesce(sum(i.price), 0)
            ORDER BY p.id
            """),
        ("4. credits are conserved: total_used = completed credit purchases, total_earned = completed purchases", """
            SELECT *
            FROM (SELECT (SELECT coalesce(sum(total_used), 0) FROM workspace_credits) AS total_used,
                         (SELECT coalesce(sum(total_price), 0) FROM marketplace_purchases
                           WHERE status = 'completed' AND payment_method = 'credits') AS completed_credit_purchases,
                         (SELECT coalesce(sum(total_earned), 0) FROM workspace_credits) AS total_earned,
                         (SELECT coalesce(sum(total_price), 0) FROM marketplace_purchases
                           WHERE status = 'completed') AS completed_purchases) AS sums
            WHERE total_used <> completed_credit_purchases OR total_earned <> completed_purchases
            """),
        ("5a. a reserved lead is held by a pending purchase that has it as an item", """
            SELECT l.id AS lead_id, l.reserved_by_purchase_id, p.status AS purchase_status,
                   EXISTS (SELECT 1 FROM marketplace_purchase_items AS i
                            WHERE i.purchase_id = l.reserved_by_purchase_id AND i.lead_id = l.id) AS is_item
            FROM leads AS l
            LEFT JOIN marketplace_purchases AS p ON p.id = l.reserved_by_purchase_id
            WHERE l.marketplace_status = 'reserved'
              AND (p.id IS NULL
                   OR p.status <> 'pending'
                   OR NOT EXISTS (SELECT 1 FROM marketplace_purchase_items AS i
                                   WHERE i.purchase_id = p.id AND i.lead_id = l.id))
            ORDER BY l.id
            """),
        ("5b. no lead is an item of two pending purchases with live reservations", """
            SELECT i.lead_id, array_agg(p.id ORDER BY p.id) AS live_pending_purchases
            FROM marketplace_purchase_items AS i
            JOIN marketplace_purchases AS p ON p.id = i.purchase_id
            WHERE p.status = 'pending' AND p.reserved_until > clock_timestamp()
            GROUP BY i.lead_id
            HAVING count(*) > 1
            ORDER BY i.lead_id
            """),
    ];

    /// <summary>Fails, listing the offending rows, when any invariant of the contract is broken.</summary>
    public static async Task AssertAllInvariantsAsync(NpgsqlConnection conn, CancellationToken cancellationToken = default)
    {
        var report = new StringBuilder();
        foreach (var (name, sql) in Checks)
        {
            var offending = await OffendingRowsAsync(conn, sql, cancellationToken);
            if (offending.Count == 0)
            {
                continue;
            }

            report.AppendLine(CultureInfo.InvariantCulture, $"Invariant {name} is broken by:");
            foreach (var row in offending)
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"  {row}");
            }
        }

        if (report.Length > 0)
        {
            Assert.Fail(report.ToString());
        }
    }

    private static async Task<List<string>> OffendingRowsAsync(NpgsqlConnection conn, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, conn);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var columns = Enumerable.Range(0, reader.FieldCount).Select(i => $"{reader.GetName(i)}={Format(reader.GetValue(i))}");
            rows.Add(string.Join(", ", columns));
        }

        return rows;
    }

    private static string Format(object value) => value switch
    {
        DBNull => "NULL",
        Array array => "{" + string.Join(",", array.Cast<object>().Select(Format)) + "}",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
