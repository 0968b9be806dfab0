using Dapper;
using Npgsql;

namespace OpsConsole.Tests.Credits;

/// <summary>Credit rows made to order and read back, for the page, API and browser tests.</summary>
internal static class CreditRows
{
    /// <summary>A new workspace with a credit row of these values (drifted unless the formula holds).</summary>
    public static async Task<Guid> WorkspaceAsync(NpgsqlDataSource dataSource, decimal balance, decimal purchased)
    {
        var id = Guid.NewGuid();
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO workspaces (id, name) VALUES (@Id, 'Test ' || left(@Id::text, 8));
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@Id, @Balance, @Purchased);
            """, new { Id = id, Balance = balance, Purchased = purchased });
        return id;
    }

    public static async Task<decimal> BalanceAsync(NpgsqlDataSource dataSource, Guid workspace)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<decimal>("SELECT balance FROM workspace_credits WHERE workspace_id = @Id", new { Id = workspace });
    }

    /// <summary>Everything a refused request could have written: journal rows, status events, audit rows.</summary>
    public static async Task<(long Adjustments, long Events, long Audit)> WrittenAsync(NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(long, long, long)>("""
            SELECT (SELECT count(*) FROM ops.credit_adjustments), (SELECT count(*) FROM ops.credit_adjustment_events), (SELECT count(*) FROM audit_logs)
            """);
    }
}
