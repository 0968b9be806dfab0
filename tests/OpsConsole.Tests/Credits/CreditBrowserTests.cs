using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Demo;
using OpsConsole.Tests.Browser;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Credits;

/// <summary>/credits in Chromium: a support person fixes a drift end to end, and a large fix needs a second one.</summary>
public sealed class CreditBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly List<IBrowserContext> _contexts = [];

    public async Task InitializeAsync()
    {
        // The two cores are shared with the rest of the suite: a page round trip may take longer than Playwright's 5 s default.
        Assertions.SetDefaultExpectTimeout(15_000);
        // The fixture makes one account per role; the second support person is the demo's support2.
        await browser.Factory.Services.GetRequiredService<AccountService>()
            .UpsertAsync("support2", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        await browser.Factory.Services.GetRequiredService<DemoSeeder>().SeedAsync(20, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }
    }

    [Fact]
    public async Task Support_fixes_the_unrecorded_earnings_from_the_proposal()
    {
        var support = await SignedInAsync("support");
        var row = DriftRow(support, DemoSeeder.WorkspaceId(7));
        await Assertions.Expect(row).ToBeVisibleAsync();
        var before = await support.Locator("[data-testid=drift-row]").CountAsync();

        await row.GetByTestId("drift-open").ClickAsync();
        var drawer = support.GetByTestId("workspace-drawer");
        await Assertions.Expect(drawer.GetByTestId("explanation")).ToContainTextAsync("earned 42.00 from 3 sales, total_earned says 0.00");
        await Assertions.Expect(drawer.GetByTestId("after-discrepancy")).ToHaveTextAsync("0.00");
        await Field(drawer, "reason").FillAsync("Earnings of three sales never added to total_earned");
        await drawer.GetByTestId("submit-adjustment").ClickAsync();

        await Assertions.Expect(support.GetByTestId("notice")).ToContainTextAsync("applied");
        await Assertions.Expect(support.Locator("[data-testid=drift-row]")).ToHaveCountAsync(before - 1);
        await Assertions.Expect(support.Locator("[data-testid=journal-row][data-status=applied]").First).ToContainTextAsync("total_earned +42.00");
        await support.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("credits-fixed.png"), FullPage = true });
    }

    [Fact]
    public async Task A_large_fix_waits_for_support2_who_approves_it_and_the_makers_page_follows_live()
    {
        var support = await SignedInAsync("support");
        await DriftRow(support, DemoSeeder.WorkspaceId(3)).GetByTestId("drift-open").ClickAsync();
        var drawer = support.GetByTestId("workspace-drawer");
        await Assertions.Expect(drawer.GetByTestId("proposal")).ToContainTextAsync("a second person approves it");
        await Field(drawer, "reason").FillAsync("Purchase charged twice from the balance");
        await Assertions.Expect(drawer.GetByTestId("submit-adjustment")).ToHaveTextAsync("Submit for approval");
        await drawer.GetByTestId("submit-adjustment").ClickAsync();
        await Assertions.Expect(support.GetByTestId("notice")).ToContainTextAsync("waits for approval");
        await support.GetByTestId("drawer-close").ClickAsync();
        var approval = support.GetByTestId("approval").Filter(new() { HasText = "Cedar Plumbing" });
        await Assertions.Expect(approval).ToBeVisibleAsync();

        var support2 = await SignedInAsync("support2");
        var seenBy2 = support2.GetByTestId("approval").Filter(new() { HasText = "Cedar Plumbing" });
        await Field(seenBy2, "decision-reason").FillAsync("Double charge confirmed in the purchase records");
        await seenBy2.GetByTestId("approve").ClickAsync();
        await Assertions.Expect(support2.GetByTestId("notice")).ToContainTextAsync("approved");

        // The maker's open page hears of it through LISTEN/NOTIFY: the approval is gone and the drift row too.
        await Assertions.Expect(approval).ToHaveCountAsync(0);
        await Assertions.Expect(DriftRow(support, DemoSeeder.WorkspaceId(3))).ToHaveCountAsync(0);
        await support2.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("credits-approved.png"), FullPage = true });
    }

    [Fact]
    public async Task The_maker_sees_why_approve_is_off_and_a_raced_refusal_shows_beside_the_button_pressed()
    {
        var workspace = await CreditRows.WorkspaceAsync(browser.Database.DataSource, 2000m, 0m);
        var name = $"Test {workspace.ToString()[..8]}";
        var support = await SignedInAsync("support");
        await DriftRow(support, workspace).GetByTestId("drift-open").ClickAsync();
        var drawer = support.GetByTestId("workspace-drawer");
        await Field(drawer, "reason").FillAsync("Balance booked twice by the import");
        await Assertions.Expect(drawer.GetByTestId("submit-adjustment")).ToHaveTextAsync("Submit for approval");
        await drawer.GetByTestId("submit-adjustment").ClickAsync();
        await Assertions.Expect(support.GetByTestId("notice")).ToContainTextAsync("waits for approval");
        await support.GetByTestId("drawer-close").ClickAsync();

        // The maker's own: approve is off before anything is pressed, with the reason beside it.
        var own = support.GetByTestId("approval").Filter(new() { HasText = name });
        await Assertions.Expect(own.GetByTestId("approve")).ToBeDisabledAsync();
        var reason = own.GetByTestId("approve-disabled-reason");
        await Assertions.Expect(reason).ToContainTextAsync("another person");
        Near(await BoxAsync(own.GetByTestId("approve")), await BoxAsync(reason));

        // The checker's page still offers approval when the balance changes behind it: the refusal lands beside the button.
        var support2 = await SignedInAsync("support2");
        var theirs = support2.GetByTestId("approval").Filter(new() { HasText = name });
        await Field(theirs, "decision-reason").FillAsync("Import log shows the double booking");
        await using (var connection = await browser.Database.DataSource.OpenConnectionAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE workspace_credits SET balance = balance + 1 WHERE workspace_id = @Id", new { Id = workspace });
        }

        var approve = theirs.GetByTestId("approve");
        await approve.ClickAsync();
        var refusal = theirs.GetByTestId("refusal");
        await Assertions.Expect(refusal).ToContainTextAsync("This balance changed since you looked");
        var box = await BoxAsync(refusal);
        Assert.True(box.Y >= 0 && box.Y + box.Height <= 900, $"refusal at y {box.Y}..{box.Y + box.Height}, outside the 900 px window");
        Near(await BoxAsync(approve), box);
        Assert.Equal(1, await support2.GetByTestId("refusal").CountAsync());
        await support2.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("credits-refusal-beside.png") });
    }

    private static async Task<LocatorBoundingBoxResult> BoxAsync(ILocator locator) =>
        await locator.BoundingBoxAsync() ?? throw new InvalidOperationException("not rendered");

    // Beside: within a few lines of the button, not thousands of pixels away.
    private static void Near(LocatorBoundingBoxResult button, LocatorBoundingBoxResult shown) =>
        Assert.True(Math.Abs(shown.Y - button.Y) < 150, $"shown at y {shown.Y}, the button at y {button.Y}");

    private static ILocator DriftRow(IPage page, Guid workspace) => page.Locator($"[data-testid=drift-row][data-workspace='{workspace}']");

    // MudBlazor puts the test id on the input or on its wrapper, depending on the component.
    private static ILocator Field(ILocator scope, string testId) =>
        scope.Locator($"input[data-testid={testId}], textarea[data-testid={testId}], [data-testid={testId}] input, [data-testid={testId}] textarea").First;

    private async Task<IPage> SignedInAsync(string userName)
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 900 } });
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{browser.BaseUrl}/credits");
        await page.GetByLabel("User name").FillAsync(userName);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync($"{browser.BaseUrl}/credits");
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
        return page;
    }
}
