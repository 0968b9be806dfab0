using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Browser;

public sealed class SignInBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    private static readonly string[] Areas = ["Deployments", "Purchase metrics", "Locks", "Credits", "Stripe"];

    [Fact]
    public async Task A_manager_signs_in_sees_the_navigation_is_told_credits_are_view_only_and_signs_out()
    {
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1280, Height = 800 } });
        var page = await context.NewPageAsync();
        var consoleErrors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                consoleErrors.Add($"{message.Text} ({message.Location})");
            }
        };

        await page.GotoAsync($"{browser.BaseUrl}/credits");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl=%2Fcredits$"));
        await page.GetByLabel("User name").FillAsync(OpsRoles.Manager);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Assertions.Expect(page).ToHaveURLAsync($"{browser.BaseUrl}/credits");
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
        var navigation = page.GetByTestId("nav-menu");
        foreach (var area in Areas)
        {
            await Assertions.Expect(navigation.GetByRole(AriaRole.Link, new() { Name = area })).ToBeVisibleAsync();
        }

        await Assertions.Expect(page.GetByTestId("signed-in-role")).ToHaveTextAsync(OpsRoles.Manager);

        // Credits are read-only for a manager: no form, and the page says who may edit (the API refuses too, CreditApiTests).
        var viewOnly = page.GetByTestId("read-only");
        await Assertions.Expect(viewOnly).ToContainTextAsync("needs the support or admin role");
        await Assertions.Expect(viewOnly).ToContainTextAsync("signed in as manager");

        var screenshot = BrowserFixture.ArtifactPath("manager-refused-credit-adjustment.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"Screenshot: {screenshot}");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync($"{browser.BaseUrl}/login");

        consoleErrors.ForEach(output.WriteLine);
        // A content security policy that blocked Blazor or MudBlazor would show up here first.
        Assert.Empty(consoleErrors);
    }
}
