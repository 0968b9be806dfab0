using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OpsConsole.Core.Tests.Metrics;

/// <summary>Crafted metrics data: purchases, conflicts and webhook deliveries at chosen times, so each metric has a known answer.</summary>
internal static class MetricsSeed
{
    /// <summary>A workspace to buy with (purchases need one).</summary>
    public static async Task<Guid> BuyerAsync(NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var id = Guid.NewGuid();
        await connection.ExecuteAsync("INSERT INTO workspaces (id, name) VALUES (@Id, 'metrics buyer')", new { Id = id });
        return id;
    }

    /// <summary>
    /// <paramref name="count"/> purchases created at <paramref name="createdAt"/>, with the given status and method;
    /// <paramref name="durationMs"/> is the service's measurement, <paramref name="completedAfter"/> sets completed_at.
    /// </summary>
    public static async Task PurchasesAsync(
        NpgsqlDataSource dataSource, Guid buyer, int count, DateTimeOffset createdAt, string status = "completed",
        string method = "credits", double? durationMs = null, TimeSpan? completedAfter = null)
    {
        const string sql = """
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, created_at, completed_at, duration_ms)
            SELECT gen_random_uuid(), @Buyer, @Status, @Method, 10, @CreatedAt, @CreatedAt + @CompletedAfter, @DurationMs
            FROM generate_series(1, @Count)
            """;
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(sql, new
        {
            Buyer = buyer,
            Status = status,
            Method = method,
            CreatedAt = createdAt.ToUniversalTime(),
            CompletedAfter = completedAfter,
            DurationMs = durationMs,
            Count = count,
        });
    }

    /// <summary><paramref name="count"/> conflicts reported at <paramref name="at"/>, as the purchase service writes them.</summary>
    public static async Task ConflictsAsync(NpgsqlDataSource dataSource, Guid buyer, int count, DateTimeOffset at)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO audit_logs (action, workspace_id, actor, details, created_at)
            SELECT 'purchase_conflict', @Buyer, 'test', '{}'::jsonb, @At FROM generate_series(1, @Count)
            """, new { Buyer = buyer, At = at.ToUniversalTime(), Count = count });
    }

    /// <summary>One Stripe event delivered <paramref name="deliveries"/> times, last at <paramref name="lastReceivedAt"/>.</summary>
    public static async Task WebhookAsync(NpgsqlDataSource dataSource, int deliveries, DateTimeOffset lastReceivedAt)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO stripe_webhook_events (event_id, type, deliveries, first_received_at, last_received_at)
            VALUES ('evt_' || gen_random_uuid(), 'payment_intent.succeeded', @Deliveries, @At, @At)
            """, new { Deliveries = deliveries, At = lastReceivedAt.ToUniversalTime() });
    }

    /// <summary>The core services over <paramref name="connectionString"/> with metrics settings and, optionally, a clock of the test's.</summary>
    public static ServiceProvider Services(string connectionString, IDictionary<string, string?>? settings = null, TimeProvider? time = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Marketplace"] = connectionString })
            .AddInMemoryCollection(settings ?? new Dictionary<string, string?>())
            .Build();
        var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Debug)).AddOpsConsoleCore(configuration);
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        return services.BuildServiceProvider();
    }
}
