using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Browser;

namespace OpsConsole.Tests.Overview;

/// <summary>From the overview to the exact place to act, in one click, in Chromium.</summary>
public sealed class OverviewBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly List<IBrowserContext> _contexts = [];

    public async Task InitializeAsync()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        // The demo's drift: three workspaces whose balances are off, which also fails the run's credit check.
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
    public async Task A_manager_reaches_a_failing_check_of_an_open_run_in_one_click()
    {
        var deployments = browser.Factory.Services.GetRequiredService<IDeploymentService>();
        var runId = (await deployments.StartRunAsync(TestActors.Engineer, RunbookCatalog.RaceConditionFixes, "Overview test run", CancellationToken.None)).Value;
        var checks = (await deployments.RunProbesAsync(TestActors.Engineer, runId, null, CancellationToken.None)).Value;
        var failing = checks.First(c => !c.Verdict.Passed).ProbeKey;

        var page = await SignedInAsync("manager");
        var link = page.Locator("[data-testid=run-failing-check] a");
        await Assertions.Expect(link).ToHaveAttributeAsync("href", $"/deployments/{runId}#check-{failing}");
        await link.ClickAsync();

        await Assertions.Expect(page).ToHaveURLAsync($"{browser.BaseUrl}/deployments/{runId}#check-{failing}");
        var check = page.Locator($"[id='check-{failing}']");
        await Assertions.Expect(check).ToHaveAttributeAsync("data-result", "fail");
        await Assertions.Expect(check).ToBeInViewportAsync();
        await page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("overview-failing-check.png") });
    }

    [Fact]
    public async Task Support_reaches_a_drifted_workspace_in_one_click_and_finds_it_open_and_marked()
    {
        var cedar = DemoSeeder.WorkspaceId(3);
        var page = await SignedInAsync("support");
        await Assertions.Expect(page.Locator("[data-testid=overview-card]").First).ToHaveAttributeAsync("data-card", "credits");

        await page.Locator($"[data-testid=drift-link][data-key='{cedar}'] a").ClickAsync();

        await Assertions.Expect(page).ToHaveURLAsync($"{browser.BaseUrl}/credits?workspace={cedar}");
        await Assertions.Expect(page.GetByTestId("workspace-drawer")).ToHaveAttributeAsync("data-workspace", cedar.ToString());
        var row = page.Locator($"[data-testid=drift-row][data-workspace='{cedar}']");
        await Assertions.Expect(row).ToHaveAttributeAsync("data-focused", "true");
        await Assertions.Expect(page.GetByTestId("workspace-drawer").GetByTestId("explanation")).ToContainTextAsync("612.50");
        await page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("overview-drifted-workspace.png") });
    }

    private async Task<IPage> SignedInAsync(string userName)
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 900 } });
        _contexts.Add(context);
        var page = await DemoBrowserFixture.SignInOnOverviewAsync(context, browser.BaseUrl, userName);
        return page;
    }
}
