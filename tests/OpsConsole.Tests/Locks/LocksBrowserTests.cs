using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Demo;
using OpsConsole.Testing;
using OpsConsole.Tests.Browser;
using OpsConsole.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Locks;

public sealed class LocksBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    private static readonly float Timeout = 30_000;

    [Fact]
    public async Task An_engineer_terminates_a_slow_checkout_and_the_buyer_queued_behind_it_completes_its_purchase()
    {
        var seller = (await MarketSeed.WorkspacesAsync(browser.Database.DataSource, 1, 0m))[0];
        var buyers = await MarketSeed.WorkspacesAsync(browser.Database.DataSource, 2, 1000m);
        var lead = (await MarketSeed.ListedLeadsAsync(browser.Database.DataSource, [seller], 1, 5m))[0];
        var demo = browser.Factory.Services.GetRequiredService<SlowCheckoutDemo>();
        var checkout = demo.RunAsync(new SlowCheckoutPlan(lead, buyers[0], [buyers[1]], TimeSpan.FromMinutes(2)), CancellationToken.None);

        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{browser.BaseUrl}/locks");
        await page.GetByLabel("User name").FillAsync(OpsRoles.Engineer);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = Timeout });

        var root = page.Locator("[data-testid=lock-node][data-edge=Root]");
        await Assertions.Expect(root).ToContainTextAsync(SlowCheckoutDemo.SlowCheckoutApplication, new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("[data-testid=lock-node][data-edge=Holds] [data-testid=node-row]")).ToContainTextAsync($"lead {lead}");
        // The checkout locks the lead, waits until the queued buyer waits, then sleeps: the tree can show the holder
        // idle in transaction for a moment before its pg_sleep, and the dialog shows the statement of the snapshot
        // it opens on (a loaded run opened it in that moment). The sleep is what the engineer is asked about.
        await Assertions.Expect(root.GetByTestId("node-query")).ToContainTextAsync("pg_sleep", new() { Timeout = Timeout });
        await root.GetByTestId("terminate-backend").ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Assertions.Expect(dialog).ToContainTextAsync("pg_sleep");
        await Assertions.Expect(dialog.GetByTestId("dialog-confirm")).ToBeDisabledAsync();
        await dialog.Locator("textarea").FillAsync("checkout stuck on the card network");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserFixture.ArtifactPath("locks-terminate-dialog.png"), FullPage = true });
        await dialog.GetByTestId("dialog-confirm").ClickAsync();

        await Assertions.Expect(page.GetByTestId("lock-action-done")).ToContainTextAsync("Terminated session", new() { Timeout = Timeout });
        var outcome = await checkout.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("terminated", outcome.SlowCheckout);
        var purchase = Assert.Single(outcome.QueuedPurchases);
        Assert.NotNull(purchase);
        await using var connection = await browser.Database.DataSource.OpenConnectionAsync();
        Assert.Equal("completed", await connection.QuerySingleAsync<string>("SELECT status FROM marketplace_purchases WHERE id = @Id", new { Id = purchase }));
        await Assertions.Expect(page.GetByTestId("no-blocking")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.GetByTestId("summary-waiting")).ToHaveTextAsync("0 waiting sessions");

        var screenshot = BrowserFixture.ArtifactPath("locks-after-terminate.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Screenshot: {screenshot}");
    }
}
