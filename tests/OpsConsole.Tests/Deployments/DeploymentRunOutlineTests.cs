using Bunit;
using Dapper;
using OpsConsole.Core.Accounts;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

/// <summary>The run page's outline, approval blockers, failed-check list, folding and keys.</summary>
[Collection(DeploymentTests.Collection)]
public sealed class DeploymentRunOutlineTests(MarketplaceDatabase fixture) : DeploymentPageTest(fixture), IClassFixture<MarketplaceDatabase>
{
    private readonly MarketplaceDatabase _database = fixture;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_outline_shows_done_of_total_for_each_part_and_the_state_of_each_check()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        var first = RunOutline.Of(run).Parts.First(p => p.Items.Count >= 2);
        await TickAsync(runId, first.Items[0], first.Items[1]);
        SignInAs("engineer", OpsRoles.Engineer);

        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));

        await cut.WaitForAssertionAsync(() =>
            Assert.Equal($"2/{first.Items.Count}", cut.Find($"[data-testid=outline-part][data-key='{first.Key}'] [data-testid=outline-count]").TextContent.Trim()), Wait);
        var parts = cut.FindAll("[data-testid=outline-part]");
        Assert.Equal(RunOutline.Of(run).Parts.Select(p => p.Key), parts.Select(p => p.GetAttribute("data-key")));
        Assert.Equal(run.Runbook.Items.Count, RunOutline.Of(run).Parts.Sum(p => p.Items.Count));
        var checks = cut.FindAll("[data-testid=outline-check]");
        Assert.Equal(run.Runbook.Probes.Select(p => p.Key), checks.Select(c => c.GetAttribute("data-key")));
        Assert.All(checks, c => Assert.Equal("NeverRun", c.GetAttribute("data-state")));
        Assert.All(checks, c => Assert.EndsWith($"#check-{c.GetAttribute("data-key")}", c.GetAttribute("href"), StringComparison.Ordinal));
        Assert.Contains($"2 of {run.Runbook.Items.Count} items done", cut.Find("[data-testid=outline-progress]").TextContent, StringComparison.Ordinal);
        Assert.Contains("next open item", cut.Find("[data-testid=keys]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_approval_blockers_link_to_each_open_final_item_each_check_not_passing_and_the_sign_off_panel()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        var final = run.Runbook.ItemsOf(SectionRole.FinalChecklist);
        await TickAsync(runId, final[0]);
        SignInAs("engineer", OpsRoles.Engineer);

        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));

        var blockers = await cut.WaitForElementsAsync("[data-testid=outline-blockers] [data-testid=blocker]", Wait);
        Assert.Equal(
            ["#sign-off-panel", "#sign-off-panel", .. final.Skip(1).Select(i => $"#item-{i.Key}"), .. run.Runbook.Probes.Select(p => $"#check-{p.Key}")],
            blockers.Select(b => b.GetAttribute("href")![b.GetAttribute("href")!.IndexOf('#', StringComparison.Ordinal)..]));
        Assert.All(blockers, b => Assert.StartsWith($"deployments/{runId}#", b.GetAttribute("href"), StringComparison.Ordinal));
        Assert.Contains("(never run)", blockers[^1].TextContent, StringComparison.Ordinal);
        // Every link has its target on the page.
        Assert.All(blockers, b => Assert.NotNull(cut.Find($"[id='{b.GetAttribute("href")!.Split('#')[1]}']")));
        // The sign-off panel lists the same blockers.
        Assert.Equal(blockers.Count, cut.FindAll("[data-testid=approval-blockers] [data-testid=blocker]").Count);
    }

    [Fact]
    public async Task After_run_checks_the_failing_checks_are_listed_with_what_they_expect_and_what_they_returned()
    {
        // A workspace whose balance disagrees with its totals: the credit checks return it.
        var drifted = (await MarketSeed.WorkspacesAsync(_database.DataSource, 1, 0m)).Single();
        await using (var connection = await _database.DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE workspace_credits SET balance = 10 WHERE workspace_id = @Id", new { Id = drifted });
        }

        var runId = await DeploymentScenario.StartAsync(Service);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        var audit = run.Runbook.Probes.Single(p => p.Title.StartsWith("Credit balance audit", StringComparison.Ordinal));
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await cut.WaitForElementAsync("[data-testid=deployment-run]", Wait);
        Assert.Empty(cut.FindAll("[data-testid=failed-checks]"));

        await cut.InvokeAsync(cut.Instance.RunChecksAsync);

        var failed = await cut.WaitForElementsAsync("[data-testid=failed-check]", Wait);
        var shown = Assert.Single(failed, f => f.GetAttribute("data-key") == audit.Key);
        Assert.Equal("Should return 0 rows", shown.QuerySelector("[data-testid=failed-check-expected]")!.TextContent.Trim());
        Assert.Equal("Returned 1 row; expected 0 rows.", shown.QuerySelector("[data-testid=failed-check-got]")!.TextContent.Trim());
        Assert.EndsWith($"#check-{audit.Key}", shown.QuerySelector("a")!.GetAttribute("href"), StringComparison.Ordinal);
        var after = await DeploymentScenario.LoadAsync(Service, runId);
        Assert.Equal(after.Runbook.Probes.Count - after.ProbesPassing, failed.Count);
        Assert.Equal("Failing", cut.Find($"[data-testid=outline-check][data-key='{audit.Key}']").GetAttribute("data-state"));
        Assert.NotNull(cut.Find($"[id='check-{audit.Key}']"));
    }

    [Fact]
    public async Task A_finished_part_collapses_and_shows_again_and_unfinished_parts_offer_no_collapse()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        var part = RunOutline.Of(run).Parts.First(p => p.Items.Count > 0 && p.Probes.Count == 0);
        await TickAsync(runId, [.. part.Items]);
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        var head = $"section[id='{part.Key}']";

        await cut.WaitForElementAsync($"{head} [data-testid=section-collapse]", Wait);
        await cut.FindAndClickAsync($"{head} [data-testid=section-collapse]");

        await cut.WaitForAssertionAsync(() => Assert.Equal("true", cut.Find(head).GetAttribute("data-collapsed")), Wait);
        Assert.All(part.Items, i => Assert.Empty(cut.FindAll($"[data-testid=item][data-key='{i.Key}']")));
        Assert.Equal("true", cut.Find($"[data-testid=outline-part][data-key='{part.Key}']").GetAttribute("data-finished"));
        Assert.Single(cut.FindAll("[data-testid=section-collapse]"));

        await cut.FindAndClickAsync($"{head} [data-testid=section-collapse]");

        await cut.WaitForAssertionAsync(() => Assert.Equal("false", cut.Find(head).GetAttribute("data-collapsed")), Wait);
        Assert.Equal(part.Items.Count, part.Items.Count(i => cut.FindAll($"[data-testid=item][data-key='{i.Key}']").Count == 1));
    }

    [Fact]
    public async Task Keys_tick_the_focused_item_move_to_the_next_and_the_next_open_and_open_the_NA_reason()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var items = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items;
        await TickAsync(runId, items[1]);
        SignInAs("engineer", OpsRoles.Engineer);
        var keys = JSInterop.SetupModule("./js/run-keys.js");
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await cut.WaitForElementAsync("[data-testid=deployment-run]", Wait);

        await cut.InvokeAsync(() => cut.Instance.OnShortcutAsync("x", items[0].Key));
        await cut.WaitForAssertionAsync(() => Assert.Equal("checked", cut.Find($"[data-testid=item][data-key='{items[0].Key}']").GetAttribute("data-state")), Wait);
        Assert.Equal(ItemState.Checked, (await DeploymentScenario.LoadAsync(Service, runId)).StateOf(items[0].Key));

        await cut.InvokeAsync(() => cut.Instance.OnShortcutAsync("j", items[0].Key));
        Assert.Equal($"item-{items[1].Key}", keys.Invocations["focusElement"][^1].Arguments[0]);

        // n skips the ticked second item.
        await cut.InvokeAsync(() => cut.Instance.OnShortcutAsync("n", items[0].Key));
        Assert.Equal($"item-{items[2].Key}", keys.Invocations["focusElement"][^1].Arguments[0]);

        await cut.InvokeAsync(() => cut.Instance.OnShortcutAsync("k", items[2].Key));
        Assert.Equal($"item-{items[1].Key}", keys.Invocations["focusElement"][^1].Arguments[0]);

        await cut.InvokeAsync(() => cut.Instance.OnShortcutAsync("space", items[0].Key));
        await cut.WaitForAssertionAsync(() => Assert.Equal("unchecked", cut.Find($"[data-testid=item][data-key='{items[0].Key}']").GetAttribute("data-state")), Wait);

        await cut.InvokeAsync(() => cut.Instance.OnShortcutAsync("a", items[2].Key));
        await cut.WaitForElementAsync($"[data-testid=item][data-key='{items[2].Key}'] [data-testid=item-na-reason]", Wait);

        // The page listens for keys once it is interactive.
        Assert.Single(keys.Invocations["listen"]);
    }

    [Fact]
    public async Task Next_open_item_focuses_the_first_item_neither_checked_nor_NA()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var items = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook.Items;
        await TickAsync(runId, items[0], items[1]);
        SignInAs("engineer", OpsRoles.Engineer);
        var keys = JSInterop.SetupModule("./js/run-keys.js");
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));

        await cut.WaitForElementAsync("[data-testid=next-open]", Wait);
        await cut.FindAndClickAsync("[data-testid=next-open]");

        await cut.WaitForAssertionAsync(() => Assert.Equal($"item-{items[2].Key}", keys.Invocations["focusElement"][^1].Arguments[0]), Wait);
    }

    private async Task TickAsync(long runId, params ChecklistItem[] items)
    {
        foreach (var item in items)
        {
            var result = await Service.SetItemAsync(DeploymentScenario.Engineer, runId, item.Key, ItemState.Checked, null, null, CancellationToken.None);
            Assert.True(result.Succeeded, result.Refusal?.Message);
        }
    }
}
