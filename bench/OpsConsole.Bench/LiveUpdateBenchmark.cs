using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 5: a checklist tick in one console instance reaching a viewer of the run in another (database write,
/// NOTIFY, the other instance's listener and hub), the deployment page's "&lt; 1 s" goal. The tests only wait for
/// the tick with a deadline; the time is measured here.
/// </summary>
internal static class LiveUpdateBenchmark
{
    private const int Ticks = 50;

    public static async Task RunAsync(BenchServer server, Report report, CancellationToken cancellationToken)
    {
        var connectionString = await server.CreateMarketplaceAsync("bench_live_updates", cancellationToken);
        var settings = new Dictionary<string, string?> { ["Deployments:ListenForChanges"] = "true" };
        await using var writer = TestServices.Build(connectionString, settings, minimumLevel: Microsoft.Extensions.Logging.LogLevel.Warning);
        await using var viewer = TestServices.Build(connectionString, settings, minimumLevel: Microsoft.Extensions.Logging.LogLevel.Warning);
        ServiceProvider[] instances = [writer, viewer];
        foreach (var instance in instances)
        {
            foreach (var hosted in instance.GetServices<IHostedService>())
            {
                await hosted.StartAsync(cancellationToken);
            }

            await instance.GetRequiredService<DeploymentEventListener>().Listening.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }

        var service = writer.GetRequiredService<IDeploymentService>();
        var latencies = new List<double>();
        while (latencies.Count < Ticks)
        {
            var runId = (await service.StartRunAsync(TestActors.Engineer, RunbookCatalog.RaceConditionFixes, null, cancellationToken)).Value;
            foreach (var item in (await service.GetRunAsync(TestActors.Support, runId, cancellationToken)).Value.Runbook.Items.Take(Ticks - latencies.Count))
            {
                var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                using var subscription = viewer.GetRequiredService<DeploymentEventHub>().Subscribe(runId, _ =>
                {
                    received.TrySetResult();
                    return Task.CompletedTask;
                });
                var clock = Stopwatch.StartNew();
                await service.SetItemAsync(TestActors.Engineer2, runId, item.Key, ItemState.Checked, null, null, cancellationToken);
                await received.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
                latencies.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        foreach (var instance in instances)
        {
            foreach (var hosted in instance.GetServices<IHostedService>())
            {
                await hosted.StopAsync(cancellationToken);
            }
        }

        var p95 = Stats.Percentile(latencies, 0.95);
        report.Add("6. live updates", $"tick to the other instance's viewer, median of {Ticks}", Stats.Ms(Stats.Median(latencies)));
        report.Add("6. live updates", $"tick to the other instance's viewer, p95 of {Ticks}", Stats.Ms(p95), "< 1000 ms", p95 < 1000);
    }
}
