using Dapper;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Database;
using OpsConsole.Core.Deployments;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Overview;
using OpsConsole.Core.Purchases;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Core.Search;
using OpsConsole.Core.Stripe;
using OpsConsole.Core.Tests.Locks;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.RealMarketplace;

/// <summary>
/// The console on a marketplace as a team that deployed the guide has it: the schema built from the facts with the
/// shipped fix and the app's traffic on it, then the console's migrator (0001 journalled without running, 0002 the
/// drop-in over the shipped fix), then every page's Core reads as the console's runtime login.
/// </summary>
public sealed class ConsoleOnRealMarketplaceTests
{
    private static CancellationToken Ct => CancellationToken.None;

    [Fact]
    public async Task Migrated_over_the_shipped_fix_every_pages_queries_answer_with_the_marketplaces_status_values()
    {
        await using var marketplace = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.Shipped, Ct);
        var scene = await MarketplaceScene.CreateAsync(marketplace.DataSource, buyers: 2, leads: 6, price: 5m, balance: 100, Ct);
        // The app's traffic before the console: a credit purchase through the shipped fix.
        var shipped = await AppCallReplay.BuyWithCreditsAsync(marketplace.AppDataSource, scene.Buyers[0], [scene.LeadIds[0]], 1, Ct);
        Assert.Equal(ReplayStage.Completed, shipped.Stage);

        var migrated = await DatabaseMigrator.MigrateAsync(marketplace.ConnectionString, Ct);

        Assert.DoesNotContain(DatabaseMigrator.MarketplaceSchemaScript, migrated.AppliedScripts);
        Assert.Contains("0002_fix_payment_race_conditions_20260206000001.sql", migrated.AppliedScripts);
        await using var services = TestServices.Build(
            marketplace.Server.RuntimeConnectionString(marketplace.ConnectionString),
            new Dictionary<string, string?> { ["Deployments:ListenForChanges"] = "false", ["Locks:LockTimeout"] = "00:00:00.500" });
        var (buyer, other) = (scene.Buyers[0].WorkspaceId, scene.Buyers[1].WorkspaceId);
        await using var db = await marketplace.DataSource.OpenConnectionAsync(Ct);

        // The console's own traffic through the drop-in, and purchases in the marketplace's refund statuses.
        var purchases = services.GetRequiredService<IPurchaseService>();
        var bought = await purchases.PurchaseWithCreditsAsync(other, [scene.LeadIds[1]], "real-marketplace-test", Ct);
        Assert.Equal(PurchaseOutcome.Completed, bought.Outcome);
        var card = await purchases.ReserveForStripeAsync(other, [scene.LeadIds[2]], "real-marketplace-test", Ct);
        Assert.Equal(PurchaseOutcome.Reserved, card.Outcome);
        var partlyRefunded = await db.QuerySingleAsync<Guid>("""
            WITH p AS (
                INSERT INTO marketplace_purchases (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, status,
                                                   refund_amount, created_at, completed_at)
                VALUES (@W, @U, 1, 5, 'stripe', 'partially_refunded', 2.5, now(), now()), (@W, @U, 1, 5, 'stripe', 'refunded', 5, now(), now())
                RETURNING id, status)
            SELECT id FROM p WHERE status = 'partially_refunded'
            """, new { W = other, U = scene.Buyers[1].UserId });
        // A balance off the formula by 7 for the credit views and checks to find.
        await db.ExecuteAsync("UPDATE workspace_credits SET balance = balance + 7 WHERE workspace_id = @W", new { W = buyer });

        // Metrics: completed and partially_refunded kept their sale; refunded ended without one; the card checkout is pending.
        var metrics = await services.GetRequiredService<PurchaseMetricsQuery>().ReadAsync(MetricsWindow.OneHour, DateTimeOffset.UtcNow, Ct);
        Assert.Equal((5L, 3L, 1L, 1L), (metrics.Current.Created, metrics.Current.Completed, metrics.Current.Failed, metrics.Current.Pending));

        // Credits: the drifted workspace, by the full formula on numeric columns.
        var drift = await services.GetRequiredService<CreditService>().ListDriftAsync(TestActors.Support, Ct);
        Assert.True(drift.Succeeded, drift.Refusal?.Message);
        var drifted = Assert.Single(drift.Value!);
        Assert.Equal((buyer, 7m), (drifted.WorkspaceId, drifted.Discrepancy));

        // Stripe: the card checkout is pending with its leads' reservation.
        var stripe = await services.GetRequiredService<StripeOverview>().GetAsync(fresh: true, Ct);
        var pending = Assert.Single(stripe.Pending);
        Assert.Equal((card.PurchaseId!.Value, 1), (pending.PurchaseId, pending.LeadCount));

        // Search and the purchase's page.
        var search = await services.GetRequiredService<SearchResolver>().ResolveAsync(TestActors.Support, partlyRefunded.ToString(), Ct);
        Assert.True(search.Succeeded, search.Refusal?.Message);
        Assert.NotNull(search.Value!.Target);
        var detail = await services.GetRequiredService<ObjectDetails>().GetPurchaseAsync(TestActors.Support, bought.PurchaseId!.Value, Ct);
        Assert.True(detail.Succeeded, detail.Refusal?.Message);
        Assert.Equal("completed", detail.Value!.Purchase.Status);
        Assert.Equal(scene.LeadIds[1], Assert.Single(detail.Value.Items).LeadId);

        // Locks: a row lock on a lead, named with its seller, read through RLS as the runtime login.
        var seller = await db.QuerySingleAsync<Guid>("SELECT workspace_id FROM leads WHERE id = @Id", new { Id = scene.LeadIds[3] });
        await using (var lockScene = new LockScene(marketplace.ConnectionString))
        {
            var holder = await lockScene.OpenAsync("real holder");
            var waiter = await lockScene.OpenAsync("real waiter");
            await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = scene.LeadIds[3] });
            waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = scene.LeadIds[3] });
            await lockScene.WaitUntilWaitingAsync(waiter);
            var snapshot = await LockKit.SnapshotWhenAsync(services.GetRequiredService<LockSnapshotQuery>(), s => s.Rows.ContainsKey(waiter.Pid));
            Assert.Null(snapshot.TimedOut);
            var row = snapshot.Rows[waiter.Pid];
            Assert.Equal<(string?, Guid?, Guid?, string?)>(("lead", scene.LeadIds[3], seller, null), (row.Kind, row.RowId, row.OwnerId, row.Unresolved));
        }

        // Overview: every card read without an error.
        var overview = services.GetRequiredService<OverviewService>();
        await overview.RefreshAsync(Ct);
        Assert.Null(overview.Current.ReadError);

        // The run's checks: every one answers (none fails on the database), the drop-in's functions are counted and
        // granted, and the credit checks find exactly the drifted workspace.
        var deployments = services.GetRequiredService<IDeploymentService>();
        var run = await deployments.StartRunAsync(TestActors.Engineer, RunbookCatalog.RaceConditionFixes, null, Ct);
        Assert.True(run.Succeeded, run.Refusal?.Message);
        var checks = await deployments.RunProbesAsync(TestActors.Engineer, run.Value, null, Ct);
        Assert.True(checks.Succeeded, checks.Refusal?.Message);
        Assert.All(checks.Value!, c => Assert.DoesNotContain("Failed:", c.Verdict.Message, StringComparison.Ordinal));
        var failing = checks.Value!.Where(c => !c.Verdict.Passed).ToList();
        Assert.Equal(2, failing.Count);
        Assert.All(failing, c => Assert.Equal((1, (object?)buyer), (c.Output.RowCount, c.Output.Rows[0][0])));
        Assert.All(failing, c => Assert.Contains("FROM workspace_credits", c.Sql, StringComparison.Ordinal));
    }
}
