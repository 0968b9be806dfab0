using Dapper;
using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;
using OpsConsole.Tests.Browser;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Stripe;

/// <summary>The console in Chromium with its Stripe API pointed at the stand-in Stripe server.</summary>
public sealed class StripeBrowserFixture : BrowserFixture
{
    public StripeApiStandIn Stripe { get; private set; } = null!;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Stripe:WebhookSecret"] = StripeScenario.Secret,
        ["Stripe:ApiKey"] = "sk_test_browser",
        ["Stripe:ApiBase"] = Stripe.BaseUrl,
    };

    public override async Task InitializeAsync()
    {
        Stripe = await StripeApiStandIn.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Stripe.DisposeAsync();
    }
}

public sealed class StripeRefundBrowserTests(StripeBrowserFixture browser, ITestOutputHelper output) : IClassFixture<StripeBrowserFixture>
{
    [Fact]
    public async Task Support_refunds_a_late_payment_from_the_queue_and_stripe_refunds_it_once()
    {
        var (purchaseId, _) = await StripeScenario.RefundRequiredAsync(browser.Factory.Services, browser.Database.DataSource);
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await browser.SignedInPageAsync(context, "/stripe", OpsRoles.Support, output.WriteLine);

        var row = page.GetByTestId($"refund-{purchaseId}");
        await Assertions.Expect(row.GetByTestId("refund-button")).ToBeEnabledAsync();
        await row.GetByTestId("refund-button").ClickAsync();

        // Stripe's answer through the stand-in, then the page's refresh: generous on a loaded machine.
        await Assertions.Expect(page.GetByTestId("stripe-notice").Or(page.GetByTestId("refusal"))).ToBeVisibleAsync(new() { Timeout = 20_000 });
        Assert.Empty(await page.GetByTestId("refusal").AllTextContentsAsync());
        await Assertions.Expect(page.GetByTestId("stripe-notice")).ToContainTextAsync("Refunded: Stripe refund re_");
        await Assertions.Expect(row.GetByTestId("refunded")).ToContainTextAsync("by support");
        await Assertions.Expect(row.GetByTestId("refund-button")).ToHaveCountAsync(0);
        Assert.Equal(1, browser.Stripe.RefundsCreated);
        await using var connection = await browser.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM audit_logs WHERE action = 'refund_issued' AND details->'details'->>'purchaseId' = @Id", new { Id = purchaseId.ToString() }));

        var screenshot = BrowserFixture.ArtifactPath("stripe-refund.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Screenshot: {screenshot}");
    }
}
