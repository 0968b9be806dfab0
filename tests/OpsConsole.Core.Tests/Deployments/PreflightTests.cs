using Dapper;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Core.Deployments.Preflight;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.Deployments;

/// <summary>
/// The pre-flight on targets built from the marketplace's schema with each fix (psql, as a DBA applies them), and on
/// a database the console migrated: which fix it names, the column types it reads, and what it says migrate and
/// the rollback will change.
/// </summary>
public sealed class PreflightTests(MarketplaceDatabase migrated) : IClassFixture<MarketplaceDatabase>
{
    private static readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    private static readonly string[] CreditColumns =
        ["workspace_credits.balance", "workspace_credits.total_purchased", "workspace_credits.total_used", "workspace_credits.total_earned", "marketplace_purchases.credits_used"];

    [Fact]
    public async Task A_schema_without_a_fix_is_told_none_with_integer_credits_and_no_rollback()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.None, Ct);
        await using (var connection = await db.DataSource.OpenConnectionAsync(Ct))
        {
            await connection.ExecuteAsync("ALTER TABLE public.audit_logs DISABLE ROW LEVEL SECURITY");
        }

        var report = await new Preflight(db.DataSource).RunAsync(Ct);

        Assert.True(report.IsMarketplace);
        Assert.Equal(InstalledFix.None, report.Fix);
        Assert.Equal("none", report.FixName);
        Assert.Empty(report.Functions);
        Assert.All(CreditColumns, c => Assert.Equal("integer", Type(report, c)));
        Assert.Null(report.TypeOf("leads", "sold_at"));
        Assert.Null(report.TypeOf("leads", "reserved_until"));
        Assert.True(report.Tables.Single(t => t.Table == "leads").RowLevelSecurity);
        Assert.False(report.Tables.Single(t => t.Table == "audit_logs").RowLevelSecurity);
        Assert.Null(report.Rollback);
        // On a database the console never migrated, the drop-in adds the shipped fix's columns too.
        Assert.Contains(report.Migration.DropInChanges, c => c is { Kind: PlannedChangeKind.AddColumn, Target: "leads.sold_at" });
        Assert.Contains(report.Migration.DropInChanges, c => c is { Kind: PlannedChangeKind.CreateFunction, Target: "validate_and_lock_leads_for_purchase" });
    }

    [Fact]
    public async Task The_shipped_fix_is_told_by_signature_and_the_plan_lists_every_change_the_drop_in_makes()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.Shipped, Ct);

        var report = await new Preflight(db.DataSource).RunAsync(Ct);

        Assert.Equal(InstalledFix.Shipped, report.Fix);
        Assert.Equal("shipped (by signature)", report.FixName);
        Assert.Equal(KnownFixes.PurchaseFunctions.Keys.Order(), report.Functions.Select(f => f.Name).Order());
        Assert.All(report.Functions, f => Assert.False(f.MatchesDropIn));
        Assert.All(CreditColumns, c => Assert.Equal("integer", Type(report, c)));
        Assert.Equal("timestamp with time zone", report.TypeOf("leads", "sold_at"));
        Assert.Equal("character varying(20)", report.TypeOf("leads", "marketplace_status"));
        Assert.Null(report.TypeOf("leads", "reserved_for_workspace_id"));
        Assert.Null(report.TypeOf("marketplace_purchases", "refund_required_at"));
        Assert.Null(report.Rollback);

        var changes = report.Migration.DropInChanges;
        Assert.Equal(CreditColumns.Order(), changes.Where(c => c.Kind == PlannedChangeKind.ConvertColumn).Select(c => c.Target).Order());
        Assert.Contains(changes, c => c.Kind == PlannedChangeKind.ConvertColumn && c.Description.Contains("from integer to numeric(14,4)"));
        Assert.Equal(["leads.reserved_for_workspace_id", "leads.reserved_until", "marketplace_purchases.refund_required_at"],
            changes.Where(c => c.Kind == PlannedChangeKind.AddColumn).Select(c => c.Target).Order());
        Assert.Equal(KnownFixes.PurchaseFunctions.Keys.Order(),
            changes.Where(c => c.Kind == PlannedChangeKind.ReplaceFunction).Select(c => c.Target.Split('(')[0]).Order());
        Assert.Equal(["lead_reservation_interval", "release_expired_lead_reservations"],
            changes.Where(c => c.Kind == PlannedChangeKind.CreateFunction).Select(c => c.Target).Order());
        Assert.Contains(changes, c => c is { Kind: PlannedChangeKind.CreateTable, Target: KnownFixes.RollbackStateTable });
        // No journal: the console has never migrated it, so every script is pending and the stand-in is journalled only.
        Assert.Equal(DatabaseMigrator.ScriptNames, report.Migration.PendingScripts);
        Assert.Contains(report.Migration.Notes, n => n.Contains("journalled without running"));
    }

    [Fact]
    public async Task The_drop_in_is_told_by_its_body_hashes_plans_nothing_and_its_rollback_drops_what_it_added()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        await using (var connection = await db.DataSource.OpenConnectionAsync(Ct))
        {
            await connection.ExecuteAsync("""
                INSERT INTO workspaces (id, name, slug) VALUES ('00000000-0000-0000-0000-0000000000a1', 'Fractions', 'fractions');
                INSERT INTO workspace_credits (workspace_id, balance, total_purchased, total_used) VALUES ('00000000-0000-0000-0000-0000000000a1', 9.95, 10, 0.05);
                """);
        }

        var report = await new Preflight(db.DataSource).RunAsync(Ct);

        Assert.Equal(InstalledFix.DropIn, report.Fix);
        Assert.All(report.Functions, f => Assert.True(f.MatchesDropIn, f.Signature));
        Assert.All(CreditColumns, c => Assert.Equal("numeric(14,4)", Type(report, c)));
        Assert.Equal("uuid", report.TypeOf("leads", "reserved_for_workspace_id"));
        Assert.Equal("timestamp with time zone", report.TypeOf("leads", "reserved_until"));
        Assert.Empty(report.Migration.DropInChanges);
        Assert.Contains(report.Migration.Notes, n => n.Contains("in place already"));

        var rollback = Assert.IsType<RollbackPlan>(report.Rollback);
        Assert.True(rollback.StateReadable);
        Assert.DoesNotContain(rollback.Changes, c => c.Kind == PlannedChangeKind.RestoreFunction);
        Assert.Equal(KnownFixes.DropInBodyHashes.Keys.Order(), rollback.Changes.Where(c => c.Kind == PlannedChangeKind.DropFunction).Select(c => c.Target.Split('(')[0]).Order());
        Assert.Equal(["leads.marketplace_status", "leads.reserved_for_workspace_id", "leads.reserved_until", "leads.sold_at", "marketplace_purchases.refund_required_at"],
            rollback.Changes.Where(c => c.Kind == PlannedChangeKind.DropColumn).Select(c => c.Target).Order());
        Assert.Equal(CreditColumns.Order(), rollback.Changes.Where(c => c.Kind == PlannedChangeKind.ConvertColumn).Select(c => c.Target).Order());
        Assert.True(rollback.FractionsRound);
        Assert.Equal(1, rollback.RowsWithFractions);
    }

    [Fact]
    public async Task Shipped_then_drop_in_is_the_drop_in_and_its_rollback_restores_the_shipped_functions()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.ShippedThenDropIn, Ct);

        var report = await new Preflight(db.DataSource).RunAsync(Ct);

        Assert.Equal(InstalledFix.DropIn, report.Fix);
        Assert.All(CreditColumns, c => Assert.Equal("numeric(14,4)", Type(report, c)));
        Assert.Empty(report.Migration.DropInChanges);
        var rollback = Assert.IsType<RollbackPlan>(report.Rollback);
        Assert.Equal(KnownFixes.PurchaseFunctions.Keys.Order(),
            rollback.Changes.Where(c => c.Kind == PlannedChangeKind.RestoreFunction).Select(c => c.Target.Split('(')[0]).Order());
        Assert.Equal(["lead_reservation_interval", "release_expired_lead_reservations"],
            rollback.Changes.Where(c => c.Kind == PlannedChangeKind.DropFunction).Select(c => c.Target.Split('(')[0]).Order());
        // The shipped fix's columns were there before: they stay; the credit columns go back to INTEGER.
        Assert.DoesNotContain(rollback.Changes, c => c.Target is "leads.sold_at" or "leads.marketplace_status");
        Assert.Contains(rollback.Changes, c => c is { Kind: PlannedChangeKind.ConvertColumn, Target: "workspace_credits.balance" } && c.Description.Contains("to integer"));
        Assert.True(rollback.FractionsRound);
    }

    [Fact]
    public async Task A_database_the_console_migrated_has_nothing_pending_and_the_drop_in_changes_nothing()
    {
        var report = await new Preflight(NpgsqlDataSource.Create(migrated.SuperuserConnectionString)).RunAsync(Ct);

        Assert.Equal(InstalledFix.DropIn, report.Fix);
        Assert.NotNull(report.Migration.AppliedScripts);
        Assert.Empty(report.Migration.PendingScripts);
        Assert.Empty(report.Migration.DropInChanges);
        Assert.NotNull(report.Rollback);
    }

    [Fact]
    public async Task A_changed_drop_in_body_is_something_else_while_whitespace_alone_changes_nothing()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        await using var connection = await db.DataSource.OpenConnectionAsync(Ct);
        var body = await connection.ExecuteScalarAsync<string>("SELECT prosrc FROM pg_proc WHERE proname = 'mark_leads_sold_bulk'");
        await connection.ExecuteAsync($"CREATE OR REPLACE FUNCTION public.mark_leads_sold_bulk(p_lead_ids uuid[]) RETURNS TABLE (leads_marked integer) " +
                                      $"LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$\n\n  {body!.Replace("\n", "\n\t ")}  \n$fn$");

        Assert.Equal(InstalledFix.DropIn, (await new Preflight(db.DataSource).RunAsync(Ct)).Fix);

        await connection.ExecuteAsync("CREATE OR REPLACE FUNCTION public.mark_leads_sold_bulk(p_lead_ids uuid[]) RETURNS TABLE (leads_marked integer) " +
                                      "LANGUAGE sql AS $fn$ SELECT 0 $fn$");
        var report = await new Preflight(db.DataSource).RunAsync(Ct);

        Assert.Equal(InstalledFix.Other, report.Fix);
        Assert.Contains("mark_leads_sold_bulk", report.FixDescription);
        Assert.Contains(report.Migration.DropInChanges, c => c.Kind == PlannedChangeKind.ReplaceFunction && c.Target.StartsWith("mark_leads_sold_bulk("));
    }

    [Fact]
    public async Task A_login_that_may_not_read_the_rollback_state_gets_a_report_that_says_so()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        await using var anon = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Options = "-c role=anon" }.ConnectionString);

        var report = await new Preflight(anon).RunAsync(Ct);

        Assert.Equal(InstalledFix.DropIn, report.Fix);
        var rollback = Assert.IsType<RollbackPlan>(report.Rollback);
        Assert.False(rollback.StateReadable);
        Assert.Contains("may not read it", rollback.Note);
        Assert.Contains(rollback.Changes, c => c is { Kind: PlannedChangeKind.DropColumn, Target: "leads.reserved_until" });
    }

    [Fact]
    public async Task A_database_without_the_marketplace_tables_is_not_a_marketplace()
    {
        var empty = await migrated.Server.CreateEmptyDatabaseAsync(Ct);
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(empty);
            var report = await new Preflight(dataSource).RunAsync(Ct);

            Assert.False(report.IsMarketplace);
            Assert.Equal(Preflight.MarketplaceTables, report.MissingTables);
            Assert.Contains("Not a marketplace database", PreflightText.Format(report));
        }
        finally
        {
            await migrated.Server.DropDatabaseAsync(empty);
        }
    }

    private static string? Type(PreflightReport report, string column) => report.TypeOf(column.Split('.')[0], column.Split('.')[1]);
}
