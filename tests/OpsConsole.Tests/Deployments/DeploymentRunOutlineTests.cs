using Bunit;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
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
        // The sign-off panel lists the same blockers: the first ten, and the rest on "show all".
        Assert.Equal(10, cut.FindAll("[data-testid=approval-blockers] [data-testid=blocker]").Count);
        Assert.Equal($"Show all ({blockers.Count})", cut.Find("[data-testid=blockers-show-all]").TextContent.Trim());
        await cut.FindAndClickAsync("[data-testid=blockers-show-all]");
        await cut.WaitForAssertionAsync(() => Assert.Equal(
            blockers.Select(b => b.GetAttribute("href")),
            cut.FindAll("[data-testid=approval-blockers] [data-testid=blocker]").Select(b => b.GetAttribute("href"))), Wait);
        // Every link's target is on the page once followed: a link into a folded part opens it.
        foreach (var target in blockers.Select(b => b.GetAttribute("href")!.Split('#')[1]).Distinct().ToList())
        {
            var link = $"[data-testid=outline-blockers] [data-testid=blocker][href$='#{target}']";
            await cut.FindAndClickAsync(link);
            await cut.WaitForAssertionAsync(() => Assert.NotNull(cut.Find($"[id='{target}']")), Wait);
        }
    }

    [Fact]
    public async Task After_run_checks_the_failing_checks_are_listed_with_what_they_expect_and_what_they_returned()
    {
        // A workspace whose balance disagrees with its totals: the credit checks return it.
        await using (var connection = await _database.DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                WITH w AS (INSERT INTO workspaces (id, name) VALUES (gen_random_uuid(), 'drifted for the outline test') RETURNING id)
                INSERT INTO workspace_credits (workspace_id, balance, total_purchased) SELECT id, 10, 0 FROM w
                """);
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
    public async Task A_finished_part_starts_folded_opens_on_its_heading_button_and_folds_again()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        var part = RunOutline.Of(run).Parts.First(p => p.Items.Count > 0 && p.Probes.Count == 0);
        await TickAsync(runId, [.. part.Items]);
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        var head = $"section[id='{part.Key}']";
        var toggle = $"{head} [data-testid=part-toggle]";

        await cut.WaitForElementAsync(toggle, Wait);
        Assert.Equal("true", cut.Find(head).GetAttribute("data-collapsed"));
        Assert.Equal("false", cut.Find(toggle).GetAttribute("aria-expanded"));
        Assert.Equal("BUTTON", cut.Find(toggle).TagName);
        Assert.Contains("Finished", cut.Find($"{head} [data-testid=section-collapsed]").TextContent, StringComparison.Ordinal);
        Assert.All(part.Items, i => Assert.Empty(cut.FindAll($"[data-testid=item][data-key='{i.Key}']")));
        Assert.Equal("true", cut.Find($"[data-testid=outline-part][data-key='{part.Key}']").GetAttribute("data-finished"));

        await cut.FindAndClickAsync(toggle);

        await cut.WaitForAssertionAsync(() => Assert.Equal("false", cut.Find(head).GetAttribute("data-collapsed")), Wait);
        Assert.Equal("true", cut.Find(toggle).GetAttribute("aria-expanded"));
        Assert.Equal(part.Items.Count, part.Items.Count(i => cut.FindAll($"[data-testid=item][data-key='{i.Key}']").Count == 1));

        await cut.FindAndClickAsync(toggle);

        await cut.WaitForAssertionAsync(() => Assert.Equal("true", cut.Find(head).GetAttribute("data-collapsed")), Wait);
        Assert.All(part.Items, i => Assert.Empty(cut.FindAll($"[data-testid=item][data-key='{i.Key}']")));

        // Reopening an item in a part folded while finished shows the part again.
        Assert.True((await Service.SetItemAsync(DeploymentScenario.Engineer, runId, part.Items[0].Key, ItemState.Unchecked, null, null, CancellationToken.None)).Succeeded);
        Services.GetRequiredService<DeploymentEventHub>().Publish(new DeploymentChange(runId, (await DeploymentScenario.LoadAsync(Service, runId)).LastEventId));
        await cut.WaitForAssertionAsync(() => Assert.Equal("false", cut.Find(head).GetAttribute("data-collapsed")), Wait);
    }

    [Fact]
    public async Task At_start_only_the_current_part_sign_off_and_notes_are_open_and_every_part_has_a_fold_button()
    {
        var runId = await DeploymentScenario.StartAsync(Service);
        var run = await DeploymentScenario.LoadAsync(Service, runId);
        var outline = RunOutline.Of(run);
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentRunPage>(p => p.Add(x => x.Id, runId));
        await cut.WaitForElementAsync("[data-testid=part-toggle]", Wait);

        var open = cut.FindAll("[data-testid=part-toggle][aria-expanded=true]").Select(t => t.GetAttribute("data-key") ?? "").ToArray();
        Assert.Equal(
            [outline.Parts[0].Key, .. outline.Parts.Where(p => p.Head.Role is SectionRole.SignOff or SectionRole.Notes).Select(p => p.Key)],
            open);
        Assert.Equal(outline.Parts.Select(p => p.Key), cut.FindAll("[data-testid=part-toggle]").Select(t => t.GetAttribute("data-key") ?? ""));
        // The current part's items are there to tick; a folded part's are not drawn.
        Assert.Equal(outline.Parts[0].Items.Count, cut.FindAll("[data-testid=item]").Count);
        Assert.Empty(cut.FindAll("[data-testid=probe]"));
        Assert.NotEmpty(cut.FindAll("[data-testid=sign-deployed]"));
        var withChecks = outline.Parts.First(p => p.Probes.Count > 0);
        Assert.Contains($"0 of {withChecks.Probes.Count} checks passing, {withChecks.Probes.Count} never run",
            cut.Find($"section[id='{withChecks.Key}'] [data-testid=section-collapsed]").TextContent, StringComparison.Ordinal);

        // Next open item, once the first part is done, moves the page on: the next part with open items is open.
        await TickAsync(runId, [.. outline.Parts[0].Items]);
        Services.GetRequiredService<DeploymentEventHub>().Publish(new DeploymentChange(runId, (await DeploymentScenario.LoadAsync(Service, runId)).LastEventId));
        await cut.WaitForAssertionAsync(() =>
        {
            Assert.Equal("true", cut.Find($"section[id='{outline.Parts[0].Key}']").GetAttribute("data-collapsed"));
            Assert.Equal("false", cut.Find($"section[id='{outline.Parts[1].Key}']").GetAttribute("data-collapsed"));
        }, Wait);
    }

    [Fact]
    public async Task A_check_with_more_than_ten_rows_shows_ten_and_a_show_all_button_that_shows_every_row()
    {
        string?[][] rows = [.. Enumerable.Range(1, 25).Select(i => new string?[] { $"w{i}", i.ToString(System.Globalization.CultureInfo.InvariantCulture) })];
        var cut = Render<ProbeRows>(p => p.Add(x => x.Columns, ["workspace_id", "discrepancy"]).Add(x => x.Rows, rows));

        Assert.Equal(ProbeRows.ShownAtFirst, cut.FindAll("[data-testid=probe-rows] tbody tr").Count);
        var toggle = cut.Find("[data-testid=probe-rows-toggle]");
        Assert.Equal("Show all (25 rows)", toggle.TextContent.Trim());
        Assert.Equal("false", toggle.GetAttribute("aria-expanded"));

        await cut.FindAndClickAsync("[data-testid=probe-rows-toggle]");

        await cut.WaitForAssertionAsync(() => Assert.Equal(25, cut.FindAll("[data-testid=probe-rows] tbody tr").Count), Wait);
        Assert.Equal("true", cut.Find("[data-testid=probe-rows-toggle]").GetAttribute("aria-expanded"));
        Assert.Contains("w25", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_check_with_ten_rows_or_fewer_shows_them_all_with_no_button()
    {
        string?[][] rows = [.. Enumerable.Range(1, 10).Select(i => new string?[] { $"w{i}" })];
        var cut = Render<ProbeRows>(p => p.Add(x => x.Columns, ["workspace_id"]).Add(x => x.Rows, rows));
        await Task.CompletedTask;

        Assert.Equal(10, cut.FindAll("[data-testid=probe-rows] tbody tr").Count);
        Assert.Empty(cut.FindAll("[data-testid=probe-rows-toggle]"));
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
