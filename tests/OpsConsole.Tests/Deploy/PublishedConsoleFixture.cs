using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Browser;

namespace OpsConsole.Tests.Deploy;

/// <summary>
/// A migrated database of its own with an engineer account (made by the published binary's <c>users add</c>) and an
/// open deployment run, Debian's Chromium, and the published build (<see cref="PublishedBuild"/>): what the
/// tests of the published console share. The consoles themselves are started by the fixtures built on this one.
/// </summary>
public abstract class PublishedConsoleFixture : IAsyncLifetime
{
    public const string UserName = "engineer";
    public const string Password = "correct horse battery";

    private IPlaywright? _playwright;

    public MarketplaceDatabase Database { get; } = new();

    public IBrowser Browser { get; private set; } = null!;

    public long RunId { get; private set; }

    /// <summary>The first item of the run's runbook, the one the tests tick.</summary>
    public ChecklistItem FirstItem { get; private set; } = null!;

    /// <summary>A second item, for an action after a fail-over.</summary>
    public ChecklistItem SecondItem { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        var published = PublishedBuild.FolderAsync();
        await Database.InitializeAsync();
        // As the embedded database does: the lock view reads every session and may signal them.
        await Core.Database.ConsoleRoles.ApplyLockViewRolesAsync(Database.SuperuserConnectionString, grant: true, CancellationToken.None);
        await published;

        var (exitCode, output) = await ChildProcess.RunAsync(
            await PublishedBuild.ExecutableAsync(), ["users", "add", UserName, "--role", OpsRoles.Engineer], TimeSpan.FromMinutes(1),
            new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["ConnectionStrings__Marketplace"] = Database.ConnectionString },
            input: Password + "\n");
        Assert.True(exitCode == 0, $"OpsConsole users add failed ({exitCode}):\n{output}");

        await using (var services = TestServices.Build(Database.ConnectionString))
        {
            var deployments = services.GetRequiredService<IDeploymentService>();
            var started = await deployments.StartRunAsync(TestActors.Engineer2, RunbookCatalog.RaceConditionFixes, "Published console", CancellationToken.None);
            Assert.True(started.Succeeded, started.Refusal?.Message);
            RunId = started.Value;
            var items = (await deployments.GetRunAsync(TestActors.Engineer2, RunId, CancellationToken.None)).Value!.Runbook.Items;
            FirstItem = items[0];
            SecondItem = items[1];
        }

        Assertions.SetDefaultExpectTimeout(10_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await BrowserFixture.LaunchChromiumAsync(_playwright);
    }

    /// <summary>Signs in through the form at <paramref name="baseUrl"/> and lands on <paramref name="path"/>.</summary>
    public static async Task SignInAsync(IPage page, string baseUrl, string path)
    {
        await page.GotoAsync(baseUrl + path);
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl="));
        await page.GetByLabel("User name").FillAsync(UserName);
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(baseUrl + path);
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = InteractiveTimeout });
    }

    /// <summary>
    /// How long a page may take to become interactive: a freshly started console JITs every component of its first
    /// circuit, and on two cores shared with the rest of the suite that took longer than the default 10 s.
    /// </summary>
    public const float InteractiveTimeout = 60_000;

    /// <summary>The run page's row of <paramref name="item"/>.</summary>
    public static ILocator Row(IPage page, ChecklistItem item) => page.Locator($"[data-testid=item][data-key='{item.Key}']");

    public virtual async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await Database.DisposeAsync();
    }
}
