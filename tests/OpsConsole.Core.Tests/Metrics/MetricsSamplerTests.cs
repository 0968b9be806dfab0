using System.Collections.Concurrent;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using OpsConsole.Core.Metrics;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Metrics;

/// <summary>
/// The shared sampler against a real database, on a clock the test advances: one computation per window per
/// interval whatever the number of subscribers, refresh intervals per subscriber, errors to subscribers.
/// </summary>
public sealed class MetricsSamplerTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private NpgsqlDataSource Db => database.DataSource;

    [Fact]
    public async Task Database_queries_per_interval_do_not_grow_with_the_number_of_open_pages()
    {
        var perInterval = new Dictionary<int, long>();
        foreach (var pages in new[] { 1, 100 })
        {
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            await using var services = TestServices.Build(database.ConnectionString, time: time);
            var sampler = services.GetRequiredService<MetricsSampler>();
            var viewers = Enumerable.Range(0, pages).Select(_ => new Viewer()).ToList();
            var subscriptions = viewers.Select(v => v.Subscribe(sampler, MetricsWindow.FifteenMinutes, TimeSpan.FromSeconds(5))).ToList();
            await Viewer.AllReceivedAsync(viewers, 1);
            var before = sampler.QueriesExecuted;

            for (var interval = 1; interval <= 3; interval++)
            {
                time.Advance(sampler.Interval);
                await sampler.SampleAsync(CancellationToken.None);
                Assert.All(viewers, v => Assert.Equal(interval + 1, v.Snapshots.Count));
            }

            perInterval[pages] = (sampler.QueriesExecuted - before) / 3;
            subscriptions.ForEach(s => s.Dispose());
        }

        Assert.Equal(1, perInterval[1]);
        Assert.Equal(perInterval[1], perInterval[100]);
    }

    [Fact]
    public async Task Many_pages_opening_at_once_share_one_computation_and_each_window_is_computed_once_per_interval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = TestServices.Build(database.ConnectionString, time: time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var shortViewers = Enumerable.Range(0, 60).Select(_ => new Viewer()).ToList();
        var longViewers = Enumerable.Range(0, 40).Select(_ => new Viewer()).ToList();

        var subscriptions = shortViewers.Select(v => v.Subscribe(sampler, MetricsWindow.FifteenMinutes, TimeSpan.FromSeconds(5)))
            .Concat(longViewers.Select(v => v.Subscribe(sampler, MetricsWindow.TwentyFourHours, TimeSpan.FromSeconds(5))))
            .ToList();
        await Viewer.AllReceivedAsync([.. shortViewers, .. longViewers], 1);

        Assert.Equal(2, sampler.QueriesExecuted);
        Assert.Equal(100, sampler.SubscriberCount);
        Assert.All(shortViewers, v => Assert.Same(shortViewers[0].Snapshots[0], v.Snapshots[0]));
        Assert.All(longViewers, v => Assert.Equal(MetricsWindow.TwentyFourHours, v.Snapshots[0].Window));

        time.Advance(sampler.Interval);
        await sampler.SampleAsync(CancellationToken.None);

        Assert.Equal(4, sampler.QueriesExecuted);
        subscriptions.ForEach(s => s.Dispose());
        Assert.Equal(0, sampler.SubscriberCount);

        time.Advance(sampler.Interval);
        await sampler.SampleAsync(CancellationToken.None);
        Assert.Equal(4, sampler.QueriesExecuted);
    }

    [Fact]
    public async Task Each_subscriber_is_refreshed_at_its_own_interval_and_never_when_refresh_is_off()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = TestServices.Build(database.ConnectionString, time: time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var every5 = new Viewer();
        var every10 = new Viewer();
        var every30 = new Viewer();
        var off = new Viewer();
        using var a = every5.Subscribe(sampler, MetricsWindow.OneHour, TimeSpan.FromSeconds(5));
        using var b = every10.Subscribe(sampler, MetricsWindow.OneHour, TimeSpan.FromSeconds(10));
        using var c = every30.Subscribe(sampler, MetricsWindow.OneHour, TimeSpan.FromSeconds(30));
        using var d = off.Subscribe(sampler, MetricsWindow.OneHour, null);
        await Viewer.AllReceivedAsync([every5, every10, every30, off], 1);

        for (var i = 0; i < 6; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await sampler.SampleAsync(CancellationToken.None);
        }

        Assert.Equal((7, 4, 2, 1), (every5.Snapshots.Count, every10.Snapshots.Count, every30.Snapshots.Count, off.Snapshots.Count));
        Assert.Equal(7, sampler.QueriesExecuted);
    }

    [Fact]
    public async Task Changing_the_window_delivers_that_window_at_once()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = TestServices.Build(database.ConnectionString, time: time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var viewer = new Viewer();
        using var subscription = viewer.Subscribe(sampler, MetricsWindow.FifteenMinutes, null);
        await Viewer.AllReceivedAsync([viewer], 1);

        subscription.Change(MetricsWindow.SixHours, TimeSpan.FromSeconds(5));
        await Viewer.AllReceivedAsync([viewer], 2);

        Assert.Equal(MetricsWindow.SixHours, viewer.Snapshots[1].Window);
        Assert.Equal(MetricsWindow.SixHours, subscription.Window);
    }

    [Fact]
    public async Task A_subscriber_whose_handler_throws_does_not_keep_the_others_from_their_snapshot()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = TestServices.Build(database.ConnectionString, time: time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var good = new Viewer();
        using var bad = sampler.Subscribe(MetricsWindow.FifteenMinutes, TimeSpan.FromSeconds(5),
            _ => throw new InvalidOperationException("page went away"), _ => Task.CompletedTask);
        using var subscription = good.Subscribe(sampler, MetricsWindow.FifteenMinutes, TimeSpan.FromSeconds(5));
        await Viewer.AllReceivedAsync([good], 1);

        time.Advance(sampler.Interval);
        await sampler.SampleAsync(CancellationToken.None);

        Assert.Equal(2, good.Snapshots.Count);
    }

    [Fact]
    public async Task An_unreachable_database_is_reported_to_each_subscriber()
    {
        var unreachable = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = 1, Timeout = 2 }.ConnectionString;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = TestServices.Build(unreachable, time: time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var viewers = new[] { new Viewer(), new Viewer() };
        var subscriptions = viewers.Select(v => v.Subscribe(sampler, MetricsWindow.FifteenMinutes, TimeSpan.FromSeconds(5))).ToList();

        await Viewer.AllFailedAsync(viewers, 1);
        time.Advance(sampler.Interval);
        await sampler.SampleAsync(CancellationToken.None);

        Assert.All(viewers, v => Assert.Equal(2, v.Errors.Count));
        Assert.All(viewers, v => Assert.IsAssignableFrom<NpgsqlException>(v.Errors[0]));
        Assert.All(viewers, v => Assert.Empty(v.Snapshots));
        subscriptions.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task An_alert_shows_only_after_the_pending_period_of_evaluations()
    {
        var buyer = await MetricsRows.BuyerAsync(Db);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // 100 purchases a minute ago, 90 completed: 90 %, below the 98 % alert threshold.
        await MetricsRows.PurchasesAsync(Db, buyer, 90, time.GetUtcNow().AddMinutes(-1));
        await MetricsRows.PurchasesAsync(Db, buyer, 10, time.GetUtcNow().AddMinutes(-1), status: "failed");
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Metrics:PendingEvaluations"] = "3",
        }, time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var viewer = new Viewer();
        using var subscription = viewer.Subscribe(sampler, MetricsWindow.OneHour, TimeSpan.FromSeconds(5));
        await Viewer.AllReceivedAsync([viewer], 1);

        for (var i = 0; i < 3; i++)
        {
            time.Advance(sampler.Interval);
            await sampler.SampleAsync(CancellationToken.None);
        }

        var success = viewer.Snapshots.Select(s => s[Kpi.SuccessRate]).ToList();
        Assert.All(success, k => Assert.Equal(90.0, k.Value!.Value, 9));
        Assert.Equal([KpiState.Warn, KpiState.Warn, KpiState.Alert, KpiState.Alert], success.Select(k => k.Status.State));
        Assert.Equal([true, true, false, false], success.Select(k => k.Status.AlertPending));

        // Other windows keep their own evaluations: a page opening 24 h starts its own pending period.
        var other = new Viewer();
        using var otherSubscription = other.Subscribe(sampler, MetricsWindow.TwentyFourHours, null);
        await Viewer.AllReceivedAsync([other], 1);
        Assert.Equal(KpiState.Warn, other.Snapshots[0][Kpi.SuccessRate].Status.State);

        await using var connection = await Db.OpenConnectionAsync();
        await connection.ExecuteAsync("DELETE FROM marketplace_purchases WHERE buyer_workspace_id = @Buyer", new { Buyer = buyer });
    }

    [Fact]
    public async Task Evaluations_minutes_apart_do_not_add_up_to_an_alert()
    {
        var buyer = await MetricsRows.BuyerAsync(Db);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow.AddYears(3));
        await MetricsRows.PurchasesAsync(Db, buyer, 1, time.GetUtcNow().AddMinutes(-1), status: "failed");
        await using var services = TestServices.Build(database.ConnectionString, time: time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var viewer = new Viewer();
        using var subscription = viewer.Subscribe(sampler, MetricsWindow.SixHours, null);
        await Viewer.AllReceivedAsync([viewer], 1);

        time.Advance(TimeSpan.FromMinutes(3));
        subscription.Change(MetricsWindow.SixHours, null);
        await Viewer.AllReceivedAsync([viewer], 2);
        time.Advance(sampler.Interval);
        subscription.Change(MetricsWindow.SixHours, null);
        await Viewer.AllReceivedAsync([viewer], 3);

        Assert.Equal([KpiState.Warn, KpiState.Warn, KpiState.Alert], viewer.Snapshots.Select(s => s[Kpi.SuccessRate].Status.State));
    }

    [Fact]
    public async Task The_endpoint_and_the_pages_share_the_latest_snapshot_within_an_interval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = TestServices.Build(database.ConnectionString, time: time);
        var sampler = services.GetRequiredService<MetricsSampler>();
        var viewer = new Viewer();
        using var subscription = viewer.Subscribe(sampler, MetricsWindow.FifteenMinutes, TimeSpan.FromSeconds(5));
        await Viewer.AllReceivedAsync([viewer], 1);

        var scraped = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => sampler.GetSnapshotAsync(MetricsWindow.FifteenMinutes, CancellationToken.None)));

        Assert.All(scraped, s => Assert.Same(viewer.Snapshots[0], s));
        Assert.Equal(1, sampler.QueriesExecuted);
        time.Advance(sampler.Interval);
        Assert.NotSame(viewer.Snapshots[0], await sampler.GetSnapshotAsync(MetricsWindow.FifteenMinutes, CancellationToken.None));
        Assert.Equal(2, sampler.QueriesExecuted);
    }

    /// <summary>A page: keeps what it receives, and lets the test wait for it with a deadline.</summary>
    private sealed class Viewer
    {
        private readonly ConcurrentQueue<MetricsSnapshot> _snapshots = new();
        private readonly ConcurrentQueue<Exception> _errors = new();
        private readonly SemaphoreSlim _received = new(0);

        public IReadOnlyList<MetricsSnapshot> Snapshots => [.. _snapshots];

        public IReadOnlyList<Exception> Errors => [.. _errors];

        public MetricsSubscription Subscribe(MetricsSampler sampler, MetricsWindow window, TimeSpan? refresh) =>
            sampler.Subscribe(window, refresh,
                snapshot =>
                {
                    _snapshots.Enqueue(snapshot);
                    _received.Release();
                    return Task.CompletedTask;
                },
                error =>
                {
                    _errors.Enqueue(error);
                    _received.Release();
                    return Task.CompletedTask;
                });

        public static Task AllReceivedAsync(IEnumerable<Viewer> viewers, int count) => WaitAsync(viewers, v => v._snapshots.Count >= count);

        public static Task AllFailedAsync(IEnumerable<Viewer> viewers, int count) => WaitAsync(viewers, v => v._errors.Count >= count);

        private static async Task WaitAsync(IEnumerable<Viewer> viewers, Func<Viewer, bool> done)
        {
            using var deadline = new CancellationTokenSource(Deadline);
            foreach (var viewer in viewers)
            {
                while (!done(viewer))
                {
                    await viewer._received.WaitAsync(deadline.Token);
                }
            }
        }
    }
}
