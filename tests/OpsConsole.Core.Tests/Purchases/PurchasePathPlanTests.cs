using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;
using Xunit.Abstractions;

namespace OpsConsole.Core.Tests.Purchases;

/// <summary>
/// The purchase path's cost must not grow with the marketplace (issue 15): at 100,000 workspaces and a million
/// leads, every statement it executes, down to those inside the functions and the foreign-key checks, is planned
/// without a sequential scan. auto_explain (log_nested_statements, log_level notice) sends each executed plan
/// to this test's connection as a notice, so the plans checked are the ones PostgreSQL actually ran (custom
/// plans first, then the cached generic plans after five calls). Purchases and items get a history of 30,000
/// (enough that hashing a whole table costs the planner more than a lookup per lead), audit rows none; with
/// enable_seqscan off a sequential scan is still chosen when no index can answer the statement, which is
/// exactly what grows with the marketplace. A full
/// index scan (an index scan with a filter but no index condition) reads every row as well and fails too: the
/// original credit-row lock ("workspace_id = buyer OR workspace_id IN (...)") plans as one with seqscan off.
/// Except on a partial index: the planner may read the pending-purchase index whole to check a lead's
/// reservation while it holds a handful of live checkouts; it holds only pending purchases, so that cost follows
/// the checkouts in flight, never the marketplace's size.
/// </summary>
public sealed class PurchasePathPlanTests(MarketplaceDatabase database, ITestOutputHelper output) : IClassFixture<MarketplaceDatabase>
{
    private const int Workspaces = 100_000;
    private const int Leads = 1_000_000;
    private const int Buyers = 4;
    private const int History = 30_000;

    [Fact]
    public async Task Every_statement_of_the_purchase_path_is_planned_without_a_sequential_scan_at_100000_workspaces_and_a_million_leads()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await SeedAsync();
        output.WriteLine($"seeded {Workspaces:N0} workspaces and {Leads:N0} leads in {clock.Elapsed.TotalSeconds:0.0} s");

        await using var connection = new NpgsqlConnection(database.SuperuserConnectionString);
        await connection.OpenAsync();
        var plans = new ConcurrentQueue<string>();
        connection.Notice += (_, e) =>
        {
            if (e.Notice.MessageText.Contains("plan:", StringComparison.Ordinal))
            {
                plans.Enqueue(e.Notice.MessageText);
            }
        };
        await connection.ExecuteAsync("""
            LOAD 'auto_explain';
            SET auto_explain.log_min_duration = 0;
            SET auto_explain.log_nested_statements = on;
            SET auto_explain.log_level = notice;
            SET auto_explain.log_format = json;
            SET client_min_messages = notice;
            SET enable_seqscan = off;
            """);

        var lead = 0;
        Guid[] NextLeads() => [.. Enumerable.Range(lead, 3).Select(LeadId)];

        // The core library's credit purchase (one batch: actor and elapsed time, reserve + complete), more than
        // five times so the functions' cached generic plans are checked too.
        for (var i = 0; i < 7; i++, lead += 3)
        {
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand(PurchaseService.SetActorSql) { Parameters = { new() { Value = "plan test" }, new() { Value = "1.5" } } },
                    new NpgsqlBatchCommand(PurchaseService.CreditPurchaseSql)
                    {
                        Parameters =
                        {
                            new() { Value = WorkspaceId(1 + i % Buyers) },
                            new() { Value = NextLeads(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                        },
                    },
                },
            };
            await using var reader = await batch.ExecuteReaderAsync();
            await reader.NextResultAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal("completed", reader.GetString(1));
        }

        // Reserved in one transaction, completed in another (the purchase and its leads are locked again);
        // a buyer who cannot pay; a card purchase and its webhook, delivered twice; expiry.
        var broke = WorkspaceId(Workspaces);
        for (var i = 0; i < 6; i++, lead += 3)
        {
            var reserved = await connection.QuerySingleAsync<Guid>(
                "SELECT purchase_id FROM validate_and_lock_leads_for_purchase(@Buyer, @Leads, 'credits')", new { Buyer = WorkspaceId(1 + i % Buyers), Leads = NextLeads() });
            Assert.Equal("completed", await connection.QuerySingleAsync<string>("SELECT status FROM complete_credit_lead_purchase(@Id)", new { Id = reserved }));
        }

        for (var i = 0; i < 6; i++, lead += 3)
        {
            Assert.Equal("insufficient_credits", await connection.QuerySingleAsync<string>("""
                SELECT c.status FROM validate_and_lock_leads_for_purchase(@Buyer, @Leads, 'credits') AS v
                CROSS JOIN LATERAL complete_credit_lead_purchase(v.purchase_id) AS c
                """, new { Buyer = broke, Leads = NextLeads() }));
        }

        for (var i = 0; i < 6; i++, lead += 3)
        {
            var reserved = await connection.QuerySingleAsync<Guid>(
                "SELECT purchase_id FROM validate_and_lock_leads_for_purchase(@Buyer, @Leads, 'stripe')", new { Buyer = WorkspaceId(1 + i % Buyers), Leads = NextLeads() });
            Assert.Equal("completed", await connection.QuerySingleAsync<string>(
                "SELECT status FROM complete_stripe_lead_purchase(@Id, @Event, 'pi_plan')", new { Id = reserved, Event = $"evt_plan_{i}" }));
            Assert.Equal("duplicate", await connection.QuerySingleAsync<string>(
                "SELECT status FROM complete_stripe_lead_purchase(@Id, @Event, 'pi_plan')", new { Id = reserved, Event = $"evt_plan_{i}" }));
        }

        await connection.ExecuteAsync("SELECT set_config('marketplace.reservation_ttl', '1 millisecond', false)");
        for (var i = 0; i < 6; i++, lead += 3)
        {
            await connection.ExecuteAsync("SELECT * FROM validate_and_lock_leads_for_purchase(@Buyer, @Leads, 'stripe')", new { Buyer = WorkspaceId(1 + i % Buyers), Leads = NextLeads() });
            await Task.Delay(2);
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT release_expired_lead_reservations()"));
        }

        var all = plans.ToArray();
        output.WriteLine($"{all.Length} plans checked");
        Assert.True(all.Length > 200, $"auto_explain reported only {all.Length} plans: the test did not see the functions' statements");
        Assert.Contains(all, p => p.Contains("\"workspace_credits_pkey\"", StringComparison.Ordinal) && p.Contains("\"LockRows\"", StringComparison.Ordinal));
        var partial = (await connection.QueryAsync<string>(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indpred IS NOT NULL AND indrelid::regclass::text IN ('leads', 'marketplace_purchases')")).ToHashSet();
        var scans = all.Select(p => FullScans(p, partial)).Where(f => f.Length > 0).Distinct().ToArray();
        Assert.True(scans.Length == 0, "statements of the purchase path that read a whole table or index:\n\n" + string.Join("\n\n", scans));
    }

    // The plan's nodes that read a whole relation: sequential scans, and index scans without an index condition
    // (but on a partial index).
    private static string FullScans(string notice, HashSet<string> partialIndexes)
    {
        using var document = JsonDocument.Parse(notice[(notice.IndexOf("plan:", StringComparison.Ordinal) + 5)..]);
        var found = new List<string>();
        Walk(document.RootElement.GetProperty("Plan"));
        return found.Count == 0 ? "" : string.Join(", ", found) + " in:\n" + document.RootElement.GetProperty("Query Text").GetString();

        void Walk(JsonElement node)
        {
            var type = node.GetProperty("Node Type").GetString();
            var relation = node.TryGetProperty("Relation Name", out var r) ? r.GetString() : "?";
            if (type == "Seq Scan"
                || (type is "Index Scan" or "Index Only Scan" && !node.TryGetProperty("Index Cond", out _)
                    && !partialIndexes.Contains(node.GetProperty("Index Name").GetString()!)))
            {
                found.Add($"{type} on {relation}");
            }

            if (node.TryGetProperty("Plans", out var children))
            {
                foreach (var child in children.EnumerateArray())
                {
                    Walk(child);
                }
            }
        }
    }

    private static Guid WorkspaceId(int n) => Guid.Parse($"00000000-0000-4000-8000-{n:x12}");

    private static Guid LeadId(int n) => Guid.Parse($"00000000-0000-4000-9000-{n:x12}");

    // Set-based and in key order (index appends), foreign-key triggers off for the bulk load only (the ids are
    // made consistent by construction): a few seconds on a quiet machine. Each seller has 11 leads in a row,
    // buyers 1 to 4 are rich, the last workspace is broke, and every workspace has a credit row. The last
    // 30,000 leads were sold long ago, one completed purchase each.
    private async Task SeedAsync()
    {
        await using var connection = new NpgsqlConnection(database.SuperuserConnectionString);
        await connection.OpenAsync();
        await connection.ExecuteAsync($"""
            SET session_replication_role = replica;
            INSERT INTO workspaces (id, name)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'workspace ' || n
            FROM generate_series(1, {Workspaces}) AS n;
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, b, b
            FROM generate_series(1, {Workspaces}) AS n, LATERAL (SELECT CASE WHEN n <= {Buyers} THEN 1000000 WHEN n = {Workspaces} THEN 0 ELSE 100 END) AS x (b);
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid,
                   ('00000000-0000-4000-8000-' || lpad(to_hex({Buyers + 1} + n / 11), 12, '0'))::uuid, true, 1 + n % 9
            FROM generate_series(0, {Leads - History - 1}) AS n;
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, created_at, completed_at)
            SELECT ('00000000-0000-4000-a000-' || lpad(to_hex(n), 12, '0'))::uuid,
                   ('00000000-0000-4000-8000-' || lpad(to_hex(1 + n % {Buyers}), 12, '0'))::uuid,
                   'completed', 'credits', 1 + n % 9, now() - interval '30 days', now() - interval '30 days'
            FROM generate_series({Leads - History}, {Leads - 1}) AS n;
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price, marketplace_status, sold_count, first_sold_at, sold_at)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid,
                   ('00000000-0000-4000-8000-' || lpad(to_hex({Buyers + 1} + n / 11), 12, '0'))::uuid, true, 1 + n % 9,
                   'sold', 1, now() - interval '30 days', now() - interval '30 days'
            FROM generate_series({Leads - History}, {Leads - 1}) AS n;
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price)
            SELECT ('00000000-0000-4000-a000-' || lpad(to_hex(n), 12, '0'))::uuid, ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid, 1 + n % 9
            FROM generate_series({Leads - History}, {Leads - 1}) AS n;
            RESET session_replication_role;
            ANALYZE workspaces, workspace_credits, leads, marketplace_purchases, marketplace_purchase_items;
            """, commandTimeout: 300);
    }
}
