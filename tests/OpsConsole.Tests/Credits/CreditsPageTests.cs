using Bunit;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Components.Pages.Credits;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Demo;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Credits;

public sealed class CreditsPageTests(MarketplaceDatabase database) : CreditPageTest(database), IClassFixture<MarketplaceDatabase>
{
    private static readonly OpsActor OtherSupport = TestActors.For("support2", OpsRoles.Support);

    [Theory]
    [InlineData(OpsRoles.Engineer)]
    [InlineData(OpsRoles.Manager)]
    public async Task Engineers_and_managers_see_the_drift_with_the_formula_and_the_explanation_but_only_to_read(string role)
    {
        var actor = SignIn(role, role);
        var drift = (await Service.ListDriftAsync(actor, CancellationToken.None)).Value;
        var cut = Render<CreditsPage>();

        await Eventually(cut, () => Assert.Equal(drift.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), cut.Find("[data-testid=drift-count]").TextContent.Trim()));
        Assert.Equal(drift.Count, cut.FindAll("[data-testid=drift-row]").Count);
        var formula = System.Text.RegularExpressions.Regex.Replace(cut.Find("[data-testid=formula]").TextContent, @"\s+", " ");
        Assert.Contains("balance = total_purchased + total_earned − total_used", formula, StringComparison.Ordinal);
        Assert.Contains("leaves out total_earned and is wrong", formula, StringComparison.Ordinal);
        Assert.Contains($"signed in as {role}", cut.Find("[data-testid=read-only]").TextContent, StringComparison.Ordinal);

        await cut.FindAndClickAsync($"[data-testid=drift-row][data-workspace='{DemoSeeder.WorkspaceId(7)}'] [data-testid=drift-open]");

        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll("[data-testid=workspace-drawer]")));
        Assert.Contains("earned 42.00 from 3 sales, total_earned says 0.00", cut.Find("[data-testid=explanation]").TextContent, StringComparison.Ordinal);
        Assert.Equal("no", cut.Find("[data-testid=finding][data-column=total_earned]").GetAttribute("data-agrees"));
        Assert.Contains("total_earned +42.00", cut.Find("[data-testid=proposal]").TextContent, StringComparison.Ordinal);
        Assert.NotEmpty(cut.FindAll("[data-testid=history-entry][data-kind=sale]"));
        Assert.Empty(cut.FindAll("[data-testid=submit-adjustment]"));
        Assert.Empty(cut.FindAll("[data-testid=reverse]"));
        Assert.Empty(cut.FindAll("[data-testid=approve]"));
    }

    [Fact]
    public async Task The_overviews_link_with_a_workspace_opens_it_and_marks_its_row()
    {
        SignIn("support", OpsRoles.Support);
        var granite = DemoSeeder.WorkspaceId(7);
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo($"/credits?workspace={granite}");

        var cut = Render<CreditsPage>();

        await Eventually(cut, () => Assert.Equal(granite.ToString(), cut.Find("[data-testid=workspace-drawer]").GetAttribute("data-workspace")));
        Assert.Equal("true", cut.Find($"[data-testid=drift-row][data-workspace='{granite}']").GetAttribute("data-focused"));
        Assert.Contains("earned 42.00 from 3 sales", cut.Find("[data-testid=explanation]").TextContent, StringComparison.Ordinal);
        Assert.Single(cut.FindAll("[data-testid=drift-row][data-focused]"));
    }

    [Fact]
    public async Task Support_gets_the_proposal_prefilled_with_a_preview_and_applies_it_with_a_reason()
    {
        SignIn("support", OpsRoles.Support);
        var workspace = await WorkspaceAsync(110m, 100m);
        var cut = Render<CreditsPage>();
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll($"[data-testid=drift-row][data-workspace='{workspace}']")));

        await cut.FindAndClickAsync($"[data-testid=drift-row][data-workspace='{workspace}'] [data-testid=drift-open]");

        await Eventually(cut, () => Assert.Equal("0.00", cut.Find("[data-testid=after-discrepancy]").TextContent.Trim()));
        Assert.Equal(-10m, cut.Instance.Form.Balance);
        Assert.Contains("100.00", cut.Find("[data-testid=row-after]").TextContent, StringComparison.Ordinal);
        Assert.True(cut.Find("[data-testid=submit-adjustment]").HasAttribute("disabled"), "Without a reason the form cannot be sent.");

        await cut.InvokeAsync(() => cut.Instance.Form.Reason = "Double top-up booked twice");
        cut.Render();
        await cut.FindAndClickAsync("[data-testid=submit-adjustment]");

        await Eventually(cut, () => Assert.Contains("applied (balance -10.00): balance 110.00 → 100.00", cut.Find("[data-testid=notice]").TextContent, StringComparison.Ordinal));
        Assert.Equal(100m, await BalanceAsync(workspace));
        Assert.Empty(cut.FindAll($"[data-testid=drift-row][data-workspace='{workspace}']"));
    }

    [Fact]
    public async Task A_form_made_stale_by_someone_else_is_refused_and_nothing_is_applied()
    {
        SignIn("support", OpsRoles.Support);
        var workspace = await WorkspaceAsync(50m, 40m);
        var cut = Render<CreditsPage>();
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll($"[data-testid=drift-row][data-workspace='{workspace}']")));
        await cut.FindAndClickAsync($"[data-testid=drift-row][data-workspace='{workspace}'] [data-testid=drift-open]");
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll("[data-testid=workspace-drawer]")));
        var version = (await Service.GetWorkspaceAsync(OtherSupport, workspace, CancellationToken.None)).Value.Version;
        await Service.AdjustAsync(OtherSupport, new AdjustmentRequest(workspace, version, new CreditDeltas(-5m, 0, 0, 0), "Fixed by a colleague first", null), CancellationToken.None);

        await cut.InvokeAsync(() => cut.Instance.Form.Reason = "Working from what I saw");
        cut.Render();
        await cut.FindAndClickAsync("[data-testid=submit-adjustment]");

        await Eventually(cut, () => Assert.Contains("This balance changed since you looked", cut.Find("[data-testid=refusal]").TextContent, StringComparison.Ordinal));
        Assert.NotEmpty(cut.FindAll("[data-testid=workspace-changed]"));
        Assert.Equal(45m, await BalanceAsync(workspace));
    }

    [Fact]
    public async Task A_refused_approval_is_shown_in_its_own_row_not_at_the_top()
    {
        SignIn("support", OpsRoles.Support);
        var theirs = await PendingAsync(OtherSupport);
        var cut = Render<CreditsPage>();
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll($"[data-testid=approval][data-id='{theirs}']")));

        // No reason typed: the service refuses, and the answer is beside the button pressed.
        await cut.FindAndClickAsync($"[data-testid=approval][data-id='{theirs}'] [data-testid=approve]");

        await Eventually(cut, () => Assert.NotNull(cut.Find($"[data-testid=approval][data-id='{theirs}'] [data-testid=refusal]")));
        Assert.Single(cut.FindAll("[data-testid=refusal]"));
        Assert.Equal("pending_approval", cut.Find($"[data-testid=journal-row][data-id='{theirs}']").GetAttribute("data-status"));
    }

    [Fact]
    public async Task The_maker_cannot_approve_their_own_and_sees_why_and_another_support_person_approves()
    {
        var me = SignIn("support", OpsRoles.Support);
        var mine = await PendingAsync(me);
        var theirs = await PendingAsync(OtherSupport);
        var cut = Render<CreditsPage>();
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll($"[data-testid=approval][data-id='{theirs}']")));

        var own = cut.Find($"[data-testid=approval][data-id='{mine}']");
        Assert.True(own.QuerySelector("[data-testid=approve]")!.HasAttribute("disabled"));
        Assert.True(own.QuerySelector("[data-testid=reject]")!.HasAttribute("disabled"));
        Assert.Contains("another person", own.QuerySelector("[data-testid=approve-disabled-reason]")!.TextContent, StringComparison.Ordinal);
        Assert.False(cut.Find($"[data-testid=approval][data-id='{theirs}'] [data-testid=approve]").HasAttribute("disabled"));
        Assert.Empty(cut.FindAll($"[data-testid=approval][data-id='{theirs}'] [data-testid=approve-disabled-reason]"));

        await cut.InvokeAsync(() => cut.Instance.DecisionReasons[theirs] = "Checked the bank statement");
        await cut.FindAndClickAsync($"[data-testid=approval][data-id='{theirs}'] [data-testid=approve]");

        await Eventually(cut, () => Assert.Equal("applied", cut.Find($"[data-testid=journal-row][data-id='{theirs}']").GetAttribute("data-status")));
        Assert.Equal("pending_approval", cut.Find($"[data-testid=journal-row][data-id='{mine}']").GetAttribute("data-status"));
    }

    [Fact]
    public async Task An_applied_adjustment_is_reversed_from_the_journal_with_a_reason()
    {
        SignIn("admin", OpsRoles.Admin);
        var workspace = await WorkspaceAsync(20m, 20m);
        var version = (await Service.GetWorkspaceAsync(OtherSupport, workspace, CancellationToken.None)).Value.Version;
        var made = (await Service.AdjustAsync(OtherSupport, new AdjustmentRequest(workspace, version, new CreditDeltas(7m, 7m, 0, 0), "Credit pack paid by invoice", null), CancellationToken.None)).Value;
        var cut = Render<CreditsPage>();
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll($"[data-testid=journal-row][data-id='{made.Id}'] [data-testid=reverse]")));

        await cut.InvokeAsync(() => cut.Instance.DecisionReasons[made.Id] = "Invoice was cancelled");
        await cut.FindAndClickAsync($"[data-testid=journal-row][data-id='{made.Id}'] [data-testid=reverse]");

        await Eventually(cut, () => Assert.Equal("reversed", cut.Find($"[data-testid=journal-row][data-id='{made.Id}']").GetAttribute("data-status")));
        Assert.Equal(20m, await BalanceAsync(workspace));
    }

    [Fact]
    public async Task The_bulk_dry_run_shows_before_and_after_and_writes_nothing()
    {
        SignIn("support", OpsRoles.Support);
        var cut = Render<CreditsPage>();
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll("[data-testid=drift-row]")));
        var written = await JournalRowsAsync();

        var rows = cut.FindAll("[data-testid=drift-select]").Count;
        for (var i = 0; i < rows; i++)
        {
            var index = i;
            // Found and changed in one dispatch: a render in between would retire the handler.
            await cut.FindAndChangeAsync(c => c.FindAll("[data-testid=drift-select]")[index], true);
        }

        await cut.FindAndClickAsync("[data-testid=bulk-dry-run]");

        await Eventually(cut, () => Assert.Equal(cut.FindAll("[data-testid=drift-row]").Count, cut.FindAll("[data-testid=bulk-plan-row]").Count));
        Assert.Contains("discrepancy", cut.Find("[data-testid=bulk-totals]").TextContent, StringComparison.Ordinal);
        Assert.Equal(written, await JournalRowsAsync());
    }

    [Fact]
    public async Task A_change_announced_by_the_listener_reloads_the_open_page()
    {
        SignIn("manager", OpsRoles.Manager);
        var cut = Render<CreditsPage>();
        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll("[data-testid=drift-row]")));
        var workspace = await WorkspaceAsync(9m, 10m);

        Services.GetRequiredService<CreditEventHub>().Publish(new CreditChange(workspace, 0));

        await Eventually(cut, () => Assert.NotEmpty(cut.FindAll($"[data-testid=drift-row][data-workspace='{workspace}']")));
    }

    private async Task<long> PendingAsync(OpsActor maker)
    {
        var workspace = await WorkspaceAsync(1000m, 1000m);
        var version = (await Service.GetWorkspaceAsync(maker, workspace, CancellationToken.None)).Value.Version;
        var pending = await Service.AdjustAsync(maker, new AdjustmentRequest(workspace, version, new CreditDeltas(800m, 800m, 0, 0), "Bank transfer booked by hand", null), CancellationToken.None);
        Assert.Equal(AdjustmentStatus.PendingApproval, pending.Value.Status);
        return pending.Value.Id;
    }
}
