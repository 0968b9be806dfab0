using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpsConsole.Components.Pages.Purchases;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Metrics;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Purchases;

/// <summary>
/// The page over the real sampler and a real database, on a clock the test holds: each test reads a time of its
/// own, years apart, so the tests of the class share one database without seeing each other's purchases.
/// </summary>
public sealed class PurchasesPageTests(MarketplaceDatabase database) : ConsoleBunitContext, IClassFixture<MarketplaceDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    private FakeTimeProvider _time = new();

    [Fact]
    public async Task The_page_shows_each_kpi_of_the_window_with_its_state_and_the_integrity_checks()
    {
        await StartAtAsync(new DateTimeOffset(2040, 1, 1, 12, 0, 30, TimeSpan.Zero));
        var buyer = await MetricsRows.BuyerAsync(database.DataSource);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 197, Now.AddMinutes(-5), durationMs: 400);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 3, Now.AddMinutes(-4), status: "failed", durationMs: 50);

        var page = Render<PurchasesPage>();

        await page.WaitForAssertionAsync(() => Assert.Equal("98.50 %", page.Find("[data-testid=kpi-purchase-success-rate-value]").TextContent.Trim()), Deadline);
        Assert.Equal("warn", page.Find("[data-testid=kpi-purchase-success-rate]").GetAttribute("data-state"));
        Assert.Equal("0.00 %", page.Find("[data-testid=kpi-purchase-conflict-rate-value]").TextContent.Trim());
        Assert.Equal("ok", page.Find("[data-testid=kpi-purchase-conflict-rate]").GetAttribute("data-state"));
        Assert.Equal("400 ms", page.Find("[data-testid=kpi-credit-purchase-time-value]").TextContent.Trim());
        Assert.Contains("p50 400 ms", page.Find("[data-testid=purchase-time-percentiles]").TextContent, StringComparison.Ordinal);
        Assert.Equal("nodata", page.Find("[data-testid=kpi-webhook-duplicate-rate]").GetAttribute("data-state"));
        Assert.Equal("0", page.Find("[data-testid=integrity-double-sold-value]").TextContent.Trim());
        Assert.Equal("/credits", page.Find("[data-testid=credit-discrepancies-link]").GetAttribute("href"));
        Assert.NotNull(page.Find("[data-testid=purchase-chart]"));
    }

    [Fact]
    public async Task An_alert_appears_only_once_it_held_for_the_pending_period()
    {
        await StartAtAsync(new DateTimeOffset(2041, 1, 1, 12, 0, 30, TimeSpan.Zero));
        var buyer = await MetricsRows.BuyerAsync(database.DataSource);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 90, Now.AddMinutes(-5), durationMs: 300);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 10, Now.AddMinutes(-5), status: "failed", durationMs: 300);
        var sampler = Services.GetRequiredService<MetricsSampler>();

        var page = Render<PurchasesPage>();
        await page.WaitForAssertionAsync(() => Assert.Equal("90.00 %", page.Find("[data-testid=kpi-purchase-success-rate-value]").TextContent.Trim()), Deadline);

        Assert.Equal("WARN", page.Find("[data-testid=kpi-purchase-success-rate-state]").TextContent.Trim());
        Assert.NotNull(page.Find("[data-testid=kpi-purchase-success-rate-pending]"));

        _time.Advance(sampler.Interval);
        await sampler.SampleAsync(CancellationToken.None);

        await page.WaitForAssertionAsync(() => Assert.Equal("ALERT", page.Find("[data-testid=kpi-purchase-success-rate-state]").TextContent.Trim()), Deadline);
        Assert.Empty(page.FindAll("[data-testid=kpi-purchase-success-rate-pending]"));
    }

    [Fact]
    public async Task Picking_another_window_shows_that_window_and_leaving_the_page_ends_its_subscription()
    {
        await StartAtAsync(new DateTimeOffset(2042, 1, 1, 12, 0, 30, TimeSpan.Zero));
        var buyer = await MetricsRows.BuyerAsync(database.DataSource);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 4, Now.AddMinutes(-5), durationMs: 300);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 6, Now.AddMinutes(-50), durationMs: 300);
        var sampler = Services.GetRequiredService<MetricsSampler>();

        var page = Render<PurchasesPage>();
        await page.WaitForAssertionAsync(() => Assert.Contains("4 purchases,", page.Find("[data-testid=snapshot-info]").TextContent, StringComparison.Ordinal), Deadline);
        Assert.Equal(1, sampler.SubscriberCount);

        await page.FindAndClickAsync("[data-testid=window-1h]");

        await page.WaitForAssertionAsync(() => Assert.Contains("Last 1 h", page.Find("[data-testid=snapshot-info]").TextContent, StringComparison.Ordinal), Deadline);
        Assert.Contains("10 purchases,", page.Find("[data-testid=snapshot-info]").TextContent, StringComparison.Ordinal);

        await DisposeComponentsAsync();
        Assert.Equal(0, sampler.SubscriberCount);
    }

    private DateTimeOffset Now => _time.GetUtcNow();

    private Task StartAtAsync(DateTimeOffset now)
    {
        _time.SetUtcNow(now);
        return Task.CompletedTask;
    }

    protected override Task ConfigureAsync()
    {
        Services.AddOpsConsoleCoreFor(database.ConnectionString);
        Services.AddSingleton<TimeProvider>(_time);
        SignInAs(OpsRoles.Manager, OpsRoles.Manager);
        return Task.CompletedTask;
    }
}
