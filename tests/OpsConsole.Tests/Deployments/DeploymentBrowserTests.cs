using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Deployments;
using OpsConsole.Tests.Browser;
using OpsConsole.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Deployments;

// One collection: these classes run one after another, so their database and browser work does not
// starve the rest of the suite (bUnit's 1 s waits elsewhere failed under their combined load).
[Collection(DeploymentTests.Collection)]
public sealed class DeploymentBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    // Click, database, NOTIFY, the other page's render, on a shared and loaded machine: a deadline for the condition,
    // not the "< 1 s" goal, which bench/ measures (benchmark 5).
    private const float LiveUpdateTimeout = 10_000;

    private readonly List<IBrowserContext> _contexts = [];

    private IDeploymentService Service => browser.Factory.Services.GetRequiredService<IDeploymentService>();

    public async Task InitializeAsync() =>
        // The fixture makes one account per role; the second engineer is the demo's engineer2.
        await browser.Factory.Services.GetRequiredService<AccountService>()
            .UpsertAsync("engineer2", OpsRoles.Engineer, ConsoleAppFixture.Password, CancellationToken.None);

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_engineers_on_the_same_run_see_each_others_ticks_live_with_who_made_them()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var items = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items;
        var engineer = await SignedInAsync("engineer", $"/deployments/{runId}");
        var engineer2 = await SignedInAsync("engineer2", $"/deployments/{runId}");

        await Tick(engineer, items[0].Key).ClickAsync();
        var seenBy2 = Item(engineer2, items[0].Key);
        await Assertions.Expect(seenBy2).ToHaveAttributeAsync("data-state", "checked", new() { Timeout = LiveUpdateTimeout });
        await Assertions.Expect(seenBy2.GetByTestId("item-by")).ToContainTextAsync("Checked by engineer at");
        await Assertions.Expect(engineer2.GetByTestId("last-change")).ToContainTextAsync("engineer marked");

        await Tick(engineer2, items[1].Key).ClickAsync();
        var seenBy1 = Item(engineer, items[1].Key);
        await Assertions.Expect(seenBy1).ToHaveAttributeAsync("data-state", "checked", new() { Timeout = LiveUpdateTimeout });
        await Assertions.Expect(seenBy1.GetByTestId("item-by")).ToContainTextAsync("Checked by engineer2 at");
        // Neither tick overwrote the other.
        await Assertions.Expect(Item(engineer, items[0].Key)).ToHaveAttributeAsync("data-state", "checked");
        await Assertions.Expect(Item(engineer2, items[1].Key)).ToHaveAttributeAsync("data-state", "checked");
        await engineer2.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-live-ticks.png"), FullPage = false });
    }

    [Fact]
    public async Task A_run_goes_to_complete_with_a_deployer_a_verifier_and_the_managers_approval()
    {
        var engineer = await SignedInAsync("engineer", "/deployments");
        await engineer.GetByTestId("start-run").ClickAsync();
        await Assertions.Expect(engineer).ToHaveURLAsync(new Regex(@"/deployments/\d+$"));
        var runId = long.Parse(engineer.Url[(engineer.Url.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        // The address changes before the run page replaces the list, whose rows have status chips of their own.
        await Assertions.Expect(engineer.GetByTestId("deployment-run").GetByTestId("run-status")).ToHaveTextAsync("INCOMPLETE");

        var loaded = await DeploymentScenario.LoadAsync(Service, runId);
        var final = loaded.Runbook.ItemsOf(SectionRole.FinalChecklist);
        // The final checklist is folded while earlier parts have open items: its heading opens it.
        var finalPart = RunOutline.Of(loaded).Parts.Single(p => p.Head.Role == SectionRole.FinalChecklist);
        await engineer.Locator($"[data-testid=part-toggle][data-key='{finalPart.Key}']").ClickAsync();
        foreach (var item in final)
        {
            await Tick(engineer, item.Key).ClickAsync();
            await Assertions.Expect(Item(engineer, item.Key)).ToHaveAttributeAsync("data-state", "checked");
        }

        await engineer.GetByTestId("run-checks").ClickAsync();
        await Assertions.Expect(engineer.Locator("[data-testid=outline-check][data-state=Passing]")).ToHaveCountAsync(10, new() { Timeout = 15_000 });
        await engineer.GetByTestId("sign-deployed").ClickAsync();
        await Assertions.Expect(engineer.GetByTestId("signature-deployed").GetByTestId("signed-by")).ToHaveTextAsync("engineer");

        // The deployer cannot verify their own deployment: the button says so where it is, before anyone presses it.
        await Assertions.Expect(engineer.GetByTestId("sign-verified")).ToBeDisabledAsync();
        var blocked = engineer.GetByTestId("sign-verified-blocked");
        await Assertions.Expect(blocked).ToContainTextAsync("someone else must verify");
        var button = await engineer.GetByTestId("sign-verified").BoundingBoxAsync();
        var reason = await blocked.BoundingBoxAsync();
        Assert.True(Math.Abs(reason!.Y - button!.Y) < 60, $"the reason ({reason.Y:0} px) is beside the button ({button.Y:0} px)");

        var engineer2 = await SignedInAsync("engineer2", $"/deployments/{runId}");
        await engineer2.GetByTestId("sign-verified").ClickAsync();
        await Assertions.Expect(engineer2.GetByTestId("signature-verified").GetByTestId("signed-by")).ToHaveTextAsync("engineer2");

        var manager = await SignedInAsync(OpsRoles.Manager, $"/deployments/{runId}");
        await manager.GetByTestId("sign-approved").ClickAsync();
        await Assertions.Expect(manager.GetByTestId("deployment-run").GetByTestId("run-status")).ToHaveTextAsync("COMPLETE");
        await Assertions.Expect(manager.GetByTestId("read-only")).ToBeVisibleAsync();
        await Assertions.Expect(engineer.GetByTestId("deployment-run").GetByTestId("run-status")).ToHaveTextAsync("COMPLETE", new() { Timeout = LiveUpdateTimeout });

        var download = await manager.RunAndWaitForDownloadAsync(() => manager.GetByTestId("export-record").ClickAsync());
        var record = await File.ReadAllTextAsync(await download.PathAsync());
        Assert.Contains("- Status: **COMPLETE**", record, StringComparison.Ordinal);
        Assert.Matches(@"\| Approved by \| manager \|", record);
        await manager.GetByTestId("open-all").ClickAsync();
        await Assertions.Expect(manager.Locator("[data-testid=probe][data-result=pass]")).ToHaveCountAsync(10);
        await manager.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-complete.png"), FullPage = true });
        await manager.GetByTestId("sign-off").ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-complete-sign-off.png") });
        await manager.Locator("[data-testid=probe]").Nth(2).ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-complete-probe.png") });
        output.WriteLine($"Run {runId} completed; record:\n{record[..Math.Min(record.Length, 600)]}");
    }

    [Fact]
    public async Task A_refused_rollback_is_shown_beside_the_button_pressed_on_screen()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        foreach (var item in SignOffRules.OpenRollbackItems(await DeploymentScenario.LoadAsync(Service, runId)))
        {
            Assert.True((await Service.SetItemAsync(DeploymentScenario.Engineer, runId, item.Key, ItemState.Checked, null, null, CancellationToken.None)).Succeeded);
        }

        var engineer = await SignedInAsync("engineer", $"/deployments/{runId}");
        await engineer.GetByTestId("sign-rolledback").ClickAsync();
        // Nobody signed it as deployed: a rollback needs a reason, and one word is refused by the service.
        await engineer.Locator("input[data-testid=rollback-reason], [data-testid=rollback-reason] input").First.FillAsync("oops");
        var confirm = engineer.GetByTestId("rollback-confirm");
        await confirm.ClickAsync();

        var refusal = engineer.GetByTestId("signature-rolledback").GetByTestId("refusal");
        await Assertions.Expect(refusal).ToBeVisibleAsync();
        var box = await refusal.BoundingBoxAsync();
        var at = await confirm.BoundingBoxAsync();
        Assert.True(box!.Y >= 0 && box.Y + box.Height <= 900, $"the refusal ({box.Y:0}..{box.Y + box.Height:0} px) is outside the 900 px window");
        Assert.True(Math.Abs(box.Y - at!.Y) < 200, $"the refusal ({box.Y:0} px) is beside the button ({at.Y:0} px)");
        Assert.Equal(1, await engineer.GetByTestId("refusal").CountAsync());
        await Assertions.Expect(engineer.GetByTestId("deployment-run").GetByTestId("run-status")).ToHaveTextAsync("INCOMPLETE");
        await engineer.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-refusal-beside.png") });
    }

    [Fact]
    public async Task The_run_page_at_1440_by_900_fits_in_3000_px_at_start_and_4000_after_a_check_run_with_its_folds_opening()
    {
        const string drifted = "drifted for the run page height test";
        try
        {
            var runId = await DeploymentScenario.StartAsync(Service);
            var run = await DeploymentScenario.LoadAsync(Service, runId);
            foreach (var item in run.Runbook.Items.Take(25))
            {
                Assert.True((await Service.SetItemAsync(DeploymentScenario.Engineer, runId, item.Key, ItemState.Checked, null, null, CancellationToken.None)).Succeeded);
            }

            var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1440, Height = 900 } });
            _contexts.Add(context);
            var page = await browser.SignedInPageAsync(context, $"/deployments/{runId}", "engineer");
            await Assertions.Expect(page.GetByTestId("outline")).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByTestId("part-toggle").First).ToBeAttachedAsync();
            var atStart = await page.EvaluateAsync<int>("() => document.documentElement.scrollHeight");
            await page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-run-1440-start.png"), FullPage = true });

            // The folds are buttons on the keyboard's path, saying whether they are open.
            var parts = RunOutline.Of(run).Parts.Count;
            await Assertions.Expect(page.Locator("button[data-testid=part-toggle][aria-expanded]")).ToHaveCountAsync(parts);

            await page.GetByTestId("run-checks").ClickAsync();
            await Assertions.Expect(page.Locator("[data-testid=outline-check][data-state=Passing]")).ToHaveCountAsync(10, new() { Timeout = 15_000 });
            var afterChecks = await page.EvaluateAsync<int>("() => document.documentElement.scrollHeight");
            output.WriteLine($"run page height at 1440x900: {atStart} px at start, {afterChecks} px after a check run");
            await page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-run-1440.png"), FullPage = true });
            Assert.True(atStart < 3_000, $"the run page is {atStart} px tall at start");
            Assert.True(afterChecks < 4_000, $"the run page is {afterChecks} px tall after a check run");

            // Twelve workspaces whose balance disagrees with their totals: the credit checks fail with twelve rows each,
            // more than a check shows before "show all". Removed at the end: the other tests here expect every check to pass.
            await using (var connection = await browser.Database.DataSource.OpenConnectionAsync())
            {
                await connection.ExecuteAsync("""
                    WITH w AS (INSERT INTO workspaces (id, name) SELECT gen_random_uuid(), @drifted FROM generate_series(1, 12) RETURNING id)
                    INSERT INTO workspace_credits (workspace_id, balance, total_purchased) SELECT id, 10, 0 FROM w
                    """, new { drifted });
            }

            // "All 10 checks passed" lies over the button (and stays while the pointer rests on it): the keyboard presses it.
            await page.BringToFrontAsync();
            await page.GetByTestId("run-checks").FocusAsync();
            await page.Keyboard.PressAsync("Enter");
            await Assertions.Expect(page.GetByTestId("failed-checks")).ToBeVisibleAsync(new() { Timeout = 15_000 });
            var withFailures = await page.EvaluateAsync<int>("() => document.documentElement.scrollHeight");
            output.WriteLine($"run page height with failing checks open: {withFailures} px");

            // A failing check's part opens by itself; its twelve rows show ten and "show all", which shows every row.
            var audit = run.Runbook.Probes.Single(p => p.Title.StartsWith("Credit balance audit", StringComparison.Ordinal));
            var card = page.Locator($"[data-testid=probe][data-key='{audit.Key}']");
            await Assertions.Expect(card).ToHaveAttributeAsync("data-result", "fail");
            await Assertions.Expect(card.Locator("[data-testid=probe-rows] tbody tr")).ToHaveCountAsync(10);
            var showAll = card.GetByTestId("probe-rows-toggle");
            await Assertions.Expect(showAll).ToHaveTextAsync(new Regex(@"Show all \((1[2-9]|[2-9]\d|\d{3,}) rows\)"));
            await Assertions.Expect(showAll).ToHaveAttributeAsync("aria-expanded", "false");
            await showAll.ClickAsync();
            await Assertions.Expect(showAll).ToHaveAttributeAsync("aria-expanded", "true");
            Assert.True(await card.Locator("[data-testid=probe-rows] tbody tr").CountAsync() >= 12);

            // A folded part opens on a click of its heading and shows its items, which can be ticked.
            var before = RunOutline.Of(run).Parts.First(p => p.Head.Role == SectionRole.PreDeployment);
            var toggle = page.Locator($"[data-testid=part-toggle][data-key='{before.Key}']");
            await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "false");
            await Assertions.Expect(Item(page, before.Items[0].Key)).ToHaveCountAsync(0);
            await toggle.ClickAsync();
            await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "true");
            foreach (var item in before.Items)
            {
                await Assertions.Expect(Item(page, item.Key)).ToBeVisibleAsync();
            }

            // The timeline is folded; opened, it pages by twenty.
            await page.GetByTestId("timeline-toggle").ClickAsync();
            await Assertions.Expect(page.GetByTestId("timeline-pager")).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByTestId("timeline-event")).ToHaveCountAsync(20);
        }
        finally
        {
            await using var connection = await browser.Database.DataSource.OpenConnectionAsync();
            await connection.ExecuteAsync("""
                DELETE FROM workspace_credits WHERE workspace_id IN (SELECT id FROM workspaces WHERE name = @drifted);
                DELETE FROM workspaces WHERE name = @drifted;
                """, new { drifted });
        }
    }

    [Fact]
    public async Task The_keyboard_reaches_a_parts_fold_and_Enter_opens_it()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        var steps = RunOutline.Of(run).Parts.First(p => p.Head.Role == SectionRole.Steps);
        var page = await SignedInAsync("engineer", $"/deployments/{runId}");
        await page.BringToFrontAsync();
        var toggle = page.Locator($"[data-testid=part-toggle][data-key='{steps.Key}']");
        await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "false");

        // Tab from the part before it: its heading button, its items (each focusable), then this part's button.
        await page.Locator($"[data-testid=part-toggle]").First.FocusAsync();
        for (var i = 0; i < 200 && !await toggle.EvaluateAsync<bool>("e => e === document.activeElement"); i++)
        {
            await page.Keyboard.PressAsync("Tab");
        }

        await Assertions.Expect(toggle).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "true");
        await Assertions.Expect(Item(page, steps.Items[0].Key)).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_engineer_ticks_an_item_and_moves_to_the_next_with_the_keyboard_only()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var items = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items;
        var page = await SignedInAsync("engineer", $"/deployments/{runId}");
        await Assertions.Expect(page.GetByTestId("outline")).ToBeVisibleAsync();
        // The key listener arrives after the first render (on a loaded machine, after the outline showed).
        await Assertions.Expect(page.Locator("html[data-run-keys=on]")).ToBeAttachedAsync();
        // Keys go to the page with the focus: other browser tests open pages in the same Chromium at the same time.
        await page.BringToFrontAsync();

        await page.Keyboard.PressAsync("n");
        await Assertions.Expect(Item(page, items[0].Key)).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("x");
        await Assertions.Expect(Item(page, items[0].Key)).ToHaveAttributeAsync("data-state", "checked");
        await page.Keyboard.PressAsync("j");
        await Assertions.Expect(Item(page, items[1].Key)).ToBeFocusedAsync();
        await page.Keyboard.PressAsync(" ");
        await Assertions.Expect(Item(page, items[1].Key)).ToHaveAttributeAsync("data-state", "checked");
        await Assertions.Expect(page.Locator("[data-testid=outline-part]").First.GetByTestId("outline-count")).ToContainTextAsync("2/");

        // Keys typed into a field are text, not moves.
        await page.GetByTestId("note-text").FocusAsync();
        await page.Keyboard.TypeAsync("xn");
        await Assertions.Expect(page.GetByTestId("note-text")).ToHaveValueAsync("xn");
        await Assertions.Expect(Item(page, items[2].Key)).ToHaveAttributeAsync("data-state", "unchecked");
        Assert.Equal(ItemState.Checked, (await DeploymentScenario.LoadAsync(Service, runId)).StateOf(items[1].Key));
        await page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("deployment-run-outline.png") });
    }

    private static ILocator Item(IPage page, string key) => page.Locator($"[data-testid=item][data-key='{key}']");

    private static ILocator Tick(IPage page, string key) => Item(page, key).Locator("label.mud-checkbox");

    private async Task<IPage> SignedInAsync(string userName, string path)
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1280, Height = 900 }, AcceptDownloads = true });
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{browser.BaseUrl}{path}");
        await page.GetByLabel("User name").FillAsync(userName);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync($"{browser.BaseUrl}{path}");
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
        return page;
    }
}
