using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Locks;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Locks;

/// <summary>Services, data and waits the lock view's tests share.</summary>
internal static class LockKit
{
    /// <summary>The core services over <paramref name="connectionString"/>, the monitor's lock_timeout at 500 ms unless <paramref name="settings"/> say otherwise.</summary>
    public static ServiceProvider Services(string connectionString, IDictionary<string, string?>? settings = null) =>
        TestServices.Build(connectionString, new Dictionary<string, string?> { ["Locks:LockTimeout"] = "00:00:00.500" }.Concat(settings ?? new Dictionary<string, string?>()));

    /// <summary>Takes snapshots until <paramref name="condition"/> holds (10 s at most), and returns that one.</summary>
    public static async Task<LockSnapshot> SnapshotWhenAsync(LockSnapshotQuery query, Func<LockSnapshot, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var snapshot = await query.ReadAsync(CancellationToken.None);
            if (condition(snapshot))
            {
                return snapshot;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("The lock view never showed what the test waited for. Last sessions: "
                    + string.Join("; ", snapshot.Sessions.Select(s => $"{s.Pid} {s.Application} blocked by [{string.Join(",", s.BlockedBy)}]")));
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// The test cluster's superuser password (SCRAM, no trust): roles a test creates get it too, so a connection
    /// string derived from the superuser's with another user name logs in.
    /// </summary>
    public static string SuperuserPassword(MarketplaceDatabase database) =>
        new NpgsqlConnectionStringBuilder(database.SuperuserConnectionString).Password ?? "";

    /// <summary>A seller with <paramref name="leads"/> listed leads at 10.00 (its partner's) and a buyer with 1000 credits, each with an owner user.</summary>

    public static async Task<(Guid Seller, Guid Buyer, Guid[] Leads)> MarketAsync(NpgsqlDataSource db, int leads = 3)
    {
        var seller = (await MarketSeed.WorkspacesAsync(db, 1, 0m)).Single();
        var buyer = (await MarketSeed.WorkspacesAsync(db, 1, 1000m)).Single();
        await using (var connection = await db.OpenConnectionAsync())
        {
            // Names the lock view's row descriptions are checked against.
            await connection.ExecuteAsync("""
                UPDATE workspaces SET name = 'Seller ' || left(id::text, 8) WHERE id = @Seller;
                UPDATE workspaces SET name = 'Buyer ' || left(id::text, 8) WHERE id = @Buyer;
                """, new { Seller = seller, Buyer = buyer });
        }

        var ids = leads == 0 ? [] : await MarketSeed.ListedLeadsAsync(db, [seller], leads, 10m);
        return (seller, buyer, ids);
    }

    /// <summary>
    /// Validates <paramref name="lead"/> for <paramref name="buyer"/> (so it is reserved for the buyer, committed) and
    /// inserts the pending credit purchase route.ts would (one item at the lead's price); returns the purchase.
    /// </summary>
    public static async Task<Guid> ReserveAsync(NpgsqlDataSource db, Guid buyer, Guid lead)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "SELECT id FROM validate_and_lock_leads_for_purchase(p_lead_ids := ARRAY[@Lead]::uuid[], p_buyer_workspace_id := @Buyer)",
            new { Buyer = buyer, Lead = lead });
        return await connection.QuerySingleAsync<Guid>("""
            WITH lead AS (SELECT id, marketplace_price FROM leads WHERE id = @Lead),
            purchase AS (
                INSERT INTO marketplace_purchases (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, credits_used, status)
                SELECT @Buyer, (SELECT id FROM users WHERE workspace_id = @Buyer ORDER BY created_at, id LIMIT 1), 1, marketplace_price,
                       'credits', marketplace_price, 'pending'
                FROM lead
                RETURNING id),
            item AS (
                INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase)
                SELECT purchase.id, lead.id, lead.marketplace_price FROM purchase, lead)
            SELECT id FROM purchase
            """, new { Buyer = buyer, Lead = lead });
    }

    /// <summary>A table of its own for table-level lock tests.</summary>
    public static async Task<string> ScratchTableAsync(NpgsqlDataSource db)
    {
        var name = "scratch_" + Guid.NewGuid().ToString("N")[..12];
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync($"CREATE TABLE {name} (id int)");
        return name;
    }

    public static async Task<long> LockActionCountAsync(NpgsqlDataSource db)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM ops.lock_actions");
    }
}
