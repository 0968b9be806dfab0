using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;
using OpsConsole.Core.Overview;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Overview;

/// <summary>The overview's shared snapshot: read while someone watches, the same value for every viewer.</summary>
public sealed class OverviewServiceTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Two_viewers_get_one_snapshot_with_open_runs_failing_checks_drift_and_approvals()
    {
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Deployments:ListenForChanges"] = "false",
            ["Credits:ListenForChanges"] = "false",
        });
        await new DemoSeeder(database.DataSource).SeedAsync(20, Ct);
        var deployments = services.GetRequiredService<IDeploymentService>();
        var runId = (await deployments.StartRunAsync(TestActors.Engineer, RunbookCatalog.RaceConditionFixes, "Overview", Ct)).Value;
        await deployments.RunProbesAsync(TestActors.Engineer, runId, null, Ct);
        var credits = services.GetRequiredService<CreditService>();
        var cedar = (await credits.GetWorkspaceAsync(TestActors.Support, DemoSeeder.WorkspaceId(3), Ct)).Value;
        await credits.AdjustAsync(TestActors.Support, new AdjustmentRequest(cedar.Row.WorkspaceId, cedar.Version, cedar.Proposal.Deltas, "Charged twice for one purchase", null), Ct);
        var overview = services.GetRequiredService<OverviewService>();
        var first = new List<OverviewSnapshot>();
        var second = new List<OverviewSnapshot>();

        using (overview.Subscribe(s => { lock (first) { first.Add(s); } return Task.CompletedTask; }))
        using (overview.Subscribe(s => { lock (second) { second.Add(s); } return Task.CompletedTask; }))
        {
            await overview.RefreshAsync(Ct);
            var snapshot = overview.Current;

            var run = Assert.Single(snapshot.Runs!);
            Assert.Equal(runId, run.Id);
            Assert.Equal("3-credit-consistency/credit-discrepancies-full-formula", run.FailingCheck?.Key);
            Assert.Contains(run.Blockers, b => b.Contains("not passing", StringComparison.Ordinal));
            Assert.Equal([DemoSeeder.WorkspaceId(3), DemoSeeder.WorkspaceId(7), DemoSeeder.WorkspaceId(10)], snapshot.Credits!.Drift.Select(d => d.WorkspaceId).Order());
            Assert.Equal("Cedar Plumbing", Assert.Single(snapshot.Credits.Approvals).WorkspaceName);
            Assert.Equal(0, snapshot.Stripe!.RefundsWaiting);
            Assert.Null(snapshot.ReadError);
            // One read for both viewers: the very same list reached each of them.
            lock (first)
            {
                Assert.Contains(first, s => ReferenceEquals(s.Runs, snapshot.Runs));
            }

            lock (second)
            {
                Assert.Contains(second, s => ReferenceEquals(s.Runs, snapshot.Runs));
            }
        }

        Assert.Equal(0, overview.SubscriberCount);
    }
}
