using Dapper;
using Npgsql;

namespace OpsConsole.Testing;

/// <summary>
/// Rows the purchase metrics read, written directly at chosen times: purchases, reported conflicts and webhook
/// deliveries, so that each metric has a known answer; and, for the benchmarks, months of traffic in bulk.
/// The one writer of metrics rows for the Core tests, the page tests and the benchmarks.
/// </summary>
public static class MetricsRows
{
    /// <summary>A workspace to buy with (purchases need one).</summary>
    public static async Task<Guid> BuyerAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var id = Guid.NewGuid();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO workspaces (id, name) VALUES (@Id, 'metrics buyer')", new { Id = id }, cancellationToken: cancellationToken));
        return id;
    }

    /// <summary>
    /// <paramref name="count"/> purchases created at <paramref name="createdAt"/>, with the given status and method;
    /// <paramref name="durationMs"/> is the service's measurement, <paramref name="completedAfter"/> sets completed_at
    /// (null leaves it unset).
    /// </summary>
    public static async Task PurchasesAsync(
        NpgsqlDataSource dataSource, Guid buyer, int count, DateTimeOffset createdAt, string status = "completed",
        string method = "credits", double? durationMs = null, TimeSpan? completedAfter = null, CancellationToken cancellationToken = default)
    {
        const string sql = """
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, created_at, completed_at, duration_ms)
            SELECT gen_random_uuid(), @Buyer, @Status, @Method, 10, @CreatedAt, @CreatedAt + @CompletedAfter, @DurationMs
            FROM generate_series(1, @Count)
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            Buyer = buyer,
            Status = status,
            Method = method,
            CreatedAt = createdAt.ToUniversalTime(),
            CompletedAfter = completedAfter,
            DurationMs = durationMs,
            Count = count,
        }, cancellationToken: cancellationToken));
    }

    /// <summary><paramref name="count"/> conflicts reported at <paramref name="at"/>, as the purchase service writes them.</summary>
    public static async Task ConflictsAsync(NpgsqlDataSource dataSource, Guid buyer, int count, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO audit_logs (action, workspace_id, actor, details, created_at)
            SELECT 'purchase_conflict', @Buyer, 'test', '{}'::jsonb, @At FROM generate_series(1, @Count)
            """, new { Buyer = buyer, At = at.ToUniversalTime(), Count = count }, cancellationToken: cancellationToken));
    }

    /// <summary>One Stripe event delivered <paramref name="deliveries"/> times, last at <paramref name="lastReceivedAt"/>.</summary>
    public static async Task WebhookAsync(NpgsqlDataSource dataSource, int deliveries, DateTimeOffset lastReceivedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO stripe_webhook_events (event_id, type, deliveries, first_received_at, last_received_at)
            VALUES ('evt_' || gen_random_uuid(), 'payment_intent.succeeded', @Deliveries, @At, @At)
            """, new { Deliveries = deliveries, At = lastReceivedAt.ToUniversalTime() }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Purchases number <paramref name="from"/> + 1 to <paramref name="to"/> of traffic spread evenly over the last
    /// 30 days and shaped like the real thing: 97 % completed, 2 % failed, 1 % expired; 1 in 10 by card (with its
    /// webhook event, one in 20 delivered twice); a reported conflict for one attempt in 200. Each batch spreads
    /// over the whole 30 days (a golden-ratio sequence), so the last hour holds 1/720 of whatever was written.
    /// </summary>
    public static async Task TrafficAsync(NpgsqlDataSource dataSource, Guid[] buyers, long from, long to, CancellationToken cancellationToken = default)
    {
        const string sql = """
            WITH p AS (
                INSERT INTO marketplace_purchases
                    (id, buyer_workspace_id, status, payment_method, total_price, created_at, completed_at, duration_ms, reserved_until)
                SELECT gen_random_uuid(), (@Buyers)[1 + n % cardinality(@Buyers)],
                       CASE WHEN n % 100 < 97 THEN 'completed' WHEN n % 100 < 99 THEN 'failed' ELSE 'expired' END,
                       CASE WHEN n % 10 = 0 THEN 'stripe' ELSE 'credits' END,
                       15.00, t, CASE WHEN n % 100 < 97 THEN t + CASE WHEN n % 10 = 0 THEN interval '90 seconds' ELSE interval '0' END END,
                       CASE WHEN n % 10 <> 0 THEN 100 + (n * 7919) % 800 END,
                       t + interval '15 minutes'
                FROM generate_series(@From + 1, @To) AS n,
                     LATERAL (SELECT now() - interval '30 days' * ((n * 0.6180339887498949) % 1)) AS ts(t)
                RETURNING id, payment_method, created_at, status)
            , events AS (
                INSERT INTO stripe_webhook_events (event_id, type, deliveries, first_received_at, last_received_at, purchase_id)
                SELECT 'evt_' || id, 'payment_intent.succeeded', 1 + (abs(hashtext(id::text)) % 20 = 0)::int, created_at, created_at, id
                FROM p WHERE payment_method = 'stripe' AND status = 'completed')
            INSERT INTO audit_logs (action, workspace_id, actor, details, created_at)
            SELECT 'purchase_conflict', NULL, 'bench', '{}'::jsonb, created_at FROM p WHERE abs(hashtext(id::text)) % 200 = 0
            """;
        const long chunk = 1_000_000;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        for (var start = from; start < to; start += chunk)
        {
            await connection.ExecuteAsync(new CommandDefinition(sql,
                new { Buyers = buyers, From = start, To = Math.Min(start + chunk, to) },
                commandTimeout: 3600, cancellationToken: cancellationToken));
        }
    }
}
