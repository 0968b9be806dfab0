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

    /// <summary>A seller with <paramref name="leads"/> listed leads and a buyer with 1000 credits.</summary>
    /// <summary>
    /// The test cluster's superuser password (SCRAM, no trust): roles a test creates get it too, so a connection
    /// string derived from the superuser's with another user name logs in.
    /// </summary>
    public static string SuperuserPassword(MarketplaceDatabase database) =>
        new NpgsqlConnectionStringBuilder(database.SuperuserConnectionString).Password ?? "";

    public static async Task<(Guid Seller, Guid Buyer, Guid[] Leads)> MarketAsync(NpgsqlDataSource db, int leads = 3)
    {
        await using var connection = await db.OpenConnectionAsync();
        var seller = Guid.NewGuid();
        var buyer = Guid.NewGuid();
        await connection.ExecuteAsync("""
            INSERT INTO workspaces (id, name) VALUES (@Seller, 'Seller ' || left(@Seller::text, 8)), (@Buyer, 'Buyer ' || left(@Buyer::text, 8));
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@Seller, 0, 0), (@Buyer, 1000, 1000);
            """, new { Seller = seller, Buyer = buyer });
        var ids = (await connection.QueryAsync<Guid>("""
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT gen_random_uuid(), @Seller, true, 10 FROM generate_series(1, @Count) RETURNING id
            """, new { Seller = seller, Count = leads })).ToArray();
        return (seller, buyer, ids);
    }

    /// <summary>Reserves <paramref name="lead"/> for <paramref name="buyer"/> (committed) and returns the pending purchase.</summary>
    public static async Task<Guid> ReserveAsync(NpgsqlDataSource db, Guid buyer, Guid lead)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleAsync<Guid>(
            "SELECT purchase_id FROM validate_and_lock_leads_for_purchase(@Buyer, ARRAY[@Lead]::uuid[], 'credits')",
            new { Buyer = buyer, Lead = lead });
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
