using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Testing;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 5: the lock snapshot (sessions, locks, blocking pids, the tree and the 200 contended lead rows named)
/// with 200 sessions waiting in 40 chains of 5 (each waiter holds its own lead row and waits for the one before).
/// Benchmark 6: the lock sampler's database queries per sample with 1 and with 100 open pages, each page also
/// redrawing its history chart at every sample.
/// </summary>
internal static class LockBenchmarks
{
    private const int Chains = 40;
    private const int Waiters = 5;
    private const int Samples = 30;

    public static async Task RunAsync(BenchServer server, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        var connectionString = await server.CreateMarketplaceAsync("bench_locks", cancellationToken);
        await using var data = NpgsqlDataSource.Create(connectionString);
        var sellers = await MarketSeed.WorkspacesAsync(data, 20, 0m, cancellationToken);
        var leads = await MarketSeed.ListedLeadsAsync(data, sellers, Chains * (Waiters + 1) / sellers.Length + 1, 10m, cancellationToken);
        await using var services = BenchServer.Services(connectionString, new Dictionary<string, string?>
        {
            // The snapshot's own limits would hide a slow figure behind a timeout: the benchmark wants the time.
            ["Locks:StatementTimeout"] = "00:01:00",
        });

        await using var scene = new LockScene(connectionString);
        var clock = Stopwatch.StartNew();
        for (var chain = 0; chain < Chains; chain++)
        {
            var rows = leads.Skip(chain * (Waiters + 1)).Take(Waiters + 1).ToArray();
            var holder = await scene.OpenAsync("bench holder");
            await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = rows[0] });
            for (var depth = 1; depth <= Waiters; depth++)
            {
                var waiter = await scene.OpenAsync("bench waiter");
                await waiter.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = rows[depth] });
                waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = rows[depth - 1] });
                await scene.WaitUntilWaitingAsync(waiter);
            }
        }

        Console.WriteLine($"Locks: {Chains * Waiters} sessions waiting in {Chains} chains, set up in {clock.Elapsed.TotalSeconds:0} s");
        var query = services.GetRequiredService<LockSnapshotQuery>();
        var first = await query.ReadAsync(cancellationToken); // warm: plan cache, buffers
        var times = new List<double>();
        for (var i = 0; i < Samples * options.Rounds; i++)
        {
            clock.Restart();
            var snapshot = await query.ReadAsync(cancellationToken);
            times.Add(clock.Elapsed.TotalMilliseconds);
            if (snapshot.Summary.WaitingSessions != Chains * Waiters || snapshot.Rows.Count(r => r.Value.RowId is not null) != Chains * Waiters)
            {
                throw new InvalidOperationException($"The snapshot saw {snapshot.Summary.WaitingSessions} waiting sessions and {snapshot.Rows.Count} rows.");
            }
        }

        var median = Stats.Median(times);
        var p99 = Stats.Percentile(times, 0.99);
        report.Add("7. lock snapshot", $"{Chains * Waiters} waiting in {Chains} chains of {Waiters}: trees, depth",
            $"{first.Tree.Trees.Count} trees, depth {first.Tree.Trees.Max(t => t.Root.Flatten().Max(n => n.Depth))}");
        report.Add("7. lock snapshot", $"snapshot with rows named, median of {times.Count}", Stats.Ms(median), "< 50 ms", median < 50);
        report.Add("7. lock snapshot", $"snapshot with rows named, p99 of {times.Count}", Stats.Ms(p99), "< 100 ms", p99 < 100);

        await FanOutAsync(services, report, cancellationToken);
    }

    private static async Task FanOutAsync(ServiceProvider services, Report report, CancellationToken cancellationToken)
    {
        const int samples = 5;
        var sampler = services.GetRequiredService<LockSampler>();
        var perSample = new Dictionary<int, double>();
        foreach (var pages in new[] { 1, 100 })
        {
            var delivered = new int[pages];
            var subscriptions = Enumerable.Range(0, pages).Select(p => sampler.Subscribe(
                async _ =>
                {
                    // A page redraws its history chart with every snapshot.
                    await sampler.GetHistoryAsync(MetricsWindow.FifteenMinutes, cancellationToken);
                    Interlocked.Increment(ref delivered[p]);
                },
                error => Task.FromException(error))).ToList();
            await WaitAsync(() => delivered.All(d => d >= 1), cancellationToken);
            var before = sampler.QueriesExecuted;
            for (var sample = 1; sample <= samples; sample++)
            {
                await Task.Delay(sampler.Interval, cancellationToken);
                await sampler.SampleAsync(cancellationToken);
                var expected = sample + 1;
                await WaitAsync(() => delivered.All(d => d >= expected), cancellationToken);
            }

            perSample[pages] = (sampler.QueriesExecuted - before) / (double)samples;
            subscriptions.ForEach(s => s.Dispose());
            report.Add("8. lock sampler fan-out", $"queries per sample, {pages} open page{(pages == 1 ? "" : "s")}",
                perSample[pages].ToString("0.00", CultureInfo.InvariantCulture));
        }

        var ratio = perSample[100] / perSample[1];
        report.Add("8. lock sampler fan-out", "ratio 100 pages / 1 page", Stats.F(ratio), "1.00", Math.Abs(ratio - 1.0) < 0.001);
    }

    private static async Task WaitAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Not every page received its snapshot within a minute.");
            }

            await Task.Delay(10, cancellationToken);
        }
    }
}
