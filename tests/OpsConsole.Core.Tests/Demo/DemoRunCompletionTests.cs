using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Demo;

/// <summary>The demo tells a story that ends well: drifts reconciled, the demo run completes with the calm baseline running.</summary>
public sealed class DemoRunCompletionTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Once_the_demo_drifts_are_reconciled_the_demo_run_completes_with_its_checks_passing_under_the_calm_baseline()
    {
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["ConnectionStrings:MarketplaceMigrations"] = database.SuperuserConnectionString,
            ["Deployments:ListenForChanges"] = "false",
            ["Credits:ListenForChanges"] = "false",
            ["Demo:Enabled"] = "true",
            ["Demo:Buyers"] = "6",
            ["Demo:PurchasesPerSecond"] = "30",
            ["Demo:LeadCount"] = "1500",
        });
        await services.GetRequiredService<DemoSeeder>().SeedAsync(1500, Ct);
        var stats = services.GetRequiredService<DemoTrafficStats>();
        var traffic = services.GetServices<IHostedService>().OfType<DemoTrafficService>().Single();
        var credits = services.GetRequiredService<CreditService>();
        var deployments = services.GetRequiredService<IDeploymentService>();
        await traffic.StartAsync(Ct);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (Completed(stats) < 200 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.True(Completed(stats) >= 200, "The calm baseline completed fewer than 200 purchases in 30 s.");

            // Support reconciles the three drifts; the large one waits for support2.
            var drift = (await credits.ListDriftAsync(TestActors.Support, Ct)).Value;
            Assert.Equal(3, drift.Count);
            var plan = (await credits.PlanBulkAsync(TestActors.Support, [.. drift.Select(d => d.WorkspaceId)], Ct)).Value;
            var applied = (await credits.ApplyBulkAsync(TestActors.Support,
                [.. plan.Rows.Select(r => new BulkItem(r.Row.WorkspaceId, r.Row.Version, r.Deltas))], "Demo drift fixed from the records", Ct)).Value;
            foreach (var waiting in applied.Rows.Where(r => r.Outcome?.Status == AdjustmentStatus.PendingApproval))
            {
                var approved = await credits.ApproveAsync(TestActors.For("support2", OpsRoles.Support), waiting.Outcome!.Id, "Checked against purchase records", Ct);
                Assert.True(approved.Succeeded, approved.Refusal?.Message);
            }

            Assert.Empty((await credits.ListDriftAsync(TestActors.Support, Ct)).Value);

            // The demo run: every final item ticked, every check run and passing, three people sign.
            var runId = await services.GetRequiredService<DeploymentDemoSeed>().EnsureOpenRunAsync(Ct);
            var run = (await deployments.GetRunAsync(TestActors.Engineer, runId, Ct)).Value;
            foreach (var item in run.Runbook.ItemsOf(SectionRole.FinalChecklist))
            {
                Assert.True((await deployments.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.Checked, null, null, Ct)).Succeeded);
            }

            var checks = (await deployments.RunProbesAsync(TestActors.Engineer, runId, null, Ct)).Value;
            Assert.All(checks, c => Assert.True(c.Verdict.Passed, $"{c.ProbeKey}: {c.Verdict.Message}"));
            Assert.True((await deployments.SignAsync(TestActors.Engineer, runId, SignOffKind.Deployed, Ct)).Succeeded);
            Assert.True((await deployments.SignAsync(TestActors.Engineer2, runId, SignOffKind.Verified, Ct)).Succeeded);
            var approval = await deployments.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct);
            Assert.True(approval.Succeeded, approval.Refusal?.Message);
            Assert.Equal(DeploymentStatus.Complete, (await deployments.GetRunAsync(TestActors.Manager, runId, Ct)).Value.Status);
        }
        finally
        {
            await traffic.StopAsync(Ct);
        }
    }

    private static long Completed(DemoTrafficStats stats) =>
        stats.Snapshot().Outcomes.Where(o => o.Outcome == OpsConsole.Core.Purchases.PurchaseOutcome.Completed).Sum(o => o.Count);
}
