using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Credits;

/// <summary>Adjustments: applied in one transaction with the journal and audit, every refusal leaving nothing behind.</summary>
public sealed class CreditAdjustmentTests(MarketplaceDatabase database) : CreditTestKit(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task An_adjustment_applies_its_deltas_and_writes_the_journal_and_an_audit_row_in_one_go()
    {
        var workspace = await WorkspaceAsync(100m, 120m);
        var version = await VersionAsync(workspace);

        var outcome = Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(workspace, version, new CreditDeltas(20m, 0, 0, 0), "Lost top-up found in ticket", "T-9"), Ct));

        Assert.Equal(AdjustmentStatus.Applied, outcome.Status);
        Assert.Equal(new CreditValues(100m, 120m, 0, 0), outcome.Before);
        Assert.Equal(new CreditValues(120m, 120m, 0, 0), outcome.After);
        Assert.Equal(outcome.After, await ValuesAsync(workspace));
        var journal = Succeeds(await Service.ListAdjustmentsAsync(Manager, workspace, null, Ct)).Single();
        Assert.Equal((outcome.Id, "support", Support.Id, "T-9"), (journal.Id, journal.MakerName, journal.MakerId, journal.Ticket));
        Assert.Equal(1, await ScalarAsync<int>(
            "SELECT count(*) FROM audit_logs WHERE action = 'credit_adjustment' AND workspace_id = @Id AND details->>'actorId' = @Actor", new { Id = workspace, Actor = Support.Id }));
        Assert.NotEqual(version, await VersionAsync(workspace));
    }

    [Fact]
    public async Task A_stale_version_is_refused_with_the_current_values_and_nothing_is_applied()
    {
        var workspace = await WorkspaceAsync(100m, 120m);
        var seen = await VersionAsync(workspace);
        Succeeds(await Service.AdjustAsync(Support2, new AdjustmentRequest(workspace, seen, new CreditDeltas(5m, 0, 0, 0), "Someone else was quicker", null), Ct));
        var written = await WrittenAsync();

        var refusal = Refused(await Service.AdjustAsync(Support, new AdjustmentRequest(workspace, seen, new CreditDeltas(20m, 0, 0, 0), "Working from what I saw", null), Ct), RefusalKind.Conflict);

        Assert.StartsWith("This balance changed since you looked", refusal.Message, StringComparison.Ordinal);
        var current = Assert.IsType<CurrentCredit>(refusal.Detail);
        Assert.Equal(new CreditValues(105m, 120m, 0, 0), current.Values);
        Assert.Equal(await VersionAsync(workspace), current.Version);
        Assert.Equal(written, await WrittenAsync());
        Assert.Equal(105m, (await ValuesAsync(workspace)).Balance);
    }

    public static TheoryData<string, RefusalKind> Refusals => new()
    {
        { "engineer", RefusalKind.Forbidden },
        { "manager", RefusalKind.Forbidden },
        { "no reason", RefusalKind.Invalid },
        { "short reason", RefusalKind.Invalid },
        { "all zero", RefusalKind.Invalid },
        { "fractions of cents", RefusalKind.Invalid },
        { "no version", RefusalKind.Invalid },
        { "unknown workspace", RefusalKind.NotFound },
        { "negative balance", RefusalKind.Rule },
        { "negative total", RefusalKind.Rule },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_adjustment_writes_nothing(string situation, RefusalKind kind)
    {
        var workspace = await WorkspaceAsync(30m, 30m);
        var version = await VersionAsync(workspace);
        var request = new AdjustmentRequest(workspace, version, new CreditDeltas(10m, 0, 0, 0), "A reason long enough", null);
        var actor = Support;
        request = situation switch
        {
            "no reason" => request with { Reason = null },
            "short reason" => request with { Reason = "too short" },
            "all zero" => request with { Deltas = CreditDeltas.None },
            "fractions of cents" => request with { Deltas = new CreditDeltas(0.001m, 0, 0, 0) },
            "no version" => request with { ExpectedVersion = null },
            "unknown workspace" => request with { WorkspaceId = Guid.NewGuid() },
            "negative balance" => request with { Deltas = new CreditDeltas(-30.01m, 0, 0, 0) },
            "negative total" => request with { Deltas = new CreditDeltas(0, 0, 0, -1m) },
            _ => request,
        };
        if (situation is "engineer" or "manager")
        {
            actor = situation == "engineer" ? Engineer : Manager;
        }

        var written = await WrittenAsync();

        var refusal = Refused(await Service.AdjustAsync(actor, request, Ct), kind);

        Assert.False(string.IsNullOrWhiteSpace(refusal.Message));
        Assert.Equal(written, await WrittenAsync());
        Assert.Equal(new CreditValues(30m, 30m, 0, 0), await ValuesAsync(workspace));
    }

    [Fact]
    public async Task A_negative_balance_is_refused_with_the_guards_rule_while_a_drifted_negative_one_may_be_raised()
    {
        var workspace = await WorkspaceAsync(10m, 10m);
        var refusal = Refused(await Service.AdjustAsync(Support, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(-15m, 0, 0, 15m), "Charge that was never taken", null), Ct), RefusalKind.Rule);
        Assert.Contains("may not become negative", refusal.Message, StringComparison.Ordinal);

        // A row that drifted below zero before the guard existed: raising it, even if it stays negative, is allowed.
        var drifted = await WorkspaceAsync(0m, 0m);
        await ExecuteAsync("SET session_replication_role = replica; UPDATE workspace_credits SET balance = -50 WHERE workspace_id = @Id; SET session_replication_role = origin;", new { Id = drifted });
        var raised = Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
            drifted, await VersionAsync(drifted), new CreditDeltas(20m, 0, 0, 0), "Partial refund of a double charge", null), Ct));
        Assert.Equal(-30m, raised.After.Balance);
    }

    [Fact]
    public async Task Above_the_threshold_the_maker_cannot_approve_another_support_person_can()
    {
        var workspace = await WorkspaceAsync(1000m, 1000m);
        var pending = Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(600m, 600m, 0, 0), "Bank transfer booked by hand", "FIN-3"), Ct));
        Assert.Equal(AdjustmentStatus.PendingApproval, pending.Status);
        Assert.Equal(1000m, (await ValuesAsync(workspace)).Balance);
        var written = await WrittenAsync();

        Assert.Contains("You made adjustment", Refused(await Service.ApproveAsync(Support, pending.Id, "Looks right to me", Ct), RefusalKind.Forbidden).Message, StringComparison.Ordinal);
        Refused(await Service.RejectAsync(Support, pending.Id, "Changed my mind", Ct), RefusalKind.Forbidden);
        Refused(await Service.ApproveAsync(Engineer, pending.Id, "Looks right to me", Ct), RefusalKind.Forbidden);
        Refused(await Service.ApproveAsync(Support2, pending.Id, "short", Ct), RefusalKind.Invalid);
        Refused(await Service.ApproveAsync(Support2, 999_999, "Looks right to me", Ct), RefusalKind.NotFound);
        Assert.Equal(written, await WrittenAsync());

        // Same display name, another identity: a different person, so allowed.
        var approved = Succeeds(await Service.ApproveAsync(SupportNamesake, pending.Id, "Transfer seen on the bank statement", Ct));

        Assert.Equal(AdjustmentStatus.Applied, approved.Status);
        Assert.Equal(new CreditValues(1600m, 1600m, 0, 0), await ValuesAsync(workspace));
        var entry = Succeeds(await Service.GetAdjustmentAsync(Manager, pending.Id, Ct));
        Assert.Equal((AdjustmentStatus.Applied, "support", "Transfer seen on the bank statement"), (entry.Status, entry.StatusBy, entry.StatusReason));
        Refused(await Service.ApproveAsync(Support2, pending.Id, "Approving it twice", Ct), RefusalKind.Conflict);
    }

    [Fact]
    public async Task Approval_after_the_row_changed_is_refused_and_the_maker_must_redo_it()
    {
        var workspace = await WorkspaceAsync(1000m, 1000m);
        var pending = Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(-700m, -700m, 0, 0), "Chargeback of a credit pack", null), Ct));
        Succeeds(await Service.AdjustAsync(Support2, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(1m, 1m, 0, 0), "Goodwill credit for the outage", null), Ct));
        var written = await WrittenAsync();

        var refusal = Refused(await Service.ApproveAsync(Admin, pending.Id, "Chargeback confirmed", Ct), RefusalKind.Conflict);

        Assert.StartsWith("This balance changed since you looked", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(written, await WrittenAsync());
        Assert.Equal(1001m, (await ValuesAsync(workspace)).Balance);
        var rejected = Succeeds(await Service.RejectAsync(Admin, pending.Id, "Stale: redo against current values", Ct));
        Assert.Equal(AdjustmentStatus.Rejected, rejected.Status);
        Assert.Equal(1001m, (await ValuesAsync(workspace)).Balance);
    }

    [Fact]
    public async Task A_reversal_is_a_new_linked_adjustment_and_the_original_becomes_reversed()
    {
        var workspace = await WorkspaceAsync(50m, 50m);
        var original = Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(40m, 0, 40m, 0), "Earnings missing from a sale", null), Ct));

        Refused(await Service.ReverseAsync(Support2, original.Id, null, Ct), RefusalKind.Invalid);
        var reversal = Succeeds(await Service.ReverseAsync(Support2, original.Id, "Sale was refunded afterwards", Ct));

        Assert.Equal(AdjustmentStatus.Applied, reversal.Status);
        Assert.Equal(new CreditValues(50m, 50m, 0, 0), await ValuesAsync(workspace));
        var journal = Succeeds(await Service.ListAdjustmentsAsync(Manager, workspace, null, Ct));
        var (newer, older) = (journal[0], journal[1]);
        Assert.Equal((reversal.Id, original.Id, new CreditDeltas(-40m, 0, -40m, 0)), (newer.Id, newer.ReversesId!.Value, newer.Deltas));
        Assert.Equal((AdjustmentStatus.Reversed, reversal.Id), (older.Status, older.ReversedById!.Value));
        Assert.Contains("only an applied adjustment", Refused(await Service.ReverseAsync(Support, original.Id, "Reverse it once more", Ct), RefusalKind.Conflict).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reversal_that_would_make_the_balance_negative_is_refused()
    {
        var workspace = await WorkspaceAsync(50m, 50m);
        var original = Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(40m, 40m, 0, 0), "Credit pack bought by invoice", null), Ct));
        await ExecuteAsync("UPDATE workspace_credits SET balance = 10, total_used = 80 WHERE workspace_id = @Id", new { Id = workspace });
        var written = await WrittenAsync();

        Refused(await Service.ReverseAsync(Support2, original.Id, "Invoice was never paid", Ct), RefusalKind.Rule);

        Assert.Equal(written, await WrittenAsync());
        Assert.Equal(10m, (await ValuesAsync(workspace)).Balance);
    }

    [Fact]
    public async Task A_bulk_dry_run_writes_nothing_and_the_apply_records_each_row_under_one_batch()
    {
        var small = await WorkspaceAsync(110m, 100m);
        var large = await WorkspaceAsync(100m, 1000m);
        var fine = await WorkspaceAsync(100m, 100m);
        var written = await WrittenAsync();

        var plan = Succeeds(await Service.PlanBulkAsync(Support, [small, large, fine], Ct));

        Assert.Equal(written, await WrittenAsync());
        Assert.Equal(110m, (await ValuesAsync(small)).Balance);
        Assert.Equal([-10m, 900m, 0m], plan.Rows.Select(r => r.Deltas.Balance));
        Assert.Equal([false, true, false], plan.Rows.Select(r => r.NeedsApproval));
        Assert.NotNull(plan.Rows[2].Refusal);
        Assert.Equal((890m, 910m, 0m), (plan.TotalDeltas.Balance, plan.DiscrepancyBefore, plan.DiscrepancyAfter));

        var items = plan.Rows.Where(r => r.Refusal is null).Select(r => new BulkItem(r.Row.WorkspaceId, r.Row.Version, r.Deltas)).ToList();
        await ExecuteAsync("UPDATE workspace_credits SET total_purchased = total_purchased WHERE workspace_id = @Id", new { Id = large });
        var outcome = Succeeds(await Service.ApplyBulkAsync(Support, items, "Reconciled after the race fix", Ct));

        Assert.Equal(AdjustmentStatus.Applied, outcome.Rows[0].Outcome!.Status);
        Assert.StartsWith("This balance changed since you looked", outcome.Rows[1].Refusal, StringComparison.Ordinal);
        Assert.Equal(100m, (await ValuesAsync(small)).Balance);
        Assert.Equal(outcome.BatchId, Succeeds(await Service.ListAdjustmentsAsync(Manager, small, null, Ct)).Single().BatchId);
        Assert.Equal(1, await ScalarAsync<int>("SELECT count(*) FROM audit_logs WHERE action = 'credit_bulk_reconcile' AND details->'details'->>'batchId' = @Batch",
            new { Batch = outcome.BatchId.ToString() }));
    }

    [Fact]
    public async Task History_lists_purchases_sales_and_adjustments_newest_first_with_a_running_balance_in_pages()
    {
        var workspace = await WorkspaceAsync(100m, 100m);
        var other = await WorkspaceAsync(500m, 500m);
        await RecordedSaleAsync(buyer: workspace, seller: other, 30m);
        await RecordedSaleAsync(buyer: other, seller: workspace, 12m);
        await RecordedSaleAsync(buyer: workspace, seller: other, 8m, "stripe");
        await ExecuteAsync("UPDATE workspace_credits SET balance = 82, total_used = 30, total_earned = 12 WHERE workspace_id = @Id", new { Id = workspace });
        Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(5m, 5m, 0, 0), "Goodwill credit for the outage", null), Ct));

        var first = Succeeds(await Service.GetHistoryAsync(Engineer, workspace, 1, Ct));
        var second = Succeeds(await Service.GetHistoryAsync(Engineer, workspace, 2, Ct));

        Assert.Equal(4, first.Total);
        Assert.Equal(["adjustment", "purchase", "sale"], first.Entries.Select(e => e.Kind));
        Assert.Equal([87m, 82m, 82m], first.Entries.Select(e => e.BalanceAfter));
        Assert.Equal([5m, 0m, 12m], first.Entries.Select(e => e.BalanceEffect));
        Assert.Equal(("purchase", -30m, 70m), (second.Entries.Single().Kind, second.Entries.Single().BalanceEffect, second.Entries.Single().BalanceAfter));
        Refused(await Service.GetHistoryAsync(Engineer, Guid.NewGuid(), 1, Ct), RefusalKind.NotFound);
    }

    [Fact]
    public async Task The_exports_are_csv_through_the_shared_writer()
    {
        var workspace = await WorkspaceAsync(10m, 12m);
        Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(
            workspace, await VersionAsync(workspace), new CreditDeltas(2m, 0, 0, 0), "=HYPERLINK(\"http://x\") lost top-up", null), Ct));

        var drift = Succeeds(await Service.ExportDriftAsync(Manager, Ct));
        var journal = Succeeds(await Service.ExportJournalAsync(Manager, workspace, null, Ct));

        Assert.StartsWith("workspace_id,workspace_name,balance,total_purchased,total_earned,total_used,expected_balance,discrepancy\r\n", drift, StringComparison.Ordinal);
        Assert.StartsWith("id,workspace_id,workspace_name,status,", journal, StringComparison.Ordinal);
        Assert.Contains("'=HYPERLINK", journal, StringComparison.Ordinal);
    }
}
