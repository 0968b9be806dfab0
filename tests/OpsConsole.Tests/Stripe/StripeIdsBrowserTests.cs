using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Demo;
using OpsConsole.Tests.Browser;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Stripe;

public sealed class StripeIdsBrowserTests(StripeBrowserFixture browser, ITestOutputHelper output) : IClassFixture<StripeBrowserFixture>
{
    [Fact]
    public async Task Deliveries_a_millisecond_apart_show_different_ids_and_copy_copies_the_whole_id()
    {
        // UUIDv7 purchase ids a millisecond apart share their first eight characters: the cut that all looked alike.
        var at = DateTimeOffset.UtcNow;
        var first = Guid.CreateVersion7(at);
        var second = Guid.CreateVersion7(at.AddMilliseconds(1));
        Assert.Equal(first.ToString()[..8], second.ToString()[..8]);
        foreach (var purchase in new[] { first, second })
        {
            await StripeScenario.DeliverAsync(browser.Factory.Services,
                SimulatedStripeEvents.PaymentIntentSucceeded(purchase, SimulatedStripeEvents.NewId("pi"), 500));
        }

        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new() { Width = 1440, Height = 900 },
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        var page = await browser.SignedInPageAsync(context, "/stripe", OpsRoles.Support, output.WriteLine);

        var firstId = page.Locator($"[data-testid=deliveries] [data-testid=object-id][data-id='{first}']");
        var secondId = page.Locator($"[data-testid=deliveries] [data-testid=object-id][data-id='{second}']");
        await Assertions.Expect(firstId).ToBeVisibleAsync();
        await Assertions.Expect(secondId).ToBeVisibleAsync();
        var shownFirst = (await firstId.GetByTestId("object-id-text").InnerTextAsync()).Trim();
        var shownSecond = (await secondId.GetByTestId("object-id-text").InnerTextAsync()).Trim();
        Assert.NotEqual(shownFirst, shownSecond);
        await Assertions.Expect(firstId).ToHaveAttributeAsync("title", first.ToString());

        await firstId.GetByTestId("object-id-copy").ClickAsync();
        await Assertions.Expect(firstId.GetByTestId("object-id-copy")).ToHaveAttributeAsync("data-copied", "true");
        Assert.Equal(first.ToString(), await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));

        var screenshot = BrowserFixture.ArtifactPath("stripe-ids.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Screenshot: {screenshot}");
    }
}
