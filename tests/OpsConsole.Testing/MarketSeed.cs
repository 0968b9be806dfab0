using Dapper;
using Npgsql;
using Xunit;

namespace OpsConsole.Testing;

/// <summary>
/// Bulk marketplace data, set-based: workspaces with consistent credit rows, listed leads. The one seed of the
/// purchase, concurrency, probe and page tests and of the benchmarks.
/// </summary>
public static class MarketSeed
{
    /// <summary>Creates <paramref name="count"/> workspaces with a consistent credit row each (purchased = balance).</summary>
    public static async Task<Guid[]> WorkspacesAsync(NpgsqlDataSource dataSource, int count, decimal balance, CancellationToken cancellationToken = default)
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
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(sql, new { Count = count, Balance = balance }, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>Lists <paramref name="perSeller"/> leads for each seller at <paramref name="price"/>; returns their ids.</summary>
    public static async Task<Guid[]> ListedLeadsAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<Guid> sellers, int perSeller, decimal price, CancellationToken cancellationToken = default)
    {
        const string sql = """
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT gen_random_uuid(), s, true, @Price
            FROM unnest(@Sellers) AS s, generate_series(1, @PerSeller)
            RETURNING id
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(
            sql, new { Sellers = sellers.ToArray(), PerSeller = perSeller, Price = price }, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>
    /// Lists <paramref name="count"/> leads, each from a seller drawn at random (not round-robin: buyers walking
    /// their slices in step would then credit the same sellers at the same moment), priced 1.00 to 9.99.
    /// </summary>
    public static async Task<Guid[]> ScatteredLeadsAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<Guid> sellers, int count, CancellationToken cancellationToken = default)
    {
        const string sql = """
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT gen_random_uuid(), (@Sellers)[1 + floor(random() * cardinality(@Sellers))::int], true, 1 + (n % 900) / 100.0
            FROM generate_series(1, @Count) AS n
            RETURNING id
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(
            sql, new { Sellers = sellers.ToArray(), Count = count }, commandTimeout: 600, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>Asserts the contract's five invariants, listing every offending row when one breaks.</summary>
    public static Task AssertInvariantsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default) =>
        Invariants.AssertAllInvariantsAsync(dataSource, cancellationToken);

    /// <summary>
    /// deadlocks of this database in pg_stat_database. Backends add their counts when they end, so this first
    /// waits (with a deadline) until no session of the purchase path (application name OpsConsole) is left:
    /// dispose the services first.
    /// </summary>
    public static async Task<long> DeadlocksAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'OpsConsole'",
                   cancellationToken: cancellationToken)) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Sessions of the test database did not end within 30 s.");
            await Task.Delay(20, cancellationToken);
        }

        // The statistics collector's snapshot may be cached for the transaction: read it fresh.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_stat_clear_snapshot()", cancellationToken: cancellationToken));
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()", cancellationToken: cancellationToken));
    }
}
