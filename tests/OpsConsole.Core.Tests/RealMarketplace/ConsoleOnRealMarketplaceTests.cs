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
/// A marketplace as a team that deployed the guide has it: the schema built from the facts with the shipped fix and
/// the app's traffic on it, then the console's migrator (0001 journalled without running, 0002 the drop-in over the
/// shipped fix), then the console's own traffic, purchases in the marketplace's refund statuses, a pending card
/// checkout and one drifted balance. Services run as the console's runtime login.
/// </summary>
public sealed class MigratedRealMarketplace : IAsyncLifetime
{
    private RealMarketplaceDatabase? _marketplace;

    public RealMarketplaceDatabase Marketplace => _marketplace!;

    public ServiceProvider Services { get; private set; } = null!;

    public MarketplaceScene Scene { get; private set; } = null!;

    public MigrationResult Migrated { get; private set; } = null!;

    public Guid Drifted => Scene.Buyers[0].WorkspaceId;

    public Guid Bought { get; private set; }

    public Guid CardCheckout { get; private set; }

    public Guid PartlyRefunded { get; private set; }

    public async Task InitializeAsync()
    {
        var ct = CancellationToken.None;
        _marketplace = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.Shipped, ct);
        Scene = await MarketplaceScene.CreateAsync(Marketplace.DataSource, buyers: 2, leads: 6, price: 5m, balance: 100, ct);
        // The app's traffic before the console: a credit purchase through the shipped fix.
        var shipped = await AppCallReplay.BuyWithCreditsAsync(Marketplace.AppDataSource, Scene.Buyers[0], [Scene.LeadIds[0]], 1, ct);
        Assert.Equal(ReplayStage.Completed, shipped.Stage);

        Migrated = await DatabaseMigrator.MigrateAsync(Marketplace.ConnectionString, ct);

        Services = TestServices.Build(
            Marketplace.Server.RuntimeConnectionString(Marketplace.ConnectionString),
            new Dictionary<string, string?> { ["Deployments:ListenForChanges"] = "false", ["Locks:LockTimeout"] = "00:00:00.500" });
        var other = Scene.Buyers[1].WorkspaceId;
        var purchases = Services.GetRequiredService<IPurchaseService>();
        var bought = await purchases.PurchaseWithCreditsAsync(other, [Scene.LeadIds[1]], "real-marketplace-test", ct);
        Assert.Equal(PurchaseOutcome.Completed, bought.Outcome);
        Bought = bought.PurchaseId!.Value;
        var card = await purchases.ReserveForStripeAsync(other, [Scene.LeadIds[2]], "real-marketplace-test", ct);
        Assert.Equal(PurchaseOutcome.Reserved, card.Outcome);
        CardCheckout = card.PurchaseId!.Value;
        await using var db = await Marketplace.DataSource.OpenConnectionAsync(ct);
        PartlyRefunded = await db.QuerySingleAsync<Guid>("""
            WITH p AS (
                INSERT INTO marketplace_purchases (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, status,
                                                   refund_amount, created_at, completed_at)
                VALUES (@W, @U, 1, 5, 'stripe', 'partially_refunded', 2.5, now(), now()), (@W, @U, 1, 5, 'stripe', 'refunded', 5, now(), now())
                RETURNING id, status)
            SELECT id FROM p WHERE status = 'partially_refunded'
            """, new { W = other, U = Scene.Buyers[1].UserId });
        // A balance off the formula by 7 for the credit views and checks to find.
        await db.ExecuteAsync("UPDATE workspace_credits SET balance = balance + 7 WHERE workspace_id = @W", new { W = Drifted });
    }

    public async Task DisposeAsync()
    {
        if (Services is not null)
        {
            await Services.DisposeAsync();
        }

        if (_marketplace is not null)
        {
            await _marketplace.DisposeAsync();
        }
    }
}

/// <summary>Every page's Core reads on <see cref="MigratedRealMarketplace"/>, one test per page.</summary>
public sealed class ConsoleOnRealMarketplaceTests(MigratedRealMarketplace market) : IClassFixture<MigratedRealMarketplace>
{
    private static CancellationToken Ct => CancellationToken.None;

    private T Get<T>() where T : notnull => market.Services.GetRequiredService<T>();

    [Fact]
    public void The_migrator_journals_the_marketplace_schema_without_running_it_and_applies_the_drop_in_over_the_shipped_fix()
    {
        Assert.DoesNotContain(DatabaseMigrator.MarketplaceSchemaScript, market.Migrated.AppliedScripts);
        Assert.Contains("0002_fix_payment_race_conditions_20260206000001.sql", market.Migrated.AppliedScripts);
    }

    [Fact]
    public async Task Metrics_count_completed_and_partially_refunded_as_kept_refunded_as_ended_and_the_card_checkout_as_pending()
    {
        var metrics = await Get<PurchaseMetricsQuery>().ReadAsync(MetricsWindow.OneHour, DateTimeOffset.UtcNow, Ct);

        Assert.Equal((5L, 3L, 1L, 1L), (metrics.Current.Created, metrics.Current.Completed, metrics.Current.Failed, metrics.Current.Pending));
    }

    [Fact]
    public async Task Credits_list_the_drifted_workspace_by_the_full_formula()
    {
        var drift = await Get<CreditService>().ListDriftAsync(TestActors.Support, Ct);

        Assert.True(drift.Succeeded, drift.Refusal?.Message);
        var drifted = Assert.Single(drift.Value!);
        Assert.Equal((market.Drifted, 7m), (drifted.WorkspaceId, drifted.Discrepancy));
    }

    [Fact]
    public async Task Stripe_shows_the_pending_card_checkout()
    {
        var stripe = await Get<StripeOverview>().GetAsync(fresh: true, Ct);

        var pending = Assert.Single(stripe.Pending);
        Assert.Equal((market.CardCheckout, 1), (pending.PurchaseId, pending.LeadCount));
    }

    [Fact]
    public async Task Search_finds_a_purchase_and_its_page_shows_its_status_and_items()
    {
        var search = await Get<SearchResolver>().ResolveAsync(TestActors.Support, market.PartlyRefunded.ToString(), Ct);
        Assert.True(search.Succeeded, search.Refusal?.Message);
        Assert.NotNull(search.Value!.Target);

        var detail = await Get<ObjectDetails>().GetPurchaseAsync(TestActors.Support, market.Bought, Ct);

        Assert.True(detail.Succeeded, detail.Refusal?.Message);
        Assert.Equal("completed", detail.Value!.Purchase.Status);
        Assert.Equal(market.Scene.LeadIds[1], Assert.Single(detail.Value.Items).LeadId);
    }

    [Fact]
    public async Task Locks_name_a_locked_lead_with_its_seller_read_through_the_marketplaces_row_level_security()
    {
        var lead = market.Scene.LeadIds[3];
        await using var db = await market.Marketplace.DataSource.OpenConnectionAsync(Ct);
        var seller = await db.QuerySingleAsync<Guid>("SELECT workspace_id FROM leads WHERE id = @Id", new { Id = lead });
        var purchase = await LockKit.ReserveAsync(market.Marketplace.DataSource, market.Scene.Buyers[0].WorkspaceId, lead);
        try
        {
            // The console's login sees its own sessions only (no pg_monitor here): the waiter is a completion it makes,
            // waiting for a lead row a superuser session holds.
            await using var holders = new LockScene(market.Marketplace.ConnectionString);
            await using var console = new LockScene(market.Marketplace.Server.RuntimeConnectionString(market.Marketplace.ConnectionString));
            var holder = await holders.OpenAsync("real holder");
            var waiter = await console.OpenAsync("real checkout");
            await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = lead });
            waiter.Start(
                "SELECT * FROM complete_credit_lead_purchase(p_purchase_id := @P, p_workspace_id := @W, p_credit_amount := 5)",
                new { P = purchase, W = market.Scene.Buyers[0].WorkspaceId });
            await holders.WaitUntilWaitingAsync(waiter);

            var snapshot = await LockKit.SnapshotWhenAsync(Get<LockSnapshotQuery>(), s => s.Rows.ContainsKey(waiter.Pid));

            Assert.Null(snapshot.TimedOut);
            var row = snapshot.Rows[waiter.Pid];
            Assert.Equal<(string?, Guid?, Guid?, string?)>(("lead", lead, seller, null), (row.Kind, row.RowId, row.OwnerId, row.Unresolved));
        }
        finally
        {
            // The other tests count pending purchases and reservations: this one leaves none.
            await db.ExecuteAsync("""
                DELETE FROM marketplace_purchases WHERE id = @P;
                UPDATE leads SET reserved_for_workspace_id = NULL, reserved_until = NULL WHERE id = @L;
                """, new { P = purchase, L = lead });
        }
    }

    [Fact]
    public async Task The_overview_reads_every_card_without_an_error()
    {
        var overview = Get<OverviewService>();

        await overview.RefreshAsync(Ct);

        Assert.Null(overview.Current.ReadError);
        Assert.Contains(overview.Current.Credits!.Drift, d => d.WorkspaceId == market.Drifted);
    }

    [Fact]
    public async Task The_runs_checks_all_answer_count_the_drop_ins_functions_and_find_the_drift_and_the_refunds()
    {
        var deployments = Get<IDeploymentService>();
        var run = await deployments.StartRunAsync(TestActors.Engineer, RunbookCatalog.RaceConditionFixes, null, Ct);
        Assert.True(run.Succeeded, run.Refusal?.Message);

        var checks = await deployments.RunProbesAsync(TestActors.Engineer, run.Value, null, Ct);

        Assert.True(checks.Succeeded, checks.Refusal?.Message);
        Assert.All(checks.Value!, c => Assert.DoesNotContain("Failed:", c.Verdict.Message, StringComparison.Ordinal));
        Assert.All(checks.Value!.Take(3), c => Assert.True(c.Verdict.Passed, c.Verdict.Message));
        var credit = checks.Value!.Where(c => c.Sql.Contains("FROM workspace_credits", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, credit.Count);
        Assert.All(credit, c => Assert.Equal((false, 1, (object?)market.Drifted), (c.Verdict.Passed, c.Output.RowCount, c.Output.Rows[0][0])));
        // Ended in the last hour: two completed, one partially_refunded (kept), one refunded; the pending card checkout is not counted.
        var success = Assert.Single(checks.Value!, c => c.Sql.Contains("success_rate_percent", StringComparison.Ordinal));
        Assert.Equal((75m, 4L), (Convert.ToDecimal(success.Output.Rows[0][0], System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt64(success.Output.Rows[0][1], System.Globalization.CultureInfo.InvariantCulture)));
    }
}
