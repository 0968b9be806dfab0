using Dapper;
using Npgsql;

namespace OpsConsole.Tests.Purchases;

/// <summary>Purchase rows written directly at chosen times, so a page test knows what each metric must read.</summary>
internal static class PurchaseRows
{
    public static async Task<Guid> BuyerAsync(NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var id = Guid.NewGuid();
        await connection.ExecuteAsync("INSERT INTO workspaces (id, name) VALUES (@Id, 'page buyer')", new { Id = id });
        return id;
    }

    public static async Task InsertAsync(
        NpgsqlDataSource dataSource, Guid buyer, int count, DateTimeOffset createdAt, string status = "completed", double? durationMs = 300)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, created_at, completed_at, duration_ms)
            SELECT gen_random_uuid(), @Buyer, @Status, 'credits', 10, @CreatedAt,
                   CASE WHEN @Status = 'completed' THEN @CreatedAt END, @DurationMs
            FROM generate_series(1, @Count)
            """, new { Buyer = buyer, Status = status, CreatedAt = createdAt.ToUniversalTime(), DurationMs = durationMs, Count = count });
    }

    /// <summary>A seller with <paramref name="leads"/> listed leads and a buyer with credits to buy them all.</summary>
    public static async Task<(Guid Buyer, Guid[] Leads)> MarketAsync(NpgsqlDataSource dataSource, int leads)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var seller = Guid.NewGuid();
        var buyer = Guid.NewGuid();
        await connection.ExecuteAsync("""
            INSERT INTO workspaces (id, name) VALUES (@Seller, 'page seller'), (@Buyer, 'page buyer');
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@Seller, 0, 0), (@Buyer, 1000, 1000);
            """, new { Seller = seller, Buyer = buyer });
        var ids = (await connection.QueryAsync<Guid>("""
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT gen_random_uuid(), @Seller, true, 5 FROM generate_series(1, @Count)
            RETURNING id
            """, new { Seller = seller, Count = leads })).ToArray();
        return (buyer, ids);
    }
}
