using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Metrics;

/// <summary>
/// The per-minute rollup (migration 0026) changes how fast a window is read, never what it says: every window's
/// figures equal those counted straight from the tables (the guide's monitoring SQL, and the same counts for the
/// console's other KPIs), before the first refresh, after it, after late changes to rolled-up minutes (a card
/// payment completing an expired purchase, an expiry, a webhook delivered again, a back-dated conflict) and after
/// the next refresh. The purchase path itself never writes the rollup.
/// </summary>
public sealed class MetricsRollupTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    // The guide's success-rate query (Post-Deployment Monitoring, query 1) with NOW() bound to the instant read.
    private const string GuideSuccessRateSql = """
        SELECT COUNT(*) FILTER (WHERE status = 'completed') * 100.0 / COUNT(*) AS success_rate_percent
        FROM marketplace_purchases
        WHERE created_at > @Now - INTERVAL '1 hour'
        """;

    // The guide's conflict check, the same way.
    private const string GuideConflictsSql = """
        SELECT COUNT(*) FROM audit_logs WHERE action = 'purchase_conflict' AND created_at > @Now - INTERVAL '1 hour'
        """;

    // Every figure of one half-window [Lo, Hi) counted from the tables.
    private const string DirectSql = """
        SELECT (SELECT count(*) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi) AS Created,
               (SELECT count(*) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi AND status = 'completed') AS Completed,
               (SELECT count(*) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi AND status IN ('failed', 'expired', 'refund_required')) AS Failed,
               (SELECT count(*) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi AND status = 'pending') AS Pending,
               (SELECT count(*) FROM audit_logs WHERE action = 'purchase_conflict' AND created_at >= @Lo AND created_at < @Hi) AS Conflicts,
               (SELECT count(duration_ms) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi AND status = 'completed' AND payment_method = 'credits') AS CreditCount,
               (SELECT avg(duration_ms::float8) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi AND status = 'completed' AND payment_method = 'credits') AS CreditAverage,
               (SELECT count(*) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi AND status = 'completed' AND payment_method = 'stripe' AND completed_at IS NOT NULL) AS Checkouts,
               (SELECT avg(date_part('epoch', completed_at - created_at) * 1000) FROM marketplace_purchases WHERE created_at >= @Lo AND created_at < @Hi AND status = 'completed' AND payment_method = 'stripe' AND completed_at IS NOT NULL) AS CheckoutAverage,
               (SELECT count(*) FROM stripe_webhook_events WHERE last_received_at >= @Lo AND last_received_at < @Hi) AS Events,
               (SELECT coalesce(sum(deliveries), 0) FROM stripe_webhook_events WHERE last_received_at >= @Lo AND last_received_at < @Hi) AS Deliveries
        """;

    [Fact]
    public async Task Every_window_reads_what_the_tables_hold_before_and_after_refreshes_and_late_changes()
    {
        var db = database.DataSource;
        var to = await SeedAsync();
        await using var services = TestServices.Build(database.ConnectionString);
        var query = services.GetRequiredService<PurchaseMetricsQuery>();
        var rollup = services.GetRequiredService<MetricsRollupService>();
        await using var connection = await db.OpenConnectionAsync();

        await AssertSameAsTablesAsync(query, connection, to, "before the first refresh");

        Assert.True(await rollup.RefreshAsync(CancellationToken.None));
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM ops.purchase_metrics_minutes") > 1000);
        // Written in minute order (0086), so a window's primary-key range of minutes reads a few heap pages, not one
        // page per minute as the aggregate's hash order gave after a catch-up.
        var heapOrder = (await connection.QueryAsync<DateTime>("SELECT minute FROM ops.purchase_metrics_minutes ORDER BY ctid")).ToList();
        Assert.Equal(heapOrder.Order().ToList(), heapOrder);
        await AssertSameAsTablesAsync(query, connection, to, "after the refresh");

        // Late changes to minutes already rolled up.
        await connection.ExecuteAsync("""
            UPDATE marketplace_purchases SET status = 'completed', completed_at = clock_timestamp()
             WHERE id IN (SELECT id FROM marketplace_purchases WHERE status = 'expired' AND payment_method = 'stripe' ORDER BY id LIMIT 20);
            UPDATE marketplace_purchases SET status = 'expired'
             WHERE id IN (SELECT id FROM marketplace_purchases WHERE status = 'pending' AND created_at < now() - interval '2 hours' ORDER BY id LIMIT 20);
            UPDATE stripe_webhook_events SET deliveries = deliveries + 1, last_received_at = clock_timestamp()
             WHERE event_id IN (SELECT event_id FROM stripe_webhook_events WHERE last_received_at < now() - interval '1 day' ORDER BY event_id LIMIT 20);
            INSERT INTO audit_logs (action, actor, details, created_at)
            SELECT 'purchase_conflict', 'late', '{}', now() - interval '3 days' - n * interval '7 minutes' FROM generate_series(1, 5) AS n;
            """);
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM ops.purchase_metrics_dirty") > 20);
        await AssertSameAsTablesAsync(query, connection, to, "after late changes, before the next refresh");

        Assert.True(await rollup.RefreshAsync(CancellationToken.None));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM ops.purchase_metrics_dirty WHERE minute < (SELECT rolled_until FROM ops.purchase_metrics_state)"));
        await AssertSameAsTablesAsync(query, connection, to, "after the next refresh");
    }

    [Fact]
    public async Task A_purchase_writes_nothing_to_the_rollup()
    {
        var db = database.DataSource;
        var sellers = await MarketSeed.WorkspacesAsync(db, 2, 0m);
        var buyers = await MarketSeed.WorkspacesAsync(db, 1, 100m);
        var leads = await MarketSeed.ListedLeadsAsync(db, sellers, 2, 5m);
        await using var services = TestServices.Build(database.ConnectionString);
        await using var connection = await db.OpenConnectionAsync();
        var before = await RollupRowsAsync(connection);

        var purchases = services.GetRequiredService<IPurchaseService>();
        Assert.Equal(PurchaseOutcome.Completed, (await purchases.PurchaseWithCreditsAsync(buyers[0], leads[..2], "t", CancellationToken.None)).Outcome);
        var card = await purchases.ReserveForStripeAsync(buyers[0], leads[2..], "t", CancellationToken.None);
        Assert.Equal(PurchaseOutcome.Completed, (await purchases.CompleteStripeAsync(card.PurchaseId!.Value, "evt_rollup", "pi_rollup", CancellationToken.None)).Outcome);

        Assert.Equal(before, await RollupRowsAsync(connection));
    }

    // Every row of the rollup's tables, with its values: only ops.refresh_purchase_metrics() and the triggers for
    // late changes write them.
    private static async Task<string> RollupRowsAsync(NpgsqlConnection connection) => string.Join("\n", await connection.QueryAsync<string>("""
        SELECT 'minute ' || m::text FROM ops.purchase_metrics_minutes AS m
        UNION ALL SELECT 'dirty ' || d::text FROM ops.purchase_metrics_dirty AS d
        UNION ALL SELECT 'state ' || s::text FROM ops.purchase_metrics_state AS s
        ORDER BY 1
        """));

    private static async Task AssertSameAsTablesAsync(PurchaseMetricsQuery query, NpgsqlConnection connection, DateTimeOffset to, string when)
    {
        foreach (var window in MetricsWindow.All)
        {
            var readings = await query.ReadAsync(window, to, CancellationToken.None);
            var current = await connection.QuerySingleAsync<Direct>(DirectSql, new { Lo = to - window.Length, Hi = to });
            var previous = await connection.QuerySingleAsync<Direct>(DirectSql, new { Lo = to - 2 * window.Length, Hi = to - window.Length });
            var label = $"{window} window {when}";

            Assert.True(current.Created > 0, $"{label}: no purchases in the window, nothing compared");
            Assert.Equal((label, current.Counts), (label, readings.Current));
            Assert.Equal((label, previous.Counts), (label, readings.Previous));
            Assert.Equal((label, current.CreditCount), (label, readings.CreditPurchaseTime.Count));
            Assert.Equal((label, previous.CreditCount), (label, readings.PreviousCreditPurchaseTime.Count));
            AssertClose(current.CreditAverage, readings.CreditPurchaseTime.AverageMs, label + " credit average");
            AssertClose(previous.CreditAverage, readings.PreviousCreditPurchaseTime.AverageMs, label + " previous credit average");
            Assert.Equal((label, current.Checkouts), (label, readings.StripeCheckout.Count));
            AssertClose(current.CheckoutAverage, readings.StripeCheckout.AverageMs, label + " checkout average");
            Assert.Equal((label, current.Events, current.Deliveries), (label, readings.Webhooks.Events, readings.Webhooks.Deliveries));
            Assert.Equal((label, previous.Events, previous.Deliveries), (label, readings.PreviousWebhooks.Events, readings.PreviousWebhooks.Deliveries));
            Assert.Equal((label, window.HasPercentiles), (label, readings.CreditPurchaseTime.P50Ms is not null));

            // The chart: its points add up to the window, and each point is what the tables hold for its step.
            Assert.Equal((label, current.Created), (label, readings.Series.Sum(p => p.Purchases)));
            Assert.Equal((label, current.Conflicts), (label, readings.Series.Sum(p => p.Conflicts)));
            foreach (var point in readings.Series.Where((_, i) => i % 7 == 3))
            {
                var step = await connection.QuerySingleAsync<Direct>(DirectSql, new { Lo = point.Minute, Hi = point.Minute + window.Step });
                Assert.Equal((label, point.Minute, step.Created, step.Completed, step.Failed, step.Conflicts),
                             (label, point.Minute, point.Purchases, point.Successful, point.Failed, point.Conflicts));
                AssertClose(step.CreditAverage, point.AverageMs, $"{label} point {point.Minute:u}");
            }

            if (window == MetricsWindow.OneHour)
            {
                var guideRate = await connection.ExecuteScalarAsync<decimal>(GuideSuccessRateSql, new { Now = to });
                Assert.Equal((double)guideRate, readings.Value(Kpi.SuccessRate)!.Value, 9);
                Assert.Equal(await connection.ExecuteScalarAsync<long>(GuideConflictsSql, new { Now = to }), readings.Current.Conflicts);
            }
        }
    }

    private static void AssertClose(double? expected, double? actual, string label)
    {
        Assert.True(expected.HasValue == actual.HasValue, $"{label}: expected {expected}, read {actual}");
        if (expected is { } e)
        {
            Assert.True(Math.Abs(e - actual!.Value) <= 1e-9 * Math.Max(1, Math.Abs(e)), $"{label}: expected {e}, read {actual}");
        }
    }

    // 40,000 purchases over the last 10 days (every status, a tenth by card with their webhook events, some
    // delivered twice), 400 conflicts; the newest rows are younger than the rollup's 30 minutes. Reads end at a
    // fixed instant just after the newest row, not at a minute boundary.
    private async Task<DateTimeOffset> SeedAsync()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var to = await connection.ExecuteScalarAsync<DateTime>("SELECT date_trunc('second', now()) + interval '17.3 seconds'");
        await connection.ExecuteAsync("""
            INSERT INTO workspaces (id, name) VALUES ('00000000-0000-4000-8000-00000000beef', 'rollup buyer');
            WITH p AS (
                INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, created_at, completed_at, duration_ms)
                SELECT gen_random_uuid(), '00000000-0000-4000-8000-00000000beef',
                       CASE WHEN n % 50 < 45 THEN 'completed' WHEN n % 50 < 47 THEN 'failed' WHEN n % 50 < 49 THEN 'expired'
                            WHEN n % 100 = 49 THEN 'refund_required' ELSE 'pending' END,
                       CASE WHEN n % 10 = 0 OR n % 50 >= 47 THEN 'stripe' ELSE 'credits' END,
                       12.50, t,
                       CASE WHEN n % 50 < 45 THEN t + (n % 300) * interval '1 second' END,
                       CASE WHEN n % 10 <> 0 AND n % 13 <> 0 THEN 50 + (n * 7919) % 900 + (n % 1000) / 1000.0 END
                FROM generate_series(1, 40000) AS n,
                     LATERAL (SELECT @To - interval '10 days' * ((n * 0.6180339887498949) % 1) - interval '1 second') AS ts (t)
                RETURNING id, payment_method, status, created_at)
            , events AS (
                INSERT INTO stripe_webhook_events (event_id, type, deliveries, first_received_at, last_received_at, purchase_id)
                SELECT 'evt_' || id, 'payment_intent.succeeded', 1 + (abs(hashtext(id::text)) % 20 = 0)::int, created_at, created_at + interval '40 seconds', id
                FROM p WHERE payment_method = 'stripe' AND status = 'completed')
            INSERT INTO audit_logs (action, workspace_id, actor, details, created_at)
            SELECT 'purchase_conflict', NULL, 'seed', '{}'::jsonb, created_at FROM p WHERE abs(hashtext(id::text)) % 100 = 0
            """, new { To = to });
        return new DateTimeOffset(DateTime.SpecifyKind(to, DateTimeKind.Utc));
    }

    private sealed class Direct
    {
        public long Created { get; init; }
        public long Completed { get; init; }
        public long Failed { get; init; }
        public long Pending { get; init; }
        public long Conflicts { get; init; }
        public long CreditCount { get; init; }
        public double? CreditAverage { get; init; }
        public long Checkouts { get; init; }
        public double? CheckoutAverage { get; init; }
        public long Events { get; init; }
        public long Deliveries { get; init; }

        public PurchaseCounts Counts => new(Created, Completed, Failed, Pending, Conflicts);
    }
}
