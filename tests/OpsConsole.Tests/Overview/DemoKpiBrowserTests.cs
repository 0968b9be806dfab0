using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Core.Demo;
using OpsConsole.Tests.Browser;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Overview;

/// <summary>
/// The console with the demo on, a 1 s sample interval and a 30 s KPI window on the overview, so that a minute of
/// calm and an incident with its recovery fit in a test. 25 credit purchases a second keep the window large enough
/// that the calm baseline's rare failures stay under the guide's targets.
/// </summary>
public class DemoBrowserFixture : BrowserFixture
{
    /// <summary>The overview's KPI window: short enough for an incident's recovery to fit in a test.</summary>
    protected virtual string KpiWindow => "00:00:30";

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Demo:Enabled"] = "true",
        ["Demo:Buyers"] = "6",
        ["Demo:PurchasesPerSecond"] = "25",
        ["Demo:LeadCount"] = "3000",
        ["Demo:ScenarioDuration"] = "00:00:08",
        ["Metrics:SampleInterval"] = "00:00:01",
        ["Locks:SampleInterval"] = "00:00:01",
        ["Overview:KpiWindow"] = KpiWindow,
        ["Overview:RefreshInterval"] = "00:00:02",
        ["Stripe:ExpirySweepInterval"] = "00:00:02",
    };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Factory.Services.GetRequiredService<DemoSeeder>().SeedAsync(3000, CancellationToken.None);
    }

    /// <summary>A page signed in as <paramref name="userName"/> on the overview, interactive.</summary>
    public Task<IPage> OverviewAsync(IBrowserContext context, string userName) => SignInOnOverviewAsync(context, BaseUrl, userName);

    /// <summary>Signs in from the overview's address and waits for the interactive page.</summary>
    public static async Task<IPage> SignInOnOverviewAsync(IBrowserContext context, string baseUrl, string userName)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{baseUrl}/");
        await page.GetByLabel("User name").FillAsync(userName);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync($"{baseUrl}/");
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
        return page;
    }

    /// <summary>Waits until every KPI line of the overview reads OK.</summary>
    public static async Task AllKpisOkAsync(IPage page, float timeoutMs)
    {
        var kpis = page.Locator("[data-testid=overview-kpi]");
        await Assertions.Expect(kpis).ToHaveCountAsync(4, new() { Timeout = timeoutMs });
        await Assertions.Expect(page.Locator("[data-testid=overview-kpi]:not([data-state=ok])")).ToHaveCountAsync(0, new() { Timeout = timeoutMs });
    }
}

/// <summary>
/// The calm baseline's console: the overview's own five-minute KPI window, and card checkouts at half the default
/// rate. The guide's success rate counts a card purchase still waiting for its payment as not successful; on a loaded
/// machine (full ./test.sh runs, load average 15-30) payments took seconds while the demo made far fewer than its 25
/// credit purchases a second, so a two-minute window read 99.39-99.48 % with every credit purchase completed: a
/// window too small for the in-flight checkouts, not a baseline that misses its target.
/// </summary>
public sealed class DemoCalmFixture : DemoBrowserFixture
{
    protected override string KpiWindow => "00:05:00";

    protected override IReadOnlyDictionary<string, string?> Settings =>
        new Dictionary<string, string?>(base.Settings) { ["Demo:CardCheckoutsPerSecond"] = "0.4" };
}

/// <summary>The calm baseline: the overview's KPIs stay OK for a minute. Wall time about 80 s (start, warm-up, the minute).</summary>
public sealed class DemoCalmBrowserTests(DemoCalmFixture demo) : IClassFixture<DemoCalmFixture>
{
    [Fact]
    public async Task The_calm_demo_keeps_every_kpi_of_the_overview_ok_for_a_minute()
    {
        await using var context = await demo.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await demo.OverviewAsync(context, "manager");
        // The guide's success rate counts a card checkout still waiting for its payment as not successful: among the few
        // purchases of a demo just started, one or two in flight read as a rate under target (seen: 99.28 % with every
        // purchase completed moments later). The minute is watched once the window holds purchases enough to measure it.
        await WindowHoldsAsync(1_000, TimeSpan.FromMinutes(4));
        await DemoBrowserFixture.AllKpisOkAsync(page, 60_000);

        // Every change of a KPI line's state is recorded in the page from now on; a minute later none may be other than OK.
        await page.EvaluateAsync("""
            () => {
                window.kpiChanges = [];
                new MutationObserver(() => {
                    for (const line of document.querySelectorAll('[data-testid=overview-kpi]:not([data-state=ok])')) {
                        window.kpiChanges.push(line.dataset.key + ': ' + line.textContent.trim());
                    }
                }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-state'], childList: true, characterData: true });
            }
            """);
        // The demo's counts come with each snapshot; a KPI line can read the same (100.00 %) from one to the next.
        var trafficBefore = await page.GetByTestId("demo-traffic").TextContentAsync();
        await page.WaitForTimeoutAsync(60_000); // the observation period is what the test is about, not a wait for a condition

        var changes = await page.EvaluateAsync<string[]>("() => window.kpiChanges");
        Assert.True(changes.Length == 0, "KPIs left OK: " + string.Join(" | ", changes.Distinct())
            + ". Purchases of the last 3 minutes: " + await OutcomesAsync());
        await DemoBrowserFixture.AllKpisOkAsync(page, 1_000);
        Assert.NotEqual(trafficBefore, await page.GetByTestId("demo-traffic").TextContentAsync());
        await Assertions.Expect(page.GetByTestId("demo-traffic")).ToContainTextAsync("completed");
        await page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("overview-calm.png"), FullPage = true });
    }

    private async Task WindowHoldsAsync(long purchases, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        await using var connection = await demo.Database.DataSource.OpenConnectionAsync();
        long held;
        while ((held = await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection,
                   "SELECT count(*) FROM marketplace_purchases WHERE created_at > now() - interval '5 minutes'")) < purchases)
        {
            Assert.True(DateTime.UtcNow < until, $"The demo made {held} purchases in {deadline}, not the {purchases} the window needs.");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    // What the demo did, to tell a baseline that misses its target from a window too small to measure it.
    private async Task<string> OutcomesAsync()
    {
        await using var connection = await demo.Database.DataSource.OpenConnectionAsync();
        var rows = await Dapper.SqlMapper.QueryAsync<(string Status, string Method, long Count)>(connection, """
            SELECT status::text, payment_method::text, count(*) FROM marketplace_purchases
            WHERE created_at > now() - interval '3 minutes' GROUP BY 1, 2 ORDER BY 3 DESC
            """);
        return string.Join(", ", rows.Select(r => $"{r.Method} {r.Status} {r.Count}"));
    }
}

/// <summary>An incident on purpose: the admin starts the rush; the conflict KPI goes to ALERT and recovers by itself. About 60 s.</summary>
public sealed class DemoScenarioBrowserTests(DemoBrowserFixture demo) : IClassFixture<DemoBrowserFixture>
{
    [Fact]
    public async Task The_hot_lead_rush_turns_the_conflict_kpi_to_alert_and_it_recovers_once_the_rush_has_ended()
    {
        await using var context = await demo.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await demo.OverviewAsync(context, "admin");
        var conflicts = page.Locator("[data-testid=overview-kpi][data-key=purchase-conflict-rate]");
        await Assertions.Expect(conflicts).ToHaveAttributeAsync("data-state", "ok", new() { Timeout = 30_000 });

        await page.GetByTestId("scenario-hot-lead-rush").ClickAsync();

        await Assertions.Expect(page.GetByTestId("scenario-running")).ToHaveAttributeAsync("data-scenario", "hot-lead-rush");
        await Assertions.Expect(conflicts).ToHaveAttributeAsync("data-state", "alert", new() { Timeout = 20_000 });
        await Assertions.Expect(page.Locator("[data-testid=overview-card][data-card=kpis]")).ToHaveAttributeAsync("data-state", "alert");
        await page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("overview-rush-alert.png"), FullPage = true });
        // The rush ends by itself after 8 s; its conflicts leave the 30 s window.
        await Assertions.Expect(page.GetByTestId("scenario-running")).ToHaveCountAsync(0, new() { Timeout = 20_000 });
        await Assertions.Expect(conflicts).ToHaveAttributeAsync("data-state", "ok", new() { Timeout = 45_000 });
    }

    [Fact]
    public async Task The_slow_checkout_shows_on_the_lock_card_with_a_link_to_the_blocking_session()
    {
        await using var context = await demo.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await demo.OverviewAsync(context, "admin");
        await Assertions.Expect(page.GetByTestId("scenario-slow-checkout")).ToBeEnabledAsync(new() { Timeout = 45_000 });

        await page.GetByTestId("scenario-slow-checkout").ClickAsync();

        var blocker = page.Locator("[data-testid=locks-blocker] a");
        await Assertions.Expect(blocker).ToContainTextAsync(SlowCheckoutDemo.SlowCheckoutApplication, new() { Timeout = 20_000 });
        await Assertions.Expect(blocker).ToHaveAttributeAsync("href", new System.Text.RegularExpressions.Regex(@"^/locks\?pid=\d+$"));
        await Assertions.Expect(page.Locator("[data-testid=overview-card][data-card=locks]")).ToContainTextAsync("2 sessions waiting");
        await Assertions.Expect(page.GetByTestId("locks-longest")).ToContainTextAsync("on lead ");
        await Assertions.Expect(page.GetByTestId("scenario-running")).ToHaveCountAsync(0, new() { Timeout = 45_000 });
        await Assertions.Expect(page.Locator("[data-testid=overview-card][data-card=locks]")).ToContainTextAsync("No session waits for a lock.", new() { Timeout = 15_000 });
    }

    [Fact]
    public async Task The_webhook_storm_through_the_signed_receiver_turns_the_duplicate_rate_to_alert()
    {
        await using var context = await demo.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await demo.OverviewAsync(context, "admin");
        await Assertions.Expect(page.GetByTestId("scenario-webhook-storm")).ToBeEnabledAsync(new() { Timeout = 45_000 });

        await page.GetByTestId("scenario-webhook-storm").ClickAsync();

        await Assertions.Expect(page.Locator("[data-testid=overview-kpi][data-key=webhook-duplicate-rate]"))
            .ToHaveAttributeAsync("data-state", "alert", new() { Timeout = 30_000 });
        await Assertions.Expect(page.GetByTestId("scenario-running")).ToHaveCountAsync(0, new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task A_manager_sees_the_scenarios_but_cannot_start_one()
    {
        await using var context = await demo.Browser.NewContextAsync();
        var page = await demo.OverviewAsync(context, "manager");

        await Assertions.Expect(page.GetByTestId("scenario-hot-lead-rush")).ToBeDisabledAsync();
        await Assertions.Expect(page.GetByTestId("scenarios-read-only")).ToContainTextAsync("admin role, and you are signed in as manager");
    }
}
