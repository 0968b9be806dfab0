using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Metrics;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Metrics;

/// <summary>
/// Each metric against crafted data with a known answer. Every test reads a window of its own far in the future,
/// so the tests of this class share one database without seeing each other's rows.
/// </summary>
public sealed class PurchaseMetricsQueryTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private static readonly DateTimeOffset Epoch = new(2031, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private NpgsqlDataSource Db => database.DataSource;

    [Fact]
    public async Task Success_rate_is_completed_over_created_and_is_compared_with_the_window_before()
    {
        var to = Epoch.AddDays(1).AddSeconds(30);
        var buyer = await MetricsRows.BuyerAsync(Db);
        // 200 purchases in the last hour, 197 completed: 98.5 %.
        await MetricsRows.PurchasesAsync(Db, buyer, 197, to.AddMinutes(-30));
        await MetricsRows.PurchasesAsync(Db, buyer, 2, to.AddMinutes(-20), status: "failed");
        await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-10), status: "pending", method: "stripe");
        // The hour before: 50 of 50.
        await MetricsRows.PurchasesAsync(Db, buyer, 50, to.AddMinutes(-90));
        // Outside both windows.
        await MetricsRows.PurchasesAsync(Db, buyer, 7, to.AddMinutes(-121), status: "failed");
        await MetricsRows.PurchasesAsync(Db, buyer, 7, to.AddMinutes(1), status: "failed");

        var readings = await ReadAsync(MetricsWindow.OneHour, to);

        Assert.Equal(new PurchaseCounts(200, 197, 2, 1, 0), readings.Current);
        Assert.Equal(new PurchaseCounts(50, 50, 0, 0, 0), readings.Previous);
        Assert.Equal(98.5, readings.Value(Kpi.SuccessRate)!.Value, 9);
        Assert.Equal(100.0, readings.PreviousValue(Kpi.SuccessRate)!.Value, 9);
    }

    [Fact]
    public async Task The_window_includes_its_start_and_excludes_its_end()
    {
        var to = Epoch.AddDays(2);
        var buyer = await MetricsRows.BuyerAsync(Db);
        await MetricsRows.PurchasesAsync(Db, buyer, 3, to.AddMinutes(-15));
        await MetricsRows.PurchasesAsync(Db, buyer, 5, to);
        await MetricsRows.PurchasesAsync(Db, buyer, 11, to.AddMinutes(-30));
        await MetricsRows.PurchasesAsync(Db, buyer, 13, to.AddMinutes(-30).AddTicks(-10));

        var readings = await ReadAsync(MetricsWindow.FifteenMinutes, to);

        Assert.Equal(3, readings.Current.Created);
        Assert.Equal(11, readings.Previous.Created);
    }

    [Fact]
    public async Task Conflict_rate_is_reported_conflicts_over_purchases_created_plus_conflicts()
    {
        var to = Epoch.AddDays(3);
        var buyer = await MetricsRows.BuyerAsync(Db);
        await MetricsRows.PurchasesAsync(Db, buyer, 95, to.AddMinutes(-5));
        await MetricsRows.ConflictsAsync(Db, buyer, 5, to.AddMinutes(-4));
        await MetricsRows.PurchasesAsync(Db, buyer, 999, to.AddMinutes(-20));
        await MetricsRows.ConflictsAsync(Db, buyer, 1, to.AddMinutes(-16));
        // Another action in the window is not a conflict.
        await using (var connection = await Db.OpenConnectionAsync())
        {
            await connection.ExecuteAsync(
                "INSERT INTO audit_logs (action, created_at) VALUES ('purchase_failed', @At)", new { At = to.AddMinutes(-3).UtcDateTime });
        }

        var readings = await ReadAsync(MetricsWindow.FifteenMinutes, to);

        Assert.Equal(5, readings.Current.Conflicts);
        Assert.Equal(100, readings.Current.Attempts);
        Assert.Equal(5.0, readings.Value(Kpi.ConflictRate)!.Value, 9);
        Assert.Equal(0.1, readings.PreviousValue(Kpi.ConflictRate)!.Value, 9);
    }

    [Fact]
    public async Task Purchase_time_is_the_measured_duration_of_completed_credit_purchases_and_stripe_checkouts_stand_apart()
    {
        var to = Epoch.AddDays(4);
        var buyer = await MetricsRows.BuyerAsync(Db);
        foreach (var ms in new[] { 100.0, 200, 300, 400, 1000 })
        {
            await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-5), durationMs: ms, completedAfter: TimeSpan.Zero);
        }

        // Not counted in the credit purchase time: a failed one, and Stripe checkouts (whose time includes the customer).
        await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-5), status: "failed", durationMs: 9000);
        await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-6), method: "stripe", completedAfter: TimeSpan.FromSeconds(60));
        await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-7), method: "stripe", completedAfter: TimeSpan.FromSeconds(120));
        await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-7), status: "pending", method: "stripe");
        await MetricsRows.PurchasesAsync(Db, buyer, 2, to.AddMinutes(-20), durationMs: 50, completedAfter: TimeSpan.Zero);

        var readings = await ReadAsync(MetricsWindow.FifteenMinutes, to);

        Assert.Equal(5, readings.CreditPurchaseTime.Count);
        Assert.Equal(400.0, readings.CreditPurchaseTime.AverageMs!.Value, 6);
        Assert.Equal(300.0, readings.CreditPurchaseTime.P50Ms!.Value, 6);
        // percentile_cont(0.95) of 100, 200, 300, 400, 1000: 400 + 0.8 * (1000 - 400).
        Assert.Equal(880.0, readings.CreditPurchaseTime.P95Ms!.Value, 6);
        Assert.Equal(400.0, readings.Value(Kpi.PurchaseTime)!.Value, 6);
        Assert.Equal(50.0, readings.PreviousValue(Kpi.PurchaseTime)!.Value, 6);
        Assert.Equal(2, readings.StripeCheckout.Count);
        Assert.Equal(90_000.0, readings.StripeCheckout.AverageMs!.Value, 3);
        Assert.Equal(90_000.0, readings.StripeCheckout.P50Ms!.Value, 3);
        Assert.Equal(117_000.0, readings.StripeCheckout.P95Ms!.Value, 3);
    }

    [Fact]
    public async Task Webhook_duplicate_rate_is_repeat_deliveries_over_all_deliveries_by_last_receipt()
    {
        var to = Epoch.AddDays(5);
        foreach (var deliveries in new[] { 1, 1, 1, 2, 5 })
        {
            await MetricsRows.WebhookAsync(Db, deliveries, to.AddMinutes(-3));
        }

        await MetricsRows.WebhookAsync(Db, 1, to.AddMinutes(-20));
        await MetricsRows.WebhookAsync(Db, 3, to.AddMinutes(-40));

        var readings = await ReadAsync(MetricsWindow.FifteenMinutes, to);

        Assert.Equal(new WebhookCounts(5, 10, 5), readings.Webhooks);
        Assert.Equal(50.0, readings.Value(Kpi.WebhookDuplicateRate)!.Value, 9);
        Assert.Equal(new WebhookCounts(1, 1, 0), readings.PreviousWebhooks);
        Assert.Equal(0.0, readings.PreviousValue(Kpi.WebhookDuplicateRate)!.Value, 9);
    }

    [Fact]
    public async Task A_window_without_purchases_has_no_rates_rather_than_zero_or_a_hundred_percent()
    {
        var readings = await ReadAsync(MetricsWindow.FifteenMinutes, Epoch.AddDays(6));

        Assert.Equal(new PurchaseCounts(0, 0, 0, 0, 0), readings.Current);
        Assert.All(Enum.GetValues<Kpi>(), kpi => Assert.Null(readings.Value(kpi)));
        Assert.Equal(new DurationSummary(0, null, null, null), readings.CreditPurchaseTime);
    }

    [Fact]
    public async Task The_series_has_one_point_per_minute_with_empty_minutes_at_zero_and_adds_up_to_the_window()
    {
        var to = Epoch.AddDays(7).AddSeconds(30);
        var buyer = await MetricsRows.BuyerAsync(Db);
        await MetricsRows.PurchasesAsync(Db, buyer, 4, to.AddMinutes(-10).AddSeconds(-10), durationMs: 200, completedAfter: TimeSpan.Zero);
        await MetricsRows.PurchasesAsync(Db, buyer, 2, to.AddMinutes(-10).AddSeconds(-5), status: "failed", durationMs: 700);
        await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-10), status: "expired", method: "stripe");
        await MetricsRows.ConflictsAsync(Db, buyer, 3, to.AddMinutes(-2));
        await MetricsRows.PurchasesAsync(Db, buyer, 1, to.AddMinutes(-15).AddSeconds(5), durationMs: 400, completedAfter: TimeSpan.Zero);

        var readings = await ReadAsync(MetricsWindow.FifteenMinutes, to);

        // [23:45:30, 00:00:30) touches the minutes 23:45 to 00:00: 16 points, the first and last partial.
        var series = readings.Series;
        Assert.Equal(16, series.Count);
        Assert.Equal(to.AddMinutes(-15).AddSeconds(-30), series[0].Minute);
        Assert.Equal(to.AddSeconds(-30), series[^1].Minute);
        Assert.All(series.Zip(series.Skip(1)), pair => Assert.Equal(TimeSpan.FromMinutes(1), pair.Second.Minute - pair.First.Minute));

        var busy = series.Single(p => p.Minute == to.AddMinutes(-10).AddSeconds(-30));
        Assert.Equal(new MinutePoint(busy.Minute, 7, 4, 3, 0, 200.0), busy);
        Assert.Equal(3, series.Single(p => p.Minute == to.AddMinutes(-2).AddSeconds(-30)).Conflicts);
        Assert.Equal(400.0, series[0].AverageMs);
        var empty = series.Where(p => p.Purchases == 0 && p.Conflicts == 0).ToList();
        Assert.Equal(13, empty.Count);
        Assert.All(empty, p => Assert.Equal((0L, 0L, 0L, (double?)null), (p.Successful, p.Failed, p.Conflicts, p.AverageMs)));

        Assert.Equal(readings.Current.Created, series.Sum(p => p.Purchases));
        Assert.Equal(readings.Current.Completed, series.Sum(p => p.Successful));
        Assert.Equal(readings.Current.Failed, series.Sum(p => p.Failed));
        Assert.Equal(readings.Current.Conflicts, series.Sum(p => p.Conflicts));
    }

    [Fact]
    public async Task A_24_hour_window_has_1441_points()
    {
        var readings = await ReadAsync(MetricsWindow.TwentyFourHours, Epoch.AddDays(9).AddSeconds(1));

        Assert.Equal(1441, readings.Series.Count);
    }

    [Fact]
    public async Task Each_snapshot_is_one_round_trip()
    {
        await using var services = TestServices.Build(database.ConnectionString);
        var query = services.GetRequiredService<PurchaseMetricsQuery>();

        await query.ReadAsync(MetricsWindow.FifteenMinutes, Epoch, CancellationToken.None);
        await query.ReadAsync(MetricsWindow.TwentyFourHours, Epoch, CancellationToken.None);

        Assert.Equal(2, query.Executed);
    }

    [Fact]
    public async Task A_query_slower_than_the_statement_timeout_is_cancelled_by_the_database()
    {
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Metrics:StatementTimeout"] = "00:00:00.200",
        });
        var query = services.GetRequiredService<PurchaseMetricsQuery>();
        // An exclusive lock makes the metrics query wait: only the statement timeout can end that wait.
        await using var holder = await Db.OpenConnectionAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("LOCK TABLE marketplace_purchases IN ACCESS EXCLUSIVE MODE", transaction: hold);

        var error = await Assert.ThrowsAsync<PostgresException>(
            () => query.ReadAsync(MetricsWindow.FifteenMinutes, Epoch, CancellationToken.None));

        Assert.Equal(PostgresErrorCodes.QueryCanceled, error.SqlState);
        Assert.Contains("statement timeout", error.MessageText, StringComparison.Ordinal);
    }

    private async Task<MetricsReadings> ReadAsync(MetricsWindow window, DateTimeOffset to)
    {
        await using var services = TestServices.Build(database.ConnectionString);
        return await services.GetRequiredService<PurchaseMetricsQuery>().ReadAsync(window, to, CancellationToken.None);
    }
}
