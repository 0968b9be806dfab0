using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;
using OpsConsole.Tests.Browser;
using OpsConsole.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Purchases;

public sealed class PurchasesBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    // Two refreshes of the page's default 5 s, with room for a slow machine.
    private static readonly float UpdateTimeout = 30_000;

    [Fact]
    public async Task The_chart_renders_with_its_threshold_lines_and_updates_in_place_when_purchases_arrive()
    {
        var seller = (await MarketSeed.WorkspacesAsync(browser.Database.DataSource, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(browser.Database.DataSource, 1, 1000m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(browser.Database.DataSource, [seller], 6, 5m);
        var purchases = browser.Factory.Services.GetRequiredService<IPurchaseService>();
        Assert.Equal(PurchaseOutcome.Completed, (await purchases.PurchaseWithCreditsAsync(buyer, leads[..1], "browser-test", CancellationToken.None)).Outcome);

        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        var consoleErrors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                consoleErrors.Add($"{message.Text} ({message.Location})");
            }
        };
        await SignInAsync(page, $"{browser.BaseUrl}/purchases");

        var chart = page.GetByTestId("purchase-chart");
        await Assertions.Expect(chart.Locator("svg.apexcharts-svg")).ToBeVisibleAsync();
        await Assertions.Expect(chart).ToHaveAttributeAsync("data-chart-created", "1");
        await Assertions.Expect(page.GetByTestId("snapshot-info")).ToContainTextAsync("1 purchase,");
        // Both threshold lines (expected 450 ms, alert 1000 ms) though no purchase took anywhere near that long.
        await Assertions.Expect(chart.Locator(".apexcharts-yaxis-annotations line")).ToHaveCountAsync(2);
        await Assertions.Expect(chart.Locator(".apexcharts-yaxis-annotations")).ToContainTextAsync("alert 1000 ms");
        var columnsBefore = await ColumnsAsync(chart);
        var updatesBefore = await UpdatesAsync(chart);

        foreach (var lead in leads[1..])
        {
            Assert.Equal(PurchaseOutcome.Completed, (await purchases.PurchaseWithCreditsAsync(buyer, [lead], "browser-test", CancellationToken.None)).Outcome);
        }

        await Assertions.Expect(page.GetByTestId("snapshot-info")).ToContainTextAsync("6 purchases,", new() { Timeout = UpdateTimeout });
        await Assertions.Expect(page.GetByTestId("kpi-purchase-success-rate-value")).ToHaveTextAsync("100.00 %");
        // A refresh may have redrawn the old figures before the new snapshot arrived: wait for the bars themselves.
        var columnsAfter = await WaitForColumnsOtherThanAsync(chart, columnsBefore);
        Assert.NotEqual(columnsBefore, columnsAfter);
        Assert.True(await UpdatesAsync(chart) > updatesBefore, "The bars changed without a chart update.");
        // Updated, not re-created.
        await Assertions.Expect(chart).ToHaveAttributeAsync("data-chart-created", "1");
        await Assertions.Expect(chart.Locator("svg.apexcharts-svg")).ToHaveCountAsync(1);

        var screenshot = BrowserFixture.ArtifactPath("purchase-metrics.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Screenshot: {screenshot}");
        consoleErrors.ForEach(output.WriteLine);
        Assert.Empty(consoleErrors);
    }

    [Theory]
    [InlineData("15m")]
    [InlineData("7d")]
    public async Task At_1440_by_900_the_chart_caption_sits_below_the_time_axis_labels_and_the_legend(string window)
    {
        // No purchases of its own (the other test counts the window's): the time axis and legend are drawn anyway.
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        await SignInAsync(page, $"{browser.BaseUrl}/purchases?window={window}");
        var chart = page.GetByTestId("purchase-chart");
        await Assertions.Expect(chart).ToHaveAttributeAsync("data-chart-created", "1", new() { Timeout = UpdateTimeout });
        await Assertions.Expect(chart.Locator(".apexcharts-xaxis-texts-g text").First).ToBeVisibleAsync(new() { Timeout = UpdateTimeout });
        var caption = page.GetByTestId("chart-caption");

        // The lowest edge of anything the chart draws under its plot: time labels and legend.
        var chartBottom = await chart.EvaluateAsync<double>("""
            host => Math.max(...[...host.querySelectorAll('.apexcharts-xaxis-texts-g text, .apexcharts-legend')]
                .map(e => e.getBoundingClientRect().bottom))
            """);
        var captionTop = await caption.EvaluateAsync<double>("e => e.getBoundingClientRect().top");
        var screenshot = BrowserFixture.ArtifactPath($"purchase-chart-1440x900-{window}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Screenshot: {screenshot}; labels and legend end at {chartBottom:0.0} px, caption starts at {captionTop:0.0} px");
        Assert.True(captionTop >= chartBottom, $"the caption (top {captionTop:0.0} px) overlaps the chart's time labels or legend (bottom {chartBottom:0.0} px)");
    }

    private static async Task SignInAsync(IPage page, string url)
    {
        await page.GotoAsync(url);
        await page.GetByLabel("User name").FillAsync(OpsRoles.Manager);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
    }

    // The values of the column series' bars, as drawn now.
    private static Task<string> ColumnsAsync(ILocator chart) =>
        chart.Locator(".apexcharts-bar-series path").EvaluateAllAsync<string>("paths => paths.map(p => p.getAttribute('val')).join('|')");

    private static async Task<int> UpdatesAsync(ILocator chart) =>
        int.Parse(await chart.GetAttributeAsync("data-chart-updates") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<string> WaitForColumnsOtherThanAsync(ILocator chart, string before)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(UpdateTimeout);
        var columns = await ColumnsAsync(chart);
        while (columns == before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            columns = await ColumnsAsync(chart);
        }

        return columns;
    }
}
