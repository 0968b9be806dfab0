using Dapper;
using Npgsql;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Bench;

internal static class Seed
{
    public static async Task<Guid[]> WorkspacesAsync(NpgsqlConnection connection, int count, decimal balance)
    {
        const string sql = """
            WITH w AS (
                INSERT INTO workspaces (id, name)
                SELECT gen_random_uuid(), 'bench ' || n FROM generate_series(1, @Count) AS n
                RETURNING id)
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased)
            SELECT id, @Balance, @Balance FROM w
            RETURNING workspace_id
            """;
        return (await connection.QueryAsync<Guid>(sql, new { Count = count, Balance = balance })).ToArray();
    }

    /// <summary>
    /// Lists <paramref name="count"/> leads, each from a seller drawn at random (not round-robin: buyers walking
    /// their slices in step would then credit the same sellers at the same moment), priced 1.00 to 9.99.
    /// </summary>
    public static async Task<Guid[]> LeadsAsync(NpgsqlConnection connection, Guid[] sellers, int count)
    {
        const string sql = """
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT gen_random_uuid(), (@Sellers)[1 + floor(random() * cardinality(@Sellers))::int], true, 1 + (n % 900) / 100.0
            FROM generate_series(1, @Count) AS n
            RETURNING id
            """;
        return (await connection.QueryAsync<Guid>(sql, new { Sellers = sellers, Count = count }, commandTimeout: 600)).ToArray();
    }

    public static async Task<long> DeadlocksAsync(NpgsqlConnection connection)
    {
        // Backends add their counts when they end: wait until the purchase path's sessions are gone.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await connection.ExecuteScalarAsync<long>(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'OpsConsole'") > 0
               && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        return await connection.ExecuteScalarAsync<long>("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
    }

    public static async Task<IReadOnlyList<InvariantViolation>> ViolationsAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        await MarketplaceInvariants.FindViolationsAsync(connection, cancellationToken);
}
