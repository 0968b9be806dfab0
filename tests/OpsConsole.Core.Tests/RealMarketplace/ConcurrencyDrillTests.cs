using Dapper;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;
using Xunit.Abstractions;

namespace OpsConsole.Core.Tests.RealMarketplace;

/// <summary>
/// The concurrency drill on the marketplace's own schema: it finds the shipped fix's failures and none on ours,
/// leaves no drill row and no other row changed however it ends, and refuses targets it must not touch.
/// Each database also holds a non-drill scene (a buyer with a purchase) that must come out byte for byte the same.
/// </summary>
public sealed class ConcurrencyDrillTests(ITestOutputHelper output)
{
    private static readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromMinutes(10)).Token;

    private static readonly string[] Tables =
    [
        "workspaces", "auth.users", "users", "partners", "global_topics", "queries", "leads", "workspace_credits",
        "marketplace_purchases", "marketplace_purchase_items", "audit_logs",
    ];

    [Fact]
    public async Task Drill_on_the_shipped_fix_reports_leads_sold_twice_and_retries_charged_again()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.Shipped, Ct);
        var before = await WithOtherRowsAsync(db);

        var report = (await Drill(db).RunAsync(new DrillParameters(), progress: null, Ct)).Value;
        Log(report);

        Assert.True(report[DrillFailure.LeadSoldMoreThanOnce].Count > 0, "the drill found no lead sold twice on the shipped fix");
        Assert.NotEmpty(report[DrillFailure.LeadSoldMoreThanOnce].Examples);
        Assert.True(report[DrillFailure.RetryChargedAgain].Count > 0, "the drill found no retry charged again on the shipped fix");
        Assert.True(report[DrillFailure.ChargeOffItems].Count > 0, "buyers charged again by retries were not found off their items");
        Assert.Equal(report.Parameters.Rounds, report.LateCardPayments);
        Assert.True(report[DrillFailure.LateCardPaymentSoldAgain].Count > 0, "no late card payment was found sold again");
        Assert.False(report.Clean);
        Assert.True(report.RowsRemoved > 0);
        Assert.Equal(before, await SnapshotAsync(db));
    }

    [Theory]
    [InlineData(MarketplaceFix.DropIn)]
    [InlineData(MarketplaceFix.ShippedThenDropIn)]
    public async Task Drill_on_the_drop_in_reports_none_of_the_failures(MarketplaceFix fix)
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(fix, Ct);
        var before = await WithOtherRowsAsync(db);

        var report = (await Drill(db).RunAsync(new DrillParameters(), progress: null, Ct)).Value;
        Log(report);

        Assert.True(report.CompletedPurchases > 0, "nobody bought anything");
        Assert.All(report.Findings, f => Assert.Equal(0, f.Count));
        Assert.True(report.Clean);
        // Every round's card payment came after a credit buyer took its lead, and each ended refund_required.
        Assert.Equal(report.Parameters.Rounds, report.LateCardPayments);
        Assert.Equal(report.Parameters.Rounds, report.RefundRequired);
        Assert.Equal(before, await SnapshotAsync(db));
    }

    [Fact]
    public async Task A_cancelled_drill_removes_its_rows_and_changes_no_other()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        var before = await WithOtherRowsAsync(db);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var progress = new CancelAtRound(cancel, round: 2);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Drill(db).RunAsync(new DrillParameters(Buyers: 6, Leads: 4, Rounds: 3), progress, cancel.Token));

        Assert.True(progress.SawRowsCreated, "the drill was cancelled before it made its rows");
        Assert.Equal(before, await SnapshotAsync(db));
    }

    [Fact]
    public async Task Cleanup_finds_the_rows_a_crashed_drill_left_by_their_tag()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        var before = await WithOtherRowsAsync(db);
        // A drill that died after its set-up and one purchase: rows in every table it writes, audit rows included.
        var scene = await DrillRows.CreateAsync(db.DataSource, DrillRows.NewTag(), new DrillParameters(Buyers: 2, Leads: 2, Rounds: 1), Ct);
        var bought = await AppCallReplay.BuyWithCreditsAsync(db.DataSource, scene.Buyers[0], scene.LeadIds, completionCalls: 1, Ct);
        Assert.Equal(ReplayStage.Completed, bought.Stage);
        Assert.NotEqual(before, await SnapshotAsync(db));

        var removed = await Drill(db).CleanupAsync(drillId: null, Ct);

        Assert.True(removed.Value > 0);
        Assert.Equal(before, await SnapshotAsync(db));
    }

    [Fact]
    public async Task Drill_refuses_a_database_not_listed_as_staging_and_writes_nothing()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        var before = await WithOtherRowsAsync(db);
        var drill = new ConcurrencyDrill(db.DataSource, new DrillOptions { AllowedDatabases = ["staging_marketplace"] });

        var run = await drill.RunAsync(new DrillParameters(), progress: null, Ct);
        var cleanup = await drill.CleanupAsync(drillId: null, Ct);

        Assert.Equal(RefusalKind.Forbidden, run.Refusal?.Kind);
        Assert.Contains($"'{DatabaseName(db)}' is not (listed: staging_marketplace)", run.Refusal!.Message, StringComparison.Ordinal);
        Assert.Contains("Drill:AllowedDatabases", run.Refusal.Message, StringComparison.Ordinal);
        Assert.Equal(RefusalKind.Forbidden, cleanup.Refusal?.Kind);
        Assert.Equal(before, await SnapshotAsync(db));
    }

    [Fact]
    public async Task Drill_refuses_a_database_without_the_purchase_functions()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.None, Ct);
        var before = await SnapshotAsync(db);

        var run = await Drill(db).RunAsync(new DrillParameters(), progress: null, Ct);

        Assert.Equal(RefusalKind.Rule, run.Refusal?.Kind);
        Assert.Contains("validate_and_lock_leads_for_purchase()", run.Refusal!.Message, StringComparison.Ordinal);
        Assert.Contains("leads.marketplace_status", run.Refusal.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync(db));
    }

    [Fact]
    public async Task Drill_refuses_a_database_without_the_marketplace_tables()
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateEmptyDatabaseAsync(Ct);
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            var drill = new ConcurrencyDrill(dataSource, new DrillOptions { AllowedDatabases = [new NpgsqlConnectionStringBuilder(connectionString).Database!] });

            var run = await drill.RunAsync(new DrillParameters(), progress: null, Ct);

            Assert.Equal(RefusalKind.Rule, run.Refusal?.Kind);
            Assert.Contains("public.leads", run.Refusal!.Message, StringComparison.Ordinal);
            Assert.Contains("auth.users", run.Refusal.Message, StringComparison.Ordinal);
        }
        finally
        {
            await server.DropDatabaseAsync(connectionString);
        }
    }

    [Fact]
    public async Task Drill_refuses_parameters_it_cannot_run_and_names_the_one()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        var before = await SnapshotAsync(db);
        (DrillParameters Parameters, string Named)[] cases =
        [
            (new DrillParameters(Buyers: 1), "Buyers"), (new DrillParameters(Leads: 0), "Leads"), (new DrillParameters(Rounds: 0), "Rounds"),
            (new DrillParameters(Retries: 9), "Retries"), (new DrillParameters(Price: 0.00001m), "Price"),
        ];

        foreach (var (parameters, named) in cases)
        {
            var run = await Drill(db).RunAsync(parameters, progress: null, Ct);
            Assert.Equal(RefusalKind.Invalid, run.Refusal?.Kind);
            Assert.StartsWith(named, run.Refusal!.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, await SnapshotAsync(db));
    }

    private static ConcurrencyDrill Drill(RealMarketplaceDatabase db) =>
        new(db.DataSource, new DrillOptions { AllowedDatabases = ["some_other_db", DatabaseName(db)] });

    private static string DatabaseName(RealMarketplaceDatabase db) => new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!;

    // Rows that are not the drill's, in every table it writes: a buyer who bought, on the same partner-less schema.
    private static async Task<Dictionary<string, string>> WithOtherRowsAsync(RealMarketplaceDatabase db)
    {
        var scene = await MarketplaceScene.CreateAsync(db.DataSource, buyers: 2, leads: 3, price: 1.00m, balance: 10, Ct);
        var bought = await AppCallReplay.BuyWithCreditsAsync(db.AppDataSource, scene.Buyers[0], scene.LeadIds, completionCalls: 1, Ct);
        Assert.Equal(ReplayStage.Completed, bought.Stage);
        return await SnapshotAsync(db);
    }

    private static async Task<Dictionary<string, string>> SnapshotAsync(RealMarketplaceDatabase db)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync(Ct);
        var snapshot = new Dictionary<string, string>();
        foreach (var table in Tables)
        {
            snapshot[table] = await connection.QuerySingleAsync<string>(new CommandDefinition(
                $"SELECT count(*) || ' rows ' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t", cancellationToken: Ct));
        }

        return snapshot;
    }

    private void Log(DrillReport report)
    {
        output.WriteLine($"{report.DrillId} on {report.Database}: {report.Parameters}, {report.Seconds:0.0} s");
        output.WriteLine($"stages: {string.Join(", ", report.Stages.Select(s => $"{s.Key} {s.Value}"))}; completed {report.CompletedPurchases}, " +
                         $"late card payments {report.LateCardPayments}, refund_required {report.RefundRequired}, rows removed {report.RowsRemoved}");
        foreach (var finding in report.Findings)
        {
            output.WriteLine($"{finding.Failure}: {finding.Count} ({string.Join(", ", finding.Examples)})");
        }
    }

    private sealed class CancelAtRound(CancellationTokenSource cancel, int round) : IProgress<DrillProgress>
    {
        public bool SawRowsCreated { get; private set; }

        public void Report(DrillProgress value)
        {
            SawRowsCreated |= value.Round >= 1;
            if (value.Round == round)
            {
                cancel.Cancel();
            }
        }
    }
}
