using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpsConsole.Core.Tests.Contract;

namespace OpsConsole.Core.Tests.Purchases;

/// <summary>Bulk test data for purchase tests: sellers with listed leads, buyers with credits.</summary>
internal static class MarketSeed
{
    /// <summary>Creates <paramref name="count"/> workspaces with a consistent credit row each (purchased = balance).</summary>
    public static async Task<Guid[]> WorkspacesAsync(NpgsqlDataSource dataSource, int count, decimal balance)
    {
        const string sql = """
            WITH w AS (
                INSERT INTO workspaces (id, name)
                SELECT gen_random_uuid(), 'workspace ' || n FROM generate_series(1, @Count) AS n
                RETURNING id)
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased)
            SELECT id, @Balance, @Balance FROM w
            RETURNING workspace_id
            """;
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<Guid>(sql, new { Count = count, Balance = balance })).ToArray();
    }

    /// <summary>Lists <paramref name="perSeller"/> leads for each seller at <paramref name="price"/>; returns their ids.</summary>
    public static async Task<Guid[]> ListedLeadsAsync(NpgsqlDataSource dataSource, IReadOnlyList<Guid> sellers, int perSeller, decimal price)
    {
        const string sql = """
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT gen_random_uuid(), s, true, @Price
            FROM unnest(@Sellers) AS s, generate_series(1, @PerSeller)
            RETURNING id
            """;
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<Guid>(sql, new { Sellers = sellers.ToArray(), PerSeller = perSeller, Price = price })).ToArray();
    }

    /// <summary>Asserts the contract's five invariants, listing every offending row when one breaks.</summary>
    public static async Task AssertInvariantsAsync(NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await Invariants.AssertAllInvariantsAsync(connection);
    }

    /// <summary>
    /// deadlocks of this database in pg_stat_database. Backends add their counts when they end, so this first
    /// waits (with a deadline) until no session of the purchase path (application name OpsConsole) is left:
    /// dispose the services first.
    /// </summary>
    public static async Task<long> DeadlocksAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await connection.ExecuteScalarAsync<long>(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'OpsConsole'") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Sessions of the test database did not end within 30 s.");
            await Task.Delay(20);
        }

        return await connection.ExecuteScalarAsync<long>("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
    }

    /// <summary>The core services over <paramref name="connectionString"/>, configured as the console configures them.</summary>
    public static ServiceProvider Services(string connectionString, IDictionary<string, string?>? settings = null, ILoggerProvider? logs = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Marketplace"] = connectionString,
                ["ConnectionStrings:MarketplaceProbe"] = OpsConsole.Testing.PostgresServer.ProbeConnectionStringFor(connectionString),
            })
            .AddInMemoryCollection(settings ?? new Dictionary<string, string?>())
            .Build();
        var services = new ServiceCollection().AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Debug);
            if (logs is not null)
            {
                b.AddProvider(logs);
            }
        });
        return services.AddOpsConsoleCore(configuration).BuildServiceProvider();
    }
}
