using OpsConsole.Bench;

// Benchmarks of the purchase path against a throwaway PostgreSQL cluster with durable commits.
// dotnet run -c Release --project bench/OpsConsole.Bench -- [--rounds N] [--seconds S] [--only throughput|contention|scaling|metrics|live-updates|locks|stripe|page-memory|real-marketplace] [--synchronous-commit on|off]
var options = BenchOptions.Parse(args);
await using var server = await BenchServer.StartAsync(CancellationToken.None);
var report = new Report(server.Description);

if (options.Runs("throughput"))
{
    await ThroughputBenchmark.RunAsync(server, options, report, CancellationToken.None);
}

if (options.Runs("contention"))
{
    await ContentionBenchmark.RunAsync(server, options, report, CancellationToken.None);
}

if (options.Runs("scaling"))
{
    await ScalingBenchmark.RunAsync(server, options, report, CancellationToken.None);
}

if (options.Runs("metrics"))
{
    await MetricsBenchmarks.RunAsync(server, options, report, CancellationToken.None);
}

if (options.Runs("live-updates"))
{
    await LiveUpdateBenchmark.RunAsync(server, report, CancellationToken.None);
}

if (options.Runs("locks"))
{
    await LockBenchmarks.RunAsync(server, options, report, CancellationToken.None);
}

if (options.Runs("page-memory"))
{
    await PageMemoryBenchmark.RunAsync(server, report, options.PageKind, CancellationToken.None);
}

if (options.Runs("stripe"))
{
    await StripeWebhookBenchmark.RunAsync(server, options, report, CancellationToken.None);
}

if (options.Runs("real-marketplace"))
{
    await RealMarketplaceBenchmark.RunAsync(server, options, report, CancellationToken.None);
}

Console.WriteLine();
Console.WriteLine(report.ToMarkdown());
return report.AllGoalsMet ? 0 : 2;
