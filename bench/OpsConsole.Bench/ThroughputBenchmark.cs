using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 1: completed credit purchases per second through the core library (3 leads each, 8 concurrent
/// buyers on disjoint leads, so nearly every attempt completes) against pgbench's built-in TPC-B-like
/// transaction with 8 clients on the same server, rounds interleaved so both see the same machine.
/// </summary>
internal static partial class ThroughputBenchmark
{
    private const int Buyers = 8;
    private const int LeadsPerPurchase = 3;
    private const int PgbenchScale = 8;

    public static async Task RunAsync(BenchServer server, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        Console.WriteLine($"Throughput: {options.Rounds} rounds of {options.Seconds} s, purchases then pgbench");
        var connectionString = await server.CreateMarketplaceAsync("bench_throughput", cancellationToken);
        await server.Cluster.CreateDatabaseIfMissingAsync("bench_pgbench", cancellationToken);
        var init = await server.Cluster.RunToolAsync("pgbench", [.. Connection(server), "-i", "-q", "-s", $"{PgbenchScale}", "bench_pgbench"], cancellationToken);
        if (init.ExitCode != 0)
        {
            throw new InvalidOperationException("pgbench -i failed: " + init.Output);
        }

        Guid[] sellers, buyers;
        await using (var data = NpgsqlDataSource.Create(connectionString))
        {
            sellers = await MarketSeed.WorkspacesAsync(data, 50, 0m, cancellationToken);
            buyers = await MarketSeed.WorkspacesAsync(data, Buyers, 1_000_000_000m, cancellationToken);
        }

        // Warm-up, not measured: JIT, Npgsql's automatic preparation (after a few uses per connection), pool.
        await PurchaseRoundAsync(connectionString, sellers, buyers, 3, cancellationToken);

        var purchaseRates = new List<double>();
        var pgbenchRates = new List<double>();
        var p50s = new List<double>();
        var p99s = new List<double>();
        var incomplete = 0;
        for (var round = 1; round <= options.Rounds; round++)
        {
            var (rate, latencies, notCompleted) = await PurchaseRoundAsync(connectionString, sellers, buyers, options.Seconds, cancellationToken);
            var tps = await PgbenchRoundAsync(server, options.Seconds, cancellationToken);
            purchaseRates.Add(rate);
            pgbenchRates.Add(tps);
            p50s.Add(Stats.Percentile(latencies, 0.50));
            p99s.Add(Stats.Percentile(latencies, 0.99));
            incomplete += notCompleted;
            Console.WriteLine($"  round {round}: {rate:0.0} purchases/s, pgbench {tps:0.0} tps, ratio {rate / tps:0.00}, " +
                              $"p50 {p50s[^1]:0.0} ms, p99 {p99s[^1]:0.0} ms, not completed {notCompleted}");
        }

        var ratios = purchaseRates.Zip(pgbenchRates, (p, t) => p / t).ToArray();
        var ratio = Stats.Median(ratios);
        report.Add("1. purchases vs pgbench", "completed credit purchases/s (3 leads, 8 buyers), median", Stats.F(Stats.Median(purchaseRates), "0.0"));
        report.Add("1. purchases vs pgbench", "pgbench TPC-B-like tps (8 clients, scale 8), median", Stats.F(Stats.Median(pgbenchRates), "0.0"));
        report.Add("1. purchases vs pgbench", "ratio, median of rounds", Stats.F(ratio), ">= 0.80", ratio >= 0.8);
        report.Add("1. purchases vs pgbench", "purchase latency p50, median of rounds", Stats.Ms(Stats.Median(p50s)));
        report.Add("1. purchases vs pgbench", "purchase latency p99, median of rounds", Stats.Ms(Stats.Median(p99s)));
        report.Add("1. purchases vs pgbench", "attempts that did not complete", incomplete.ToString(CultureInfo.InvariantCulture));
    }

    private static async Task<(double Rate, List<double> LatenciesMs, int NotCompleted)> PurchaseRoundAsync(
        string connectionString, Guid[] sellers, Guid[] buyers, int seconds, CancellationToken cancellationToken)
    {
        // Plenty of fresh leads, each buyer on its own slice: nearly every attempt completes.
        var perBuyer = LeadsPerPurchase * 1500 * seconds;
        Guid[] leads;
        await using (var data = NpgsqlDataSource.Create(connectionString))
        {
            leads = await MarketSeed.ScatteredLeadsAsync(data, sellers, perBuyer * buyers.Length, cancellationToken);
            await using var connection = await data.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync("VACUUM ANALYZE");
        }

        await using var services = BenchServer.Services(connectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();
        var latencies = new ConcurrentBag<double>();
        var completed = 0;
        var notCompleted = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(buyers.Select((buyer, b) => Task.Run(async () =>
        {
            for (var next = b * perBuyer; next + LeadsPerPurchase <= (b + 1) * perBuyer && clock.Elapsed < deadline; next += LeadsPerPurchase)
            {
                var result = await purchases.PurchaseWithCreditsAsync(buyer, leads[next..(next + LeadsPerPurchase)], "bench", cancellationToken);
                latencies.Add(result.Duration.TotalMilliseconds);
                if (result.Outcome == PurchaseOutcome.Completed)
                {
                    Interlocked.Increment(ref completed);
                }
                else
                {
                    Interlocked.Increment(ref notCompleted);
                }
            }
        }, cancellationToken)));
        return (completed / clock.Elapsed.TotalSeconds, latencies.ToList(), notCompleted);
    }

    private static async Task<double> PgbenchRoundAsync(BenchServer server, int seconds, CancellationToken cancellationToken)
    {
        var run = await server.Cluster.RunToolAsync("pgbench",
            [.. Connection(server), "-c", $"{Buyers}", "-j", "2", "-T", $"{seconds}", "-M", "prepared", "-n", "bench_pgbench"], cancellationToken);
        var match = TpsLine().Match(run.Output);
        if (run.ExitCode != 0 || !match.Success)
        {
            throw new InvalidOperationException("pgbench failed: " + run.Output);
        }

        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static string[] Connection(BenchServer server) => ["-h", "127.0.0.1", "-p", $"{server.Cluster.Port}", "-U", "postgres"];

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();
}
