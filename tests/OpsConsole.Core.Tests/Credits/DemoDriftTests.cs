using Dapper;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Credits;

/// <summary>The demo's three drifted workspaces: each found, explained from the records, and fixed by its proposal.</summary>
public sealed class DemoDriftTests(MarketplaceDatabase database) : CreditTestKit(database), IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    public async Task InitializeAsync() => await new DemoSeeder(DataSource).SeedAsync(20, Ct);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_demo_has_three_drifted_workspaces_each_with_the_right_explanation_and_proposal_and_fixing_them_passes_the_credit_check()
    {
        var drift = Succeeds(await Service.ListDriftAsync(Engineer, Ct));
        Assert.Equal([DemoSeeder.WorkspaceId(3), DemoSeeder.WorkspaceId(7), DemoSeeder.WorkspaceId(10)], drift.Select(d => d.WorkspaceId).Order());
        Assert.All(drift, d => Assert.Equal(d.Balance - (d.TotalPurchased + d.TotalEarned - d.TotalUsed), d.Discrepancy));

        // Charged twice: the records agree with total_used; the balance is 612.50 below the formula. Above the threshold.
        var chargedTwice = Succeeds(await Service.GetWorkspaceAsync(Manager, DemoSeeder.WorkspaceId(3), Ct));
        Assert.Equal(-612.50m, chargedTwice.Row.Discrepancy);
        Assert.Equal((612.50m, 1), (chargedTwice.Explanation.UsedByRecords, chargedTwice.Explanation.CreditPurchases));
        Assert.All(chargedTwice.Explanation.Findings.Where(f => f.Column != "balance"), f => Assert.True(f.Agrees));
        Assert.Contains("612.50 below", chargedTwice.Explanation.Summary, StringComparison.Ordinal);
        Assert.Equal(new CreditDeltas(612.50m, 0, 0, 0), chargedTwice.Proposal.Deltas);
        Assert.True(chargedTwice.Proposal.NeedsApproval);

        // Earnings without total_earned: the column that is off is total_earned, and the fix is there, not in the balance.
        var unrecordedEarnings = Succeeds(await Service.GetWorkspaceAsync(Manager, DemoSeeder.WorkspaceId(7), Ct));
        Assert.Equal(42.00m, unrecordedEarnings.Row.Discrepancy);
        var earned = unrecordedEarnings.Explanation.Findings.Single(f => f.Column == "total_earned");
        Assert.False(earned.Agrees);
        Assert.Equal("earned 42.00 from 3 sales, total_earned says 0.00", earned.Message);
        Assert.Contains("total_earned is off", unrecordedEarnings.Explanation.Summary, StringComparison.Ordinal);
        Assert.Equal(new CreditDeltas(0, 0, 42.00m, 0), unrecordedEarnings.Proposal.Deltas);
        Assert.False(unrecordedEarnings.Proposal.NeedsApproval);

        // A lost deduction: total_used agrees with the one purchase on record; the balance is 18.25 too high.
        var lostDeduction = Succeeds(await Service.GetWorkspaceAsync(Manager, DemoSeeder.WorkspaceId(10), Ct));
        Assert.Equal(18.25m, lostDeduction.Row.Discrepancy);
        Assert.Equal("used 18.25 in 1 credit purchase, total_used says 18.25", lostDeduction.Explanation.Findings.Single(f => f.Column == "total_used").Message);
        Assert.Equal(new CreditDeltas(-18.25m, 0, 0, 0), lostDeduction.Proposal.Deltas);
        Assert.All([chargedTwice, unrecordedEarnings, lostDeduction], w => Assert.Equal(0m, w.Proposal.After.Discrepancy));

        // Fixing them: two apply at once, the large one waits for a second support person.
        var applied = new List<AdjustmentOutcome>();
        foreach (var workspace in new[] { chargedTwice, unrecordedEarnings, lostDeduction })
        {
            applied.Add(Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
                workspace.Row.WorkspaceId, workspace.Version, workspace.Proposal.Deltas, "Demo drift fixed from the records", "SUP-1"), Ct)));
        }

        Assert.Equal([AdjustmentStatus.PendingApproval, AdjustmentStatus.Applied, AdjustmentStatus.Applied], applied.Select(a => a.Status));
        Assert.Single(Succeeds(await Service.ListDriftAsync(Engineer, Ct)));
        Succeeds(await Service.ApproveAsync(Support2, applied[0].Id, "Checked against purchase records", Ct));

        Assert.Empty(Succeeds(await Service.ListDriftAsync(Engineer, Ct)));
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        // The demo deployment run's credit check (the runbook's probe, full formula): 0 rows.
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM workspace_credits WHERE balance != (total_purchased + total_earned - total_used)"));
        Assert.Empty(await MarketplaceInvariants.FindViolationsAsync(connection, Ct));
    }
}
