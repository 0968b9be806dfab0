using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 2: hot contention. 32 buyers released together on the same 20 fresh leads, many times over:
/// how long a buyer waits to be told "conflict" (retries included), deadlocks, and the invariants afterwards.
/// </summary>
internal static class ContentionBenchmark
{
    private const int Buyers = 32;
    private const int HotLeads = 20;
    private const int BurstsPerRound = 100;

    public static async Task RunAsync(BenchServer server, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        Console.WriteLine($"Contention: {options.Rounds} rounds of {BurstsPerRound} bursts, {Buyers} buyers on {HotLeads} leads");
        var connectionString = await server.CreateMarketplaceAsync("bench_contention", cancellationToken);
        await using var data = NpgsqlDataSource.Create(connectionString);
        var sellers = await MarketSeed.WorkspacesAsync(data, 4, 0m, cancellationToken);
        var buyers = await MarketSeed.WorkspacesAsync(data, Buyers, 1_000_000_000m, cancellationToken);
        var deadlocksBefore = await MarketSeed.DeadlocksAsync(connectionString, cancellationToken);

        var p99s = new List<double>();
        var p50s = new List<double>();
        var conflicts = 0;
        var completed = 0;
        var retried = 0;
        await using (var services = BenchServer.Services(connectionString))
        {
            var purchases = services.GetRequiredService<IPurchaseService>();
            // Round 0 warms up (JIT, pool, Npgsql's automatic preparation) and is not reported.
            for (var round = 0; round <= options.Rounds; round++)
            {
                var conflictMs = new ConcurrentBag<double>();
                for (var burst = 0; burst < BurstsPerRound; burst++)
                {
                    var leads = await MarketSeed.ScatteredLeadsAsync(data, sellers, HotLeads, cancellationToken);
                    var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    var attempts = buyers.Select(async (buyer, index) =>
                    {
                        var random = new Random(round * 10_000 + burst * 100 + index);
                        var chosen = leads.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToArray();
                        await gate.Task;
                        return await purchases.PurchaseWithCreditsAsync(buyer, chosen, "bench", cancellationToken);
                    }).ToArray();
                    gate.SetResult();
                    foreach (var result in await Task.WhenAll(attempts))
                    {
                        retried += result.Attempts > 1 ? 1 : 0;
                        if (result.Outcome == PurchaseOutcome.Conflict)
                        {
                            conflicts++;
                            conflictMs.Add(result.Duration.TotalMilliseconds);
                        }
                        else if (result.Outcome == PurchaseOutcome.Completed)
                        {
                            completed++;
                        }
                    }
                }

                if (round == 0)
                {
                    conflicts = completed = retried = 0;
                    continue;
                }

                p50s.Add(Stats.Percentile(conflictMs, 0.50));
                p99s.Add(Stats.Percentile(conflictMs, 0.99));
                Console.WriteLine($"  round {round}: {conflictMs.Count} conflicts, p50 {p50s[^1]:0.0} ms, p99 {p99s[^1]:0.0} ms");
            }
        }

        var deadlocks = await MarketSeed.DeadlocksAsync(connectionString, cancellationToken) - deadlocksBefore;
        IReadOnlyList<InvariantViolation> violations;
        await using (var observer = await data.OpenConnectionAsync(cancellationToken))
        {
            violations = await MarketplaceInvariants.FindViolationsAsync(observer, cancellationToken);
        }

        var p99 = Stats.Median(p99s);
        report.Add("2. hot contention", $"bursts of {Buyers} buyers on {HotLeads} leads", $"{options.Rounds * BurstsPerRound} bursts: {completed} completed, {conflicts} conflicts, {retried} retried");
        report.Add("2. hot contention", "time to answer a conflict p50, median of rounds", Stats.Ms(Stats.Median(p50s)));
        report.Add("2. hot contention", "time to answer a conflict p99, median of rounds", Stats.Ms(p99), "< 50 ms", p99 < 50);
        report.Add("2. hot contention", "deadlocks", deadlocks.ToString(System.Globalization.CultureInfo.InvariantCulture), "0", deadlocks == 0);
        report.Add("2. hot contention", "invariant violations afterwards", violations.Count == 0 ? "none" : string.Join("; ", violations.Take(5).Select(v => $"{v.Invariant}: {v.Subject}")), "none", violations.Count == 0);
    }
}
