using Bunit;
using OpsConsole.Components.Pages.Overview;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Overview;
using OpsConsole.Core.Purchases;
using OpsConsole.Core.Stripe;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Overview;

/// <summary>The overview's cards from hand-made shared snapshots: the quiet state, each card's alert, the order per role, the links.</summary>
public sealed class OverviewBoardTests : ConsoleBunitContext
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly IReadOnlyList<KpiDefinition> Definitions = KpiDefinition.From(new MetricsOptions());
    private static readonly Guid Cedar = Guid.Parse("00000000-0000-4000-8000-000000000003");

    [Fact]
    public void When_all_is_well_the_overview_is_quiet_and_every_card_reads_ok()
    {
        var cut = Board(Calm(), OpsRoles.Manager);

        Assert.Equal("All checks passing, nothing waiting.", cut.Find("[data-testid=overview-quiet]").TextContent.Trim());
        Assert.Empty(cut.FindAll("[data-testid=overview-attention]"));
        Assert.All(cut.FindAll("[data-testid=overview-card]"), card => Assert.Equal("ok", card.GetAttribute("data-state")));
        Assert.Equal(7, cut.FindAll("[data-testid=overview-card]").Count);
    }

    [Theory]
    [InlineData(OpsRoles.Engineer, "deployments,locks,kpis,integrity,credits,refunds,sweep")]
    [InlineData(OpsRoles.Support, "credits,refunds,sweep,integrity,kpis,deployments,locks")]
    [InlineData(OpsRoles.Manager, "kpis,deployments,credits,integrity,locks,refunds,sweep")]
    public void Each_role_sees_first_what_it_acts_on(string role, string order)
    {
        var cut = Board(Calm(), role);

        Assert.Equal(order, string.Join(",", cut.FindAll("[data-testid=overview-card]").Select(c => c.GetAttribute("data-card"))));
    }

    [Fact]
    public void A_conflict_rate_past_its_threshold_shows_pending_then_alert_on_the_kpi_card()
    {
        var pending = Board(Calm() with { Kpis = Kpis(conflict: (4.2, new KpiStatus(KpiState.Warn, KpiState.Alert, 1, 2))) }, OpsRoles.Manager);
        var line = pending.Find("[data-testid=overview-kpi][data-key=purchase-conflict-rate]");
        Assert.Equal("warn", line.GetAttribute("data-state"));
        Assert.Contains("ALERT pending (1 of 2)", line.TextContent, StringComparison.Ordinal);

        var alert = Board(Calm() with { Kpis = Kpis(conflict: (4.2, new KpiStatus(KpiState.Alert, KpiState.Alert, 2, 2))) }, OpsRoles.Manager);
        Assert.Equal("alert", Card(alert, "kpis").GetAttribute("data-state"));
        Assert.Contains("Purchase conflict rate off target", alert.Find("[data-testid=overview-attention]").TextContent + Card(alert, "kpis").TextContent, StringComparison.Ordinal);
        Assert.Equal("/purchases", alert.Find("[data-testid=overview-kpi][data-key=purchase-conflict-rate] a").GetAttribute("href"));
    }

    [Fact]
    public void A_failing_check_of_an_open_run_links_to_that_check_on_the_run_page()
    {
        var run = new OverviewRun(7, "Race-condition fixes", 12, 40, 8, 9, ["1 check not passing on its latest run: Purchase conflicts."],
            new OverviewCheck("purchase-conflicts", "Purchase conflicts", "Expected at most 1, got 4.2"));
        var cut = Board(Calm() with { Runs = [run] }, OpsRoles.Manager);

        Assert.Equal("alert", Card(cut, "deployments").GetAttribute("data-state"));
        var link = cut.Find("[data-testid=run-failing-check] a");
        Assert.Equal("/deployments/7#check-purchase-conflicts", link.GetAttribute("href"));
        Assert.Contains("Expected at most 1, got 4.2", link.TextContent, StringComparison.Ordinal);
        Assert.Contains("12/40 items, 8/9 checks passing", cut.Find("[data-testid=run]").TextContent, StringComparison.Ordinal);
        Assert.Contains("Blocks approval: 1 check not passing", cut.Find("[data-testid=run-blocker]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_in_progress_is_not_an_alarm_but_one_ready_for_approval_waits_for_the_manager()
    {
        var inProgress = Board(Calm() with { Runs = [new OverviewRun(3, "Demo run", 3, 40, 0, 9, ["Nobody has signed as deployer yet."], null)] }, OpsRoles.Manager);
        Assert.Equal("ok", Card(inProgress, "deployments").GetAttribute("data-state"));
        Assert.NotEmpty(inProgress.FindAll("[data-testid=overview-quiet]"));

        var ready = Board(Calm() with { Runs = [new OverviewRun(3, "Demo run", 40, 40, 9, 9, [], null)] }, OpsRoles.Manager);
        Assert.Equal("warn", Card(ready, "deployments").GetAttribute("data-state"));
        Assert.Contains("ready for approval", ready.Find("[data-testid=run]").TextContent, StringComparison.Ordinal);
        Assert.Equal("/deployments/3", ready.Find("[data-testid=run] a").GetAttribute("href"));
    }

    [Fact]
    public void A_long_lock_wait_links_to_the_blocking_session_with_the_row_named()
    {
        var locks = new OverviewLocks(2, TimeSpan.FromSeconds(75), WaitLevel.Alert, 4242, "demo slow checkout", "lead 1b2c (seller Acme Roofing)", null);
        var cut = Board(Calm() with { Locks = locks }, OpsRoles.Engineer);

        var card = Card(cut, "locks");
        Assert.Equal("alert", card.GetAttribute("data-state"));
        Assert.Equal("locks", cut.FindAll("[data-testid=overview-card]")[1].GetAttribute("data-card"));
        Assert.Contains("2 sessions waiting; the longest for 75 s.", card.TextContent, StringComparison.Ordinal);
        Assert.Contains("on lead 1b2c (seller Acme Roofing)", card.TextContent, StringComparison.Ordinal);
        Assert.Equal("/locks?pid=4242", cut.Find("[data-testid=locks-blocker] a").GetAttribute("href"));
    }

    [Fact]
    public void Drifted_balances_link_to_their_workspace_and_approvals_wait_for_support()
    {
        var credits = new OverviewCredits([new OverviewDrift(Cedar, "Cedar Plumbing", -612.50m)], [new OverviewApproval(5, Cedar, "Cedar Plumbing", "balance +612.50", "support")]);
        var cut = Board(Calm() with { Credits = credits }, OpsRoles.Support);

        Assert.Equal("credits", cut.FindAll("[data-testid=overview-card]")[0].GetAttribute("data-card"));
        Assert.Equal("alert", Card(cut, "credits").GetAttribute("data-state"));
        var drift = cut.Find("[data-testid=drift-link] a");
        Assert.Equal($"/credits?workspace={Cedar}", drift.GetAttribute("href"));
        Assert.Contains("Cedar Plumbing: off by -612.50", drift.TextContent, StringComparison.Ordinal);
        Assert.Contains("#5 Cedar Plumbing: balance +612.50, by support, waits for approval", cut.Find("[data-testid=approval-link]").TextContent, StringComparison.Ordinal);
        Assert.Contains("1 drifted balance; 1 adjustment waiting for approval.", Card(cut, "credits").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Integrity_checks_that_do_not_read_zero_alert()
    {
        var integrity = new IntegrityReport([new InvariantViolation(1, "lead x", "sold_count = 2")], []);
        var kpis = Kpis() with { Integrity = integrity };
        var cut = Board(Calm() with { Kpis = kpis }, OpsRoles.Manager);

        Assert.Equal("alert", Card(cut, "integrity").GetAttribute("data-state"));
        Assert.Equal("alert", cut.Find("[data-testid=integrity-double-sold]").GetAttribute("data-state"));
        Assert.Equal("ok", cut.Find("[data-testid=integrity-credit-discrepancies]").GetAttribute("data-state"));
    }

    [Fact]
    public void Refunds_waiting_and_a_late_expiry_sweep_ask_for_attention()
    {
        var stripe = new OverviewStripe(2, 61.50m, Now.AddMinutes(-3), new ExpirySweep("i", Now.AddMinutes(-5), Now.AddMinutes(-5), 1), 4, TimeSpan.FromSeconds(30));
        var cut = Board(Calm() with { Stripe = stripe }, OpsRoles.Support);

        Assert.Equal("warn", Card(cut, "refunds").GetAttribute("data-state"));
        Assert.Contains("2 payments (61.50) paid after their leads were sold", Card(cut, "refunds").TextContent, StringComparison.Ordinal);
        Assert.Equal("/stripe", cut.Find("[data-testid=refunds-link] a").GetAttribute("href"));
        Assert.Equal("warn", Card(cut, "sweep").GetAttribute("data-state"));
        Assert.Contains("Last sweep 5 min ago", Card(cut, "sweep").TextContent, StringComparison.Ordinal);
        Assert.Contains("Refund queue, Reservation expiry", cut.Find("[data-testid=overview-attention]").TextContent, StringComparison.Ordinal);
    }

    private IRenderedComponent<OverviewBoard> Board(OverviewSnapshot snapshot, string role) =>
        Render<OverviewBoard>(p => p.Add(b => b.Snapshot, snapshot).Add(b => b.Role, role).Add(b => b.Now, Now));

    private static AngleSharp.Dom.IElement Card(IRenderedComponent<OverviewBoard> cut, string key) => cut.Find($"[data-testid=overview-card][data-card={key}]");

    private static OverviewSnapshot Calm() => new()
    {
        Kpis = Kpis(),
        Locks = new OverviewLocks(0, TimeSpan.Zero, WaitLevel.Ok, null, null, null, null),
        Runs = [],
        Credits = new OverviewCredits([], []),
        Stripe = new OverviewStripe(0, 0m, null, new ExpirySweep("i", Now.AddSeconds(-12), Now.AddSeconds(-12), 0), 0, TimeSpan.FromSeconds(30)),
    };

    private static OverviewKpis Kpis((double Value, KpiStatus Status)? conflict = null)
    {
        KpiReading Reading(Kpi kpi, double value) => new(Definitions.Single(d => d.Kpi == kpi), value, value, new KpiStatus(KpiState.Ok, KpiState.Ok, 0, 2));
        var conflictReading = conflict is { } c
            ? new KpiReading(Definitions.Single(d => d.Kpi == Kpi.ConflictRate), c.Value, 0, c.Status)
            : Reading(Kpi.ConflictRate, 0);
        return new OverviewKpis(MetricsWindow.Recent(TimeSpan.FromMinutes(5)),
            [Reading(Kpi.SuccessRate, 99.8), conflictReading, Reading(Kpi.PurchaseTime, 12), Reading(Kpi.WebhookDuplicateRate, 1.5)],
            new IntegrityReport([], []), Now);
    }
}
