using System.Diagnostics;
using System.Globalization;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Metrics;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 3: the purchase-metrics snapshot (every KPI, the integrity checks and the chart's series, one round
/// trip) of every window (15 min to 7 days) at 1 and at 10 million purchases spread over 30 days, read through the
/// per-minute rollup (migration 0026) once it has caught up; the rollup's first catch-up is timed too.
/// Benchmark 4: the shared sampler's database queries per interval with 1 and with 100 open pages.
/// </summary>
internal static class MetricsBenchmarks
{
    private const int Samples = 15;

    public static async Task RunAsync(BenchServer server, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        var connectionString = await server.CreateMarketplaceAsync("bench_metrics", cancellationToken);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var buyers = await Seed.WorkspacesAsync(connection, 200, 1_000_000m);

        await using var services = BenchServer.Services(connectionString, new Dictionary<string, string?>
        {
            ["Metrics:SampleInterval"] = "00:00:01",
            // The snapshot's own limit would hide a slow figure behind a timeout: the benchmark wants the time.
            ["Metrics:StatementTimeout"] = "00:01:00",
        });
        var query = services.GetRequiredService<PurchaseMetricsQuery>();

        var rollup = services.GetRequiredService<MetricsRollupService>();
        var seeded = 0L;
        foreach (var target in new[] { 1_000_000L, 10_000_000L })
        {
            var clock = Stopwatch.StartNew();
            seeded = await SeedPurchasesAsync(connection, buyers, seeded, target, cancellationToken);
            Console.WriteLine($"Metrics: {seeded:N0} purchases seeded in {clock.Elapsed.TotalSeconds:0} s");
            var label = target == 1_000_000L ? "1M" : "10M";
            clock.Restart();
            await rollup.RefreshAsync(cancellationToken);
            report.Add("3. metrics snapshot", $"{label} purchases, rollup catch-up after seeding", Stats.Ms(clock.Elapsed.TotalMilliseconds));
            foreach (var window in MetricsWindow.All)
            {
                var times = await TimeSnapshotsAsync(query, window, options.Rounds, cancellationToken);
                var median = Stats.Median(times);
                report.Add("3. metrics snapshot", $"{label} purchases, {window.DisplayName} window: median of {times.Count}", Stats.Ms(median), "< 50 ms", median < 50);
            }
        }

        await FanOutAsync(services, report, cancellationToken);
    }

    private static async Task<List<double>> TimeSnapshotsAsync(PurchaseMetricsQuery query, MetricsWindow window, int rounds, CancellationToken cancellationToken)
    {
        await query.ReadAsync(window, DateTimeOffset.UtcNow, cancellationToken); // warm: plan cache, buffers
        var times = new List<double>();
        for (var i = 0; i < Samples * rounds; i++)
        {
            var clock = Stopwatch.StartNew();
            await query.ReadAsync(window, DateTimeOffset.UtcNow, cancellationToken);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        return times;
    }

    /// <summary>Adds purchases up to <paramref name="target"/>, spread evenly over the last 30 days, shaped like real traffic.</summary>
    private static async Task<long> SeedPurchasesAsync(NpgsqlConnection connection, Guid[] buyers, long from, long target, CancellationToken cancellationToken)
    {
        // 97 % completed, 2 % failed, 1 % expired; 1 in 10 by card (with its webhook event, one in 20 delivered twice);
        // a reported conflict for one attempt in 200. Each batch spreads over the whole 30 days (a golden-ratio
        // sequence), so the last hour holds 1/720 of whatever has been seeded so far.
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
        // Back-dated rows would each mark their minute for the rollup's triggers (migration 0026): off for this
        // bulk load, which happens before the rollup's next refresh anyway.
        await connection.ExecuteAsync("SET session_replication_role = replica");
        const long chunk = 1_000_000;
        for (var start = from; start < target; start += chunk)
        {
            await connection.ExecuteAsync(new CommandDefinition(sql,
                new { Buyers = buyers, From = start, To = Math.Min(start + chunk, target) },
                commandTimeout: 3600, cancellationToken: cancellationToken));
        }

        await connection.ExecuteAsync("RESET session_replication_role");
        await connection.ExecuteAsync(new CommandDefinition("VACUUM ANALYZE", commandTimeout: 3600, cancellationToken: cancellationToken));
        return target;
    }

    private static async Task FanOutAsync(ServiceProvider services, Report report, CancellationToken cancellationToken)
    {
        const int intervals = 5;
        var sampler = services.GetRequiredService<MetricsSampler>();
        await sampler.StartAsync(cancellationToken);
        try
        {
            var perInterval = new Dictionary<int, double>();
            foreach (var pages in new[] { 1, 100 })
            {
                var delivered = 0;
                var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var subscriptions = new List<MetricsSubscription>();
                // Every page on the default window and refresh, as people open it.
                for (var p = 0; p < pages; p++)
                {
                    var first = p == 0;
                    subscriptions.Add(sampler.Subscribe(MetricsWindow.FifteenMinutes, sampler.Interval, _ =>
                    {
                        // The first page's deliveries count the intervals (its first delivery is the one at subscribing).
                        var count = first ? Interlocked.Increment(ref delivered) : 0;
                        if (count == 1)
                        {
                            subscribed.TrySetResult();
                        }
                        else if (count == intervals + 1)
                        {
                            done.TrySetResult();
                        }

                        return Task.CompletedTask;
                    }, error => Task.FromException(error)));
                }

                await subscribed.Task.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
                var before = sampler.QueriesExecuted;
                await done.Task.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
                var queries = sampler.QueriesExecuted - before;
                perInterval[pages] = queries / (double)intervals;
                subscriptions.ForEach(s => s.Dispose());
                report.Add("4. sampler fan-out", $"queries per interval, {pages} open page{(pages == 1 ? "" : "s")}",
                    perInterval[pages].ToString("0.00", CultureInfo.InvariantCulture));
            }

            var ratio = perInterval[100] / perInterval[1];
            report.Add("4. sampler fan-out", "ratio 100 pages / 1 page", Stats.F(ratio), "1.00", Math.Abs(ratio - 1.0) < 0.001);
        }
        finally
        {
            await sampler.StopAsync(CancellationToken.None);
        }
    }
}
