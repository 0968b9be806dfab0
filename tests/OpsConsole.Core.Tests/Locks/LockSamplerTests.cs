using Dapper;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Locks;

/// <summary>The shared lock sampler: queries per sample independent of open pages, one history row per slot across instances.</summary>
public sealed class LockSamplerTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Database_queries_per_sample_are_the_same_with_one_and_a_hundred_open_pages()
    {
        var (_, _, leads) = await LockKit.MarketAsync(database.DataSource);
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var holder = await scene.OpenAsync("holder");
        var waiter = await scene.OpenAsync("waiter");
        await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = leads[0] });
        await scene.WaitUntilWaitingAsync(waiter);

        var perSample = new Dictionary<int, double>();
        foreach (var pages in new[] { 1, 100 })
        {
            await using var services = LockKit.Services(database.SuperuserConnectionString);
            var sampler = services.GetRequiredService<LockSampler>();
            var received = new int[pages];
            var subscriptions = Enumerable.Range(0, pages).Select(i => sampler.Subscribe(
                async s =>
                {
                    // A page redraws its history chart with every sample.
                    await sampler.GetHistoryAsync(MetricsWindow.FifteenMinutes, CancellationToken.None);
                    Interlocked.Increment(ref received[i]);
                },
                _ => Task.CompletedTask)).ToList();
            await WaitAsync(() => received.All(r => r >= 1));
            var before = sampler.QueriesExecuted;

            for (var sample = 1; sample <= 3; sample++)
            {
                await Task.Delay(sampler.Interval);
                await sampler.SampleAsync(CancellationToken.None);
                var expected = sample + 1;
                await WaitAsync(() => received.All(r => r >= expected));
            }

            perSample[pages] = (sampler.QueriesExecuted - before) / 3.0;
            subscriptions.ForEach(s => s.Dispose());
        }

        Assert.Equal(perSample[1], perSample[100]);
    }

    [Fact]
    public async Task Two_instances_sampling_the_same_slot_keep_one_history_row_and_the_chart_reads_it_back()
    {
        await using var first = LockKit.Services(database.SuperuserConnectionString, new Dictionary<string, string?> { ["Locks:SampleInterval"] = "00:01:00" });
        await using var second = LockKit.Services(database.SuperuserConnectionString, new Dictionary<string, string?> { ["Locks:SampleInterval"] = "00:01:00" });
        await using var connection = await database.DataSource.OpenConnectionAsync();
        // The class's other tests write slots of their own (2 s apart, some on a minute's start): none may be in ours.
        await connection.ExecuteAsync("DELETE FROM ops.lock_samples WHERE sampled_at > now() - interval '2 minutes'");
        var before = (await connection.QueryAsync<DateTime>("SELECT sampled_at FROM ops.lock_samples")).ToHashSet();

        // A one-minute slot: both samples fall in it unless the minute turns between them, then each writes its own.
        await first.GetRequiredService<LockSampler>().SampleAsync(CancellationToken.None);
        await second.GetRequiredService<LockSampler>().SampleAsync(CancellationToken.None);

        var slots = (await connection.QueryAsync<DateTime>("SELECT sampled_at FROM ops.lock_samples")).Where(s => !before.Contains(s)).ToList();
        var written = slots.Count;
        Assert.Equal(slots.Select(s => s.Ticks / TimeSpan.TicksPerMinute).Distinct().Count(), written);
        Assert.InRange(written, 1, 2);
        var points = await first.GetRequiredService<LockSampler>().GetHistoryAsync(MetricsWindow.FifteenMinutes, CancellationToken.None);
        Assert.NotEmpty(points);
    }

    [Fact]
    public async Task History_older_than_the_retention_is_removed_when_a_sample_is_written()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO ops.lock_samples (sampled_at, waiting_sessions, blocking_sessions, longest_wait_ms, blocked_purchases, deadlocks_total, conflicts)
            VALUES (now() - interval '8 days', 1, 1, 1, 0, 0, 0), (now() - interval '6 days', 2, 1, 1, 0, 0, 0)
            ON CONFLICT DO NOTHING
            """);
        await using var services = LockKit.Services(database.SuperuserConnectionString);

        await services.GetRequiredService<LockSampler>().SampleAsync(CancellationToken.None);

        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM ops.lock_samples WHERE sampled_at < now() - interval '7 days'"));
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM ops.lock_samples WHERE sampled_at BETWEEN now() - interval '6 days 1 minute' AND now() - interval '5 days'"));
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Not every page received its sample within 10 s.");
            await Task.Delay(10);
        }
    }
}
