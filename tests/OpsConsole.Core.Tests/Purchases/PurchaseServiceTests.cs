using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Purchases;

public sealed class PurchaseServiceTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private NpgsqlDataSource Db => database.DataSource;

    [Fact]
    public async Task A_credit_purchase_sells_the_leads_moves_the_credits_and_records_its_duration_in_one_commit()
    {
        var sellers = await MarketSeed.WorkspacesAsync(Db, 2, 0m);
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 100m))[0];
        var leads = (await MarketSeed.ListedLeadsAsync(Db, sellers, 2, 7.50m)).Take(3).ToArray();
        await using var services = TestServices.Build(database.ConnectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();

        var result = await purchases.PurchaseWithCreditsAsync(buyer, leads, "test-actor", CancellationToken.None);

        Assert.Equal(PurchaseOutcome.Completed, result.Outcome);
        Assert.Equal(22.50m, result.TotalPrice);
        Assert.Equal(77.50m, result.BuyerBalance);
        Assert.Equal(1, result.Attempts);

        await using var connection = await Db.OpenConnectionAsync();
        var purchase = await connection.QuerySingleAsync<(string Status, decimal? DurationMs, string? Actor)>("""
            SELECT p.status, p.duration_ms, a.actor
            FROM marketplace_purchases p
            JOIN audit_logs a ON a.action = 'purchase_completed' AND (a.details->>'purchase_id')::uuid = p.id
            WHERE p.id = @Id
            """, new { Id = result.PurchaseId });
        Assert.Equal("completed", purchase.Status);
        Assert.NotNull(purchase.DurationMs);
        Assert.InRange(purchase.DurationMs!.Value, 0.001m, (decimal)result.Duration.TotalMilliseconds + 1);
        Assert.Equal("test-actor", purchase.Actor);
        Assert.Equal(3, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM leads WHERE id = ANY(@Leads) AND marketplace_status = 'sold' AND sold_count = 1", new { Leads = leads }));
        // Every row the purchase wrote carries the same transaction id: reservation, completion and duration in one commit.
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("""
            SELECT count(DISTINCT x) FROM (
                SELECT xmin::text AS x FROM marketplace_purchases WHERE id = @Id
                UNION ALL SELECT xmin::text FROM marketplace_purchase_items WHERE purchase_id = @Id
                UNION ALL SELECT xmin::text FROM leads WHERE id = ANY(@Leads)
                UNION ALL SELECT xmin::text FROM workspace_credits WHERE workspace_id = ANY(@Parties)
                UNION ALL SELECT xmin::text FROM audit_logs WHERE (details->>'purchase_id')::uuid = @Id) AS rows
            """, new { Id = result.PurchaseId, Leads = leads, Parties = sellers.Append(buyer).ToArray() }));
        await MarketSeed.AssertInvariantsAsync(Db);
    }

    [Fact]
    public async Task A_buyer_without_enough_credits_gets_insufficient_credits_and_the_leads_stay_available()
    {
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 5m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(Db, [seller], 1, 10m);
        await using var services = TestServices.Build(database.ConnectionString);

        var result = await services.GetRequiredService<IPurchaseService>().PurchaseWithCreditsAsync(buyer, leads, "t", CancellationToken.None);

        Assert.Equal(PurchaseOutcome.InsufficientCredits, result.Outcome);
        Assert.Equal(5m, result.BuyerBalance);
        await using var connection = await Db.OpenConnectionAsync();
        Assert.Equal("available", await connection.ExecuteScalarAsync<string>("SELECT marketplace_status FROM leads WHERE id = @Id", new { Id = leads[0] }));
        Assert.Equal("failed", await connection.ExecuteScalarAsync<string>("SELECT status FROM marketplace_purchases WHERE id = @Id", new { Id = result.PurchaseId }));
        await MarketSeed.AssertInvariantsAsync(Db);
    }

    [Fact]
    public async Task A_lead_locked_by_another_transaction_is_retried_then_reported_as_a_conflict_with_an_audit_row()
    {
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 100m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(Db, [seller], 2, 10m);
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Purchases:MaxConflictRetries"] = "2",
            ["Purchases:ConflictRetryBaseDelay"] = "00:00:00.005",
        });

        await using var holder = await Db.OpenConnectionAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("SELECT 1 FROM leads WHERE id = @Id FOR UPDATE", new { Id = leads[1] }, hold);

        var result = await services.GetRequiredService<IPurchaseService>().PurchaseWithCreditsAsync(buyer, leads, "buyer-a", CancellationToken.None);
        await hold.RollbackAsync();

        Assert.Equal(PurchaseOutcome.Conflict, result.Outcome);
        Assert.Equal(3, result.Attempts);
        await using var connection = await Db.OpenConnectionAsync();
        var audit = await connection.QuerySingleAsync<(Guid WorkspaceId, string Actor, string LeadIds, int Attempts, string Reason)>("""
            SELECT workspace_id, actor, details->>'lead_ids', (details->>'attempts')::int, details->>'reason'
            FROM audit_logs WHERE action = 'purchase_conflict' AND workspace_id = @Buyer
            """, new { Buyer = buyer });
        Assert.Equal("buyer-a", audit.Actor);
        Assert.Equal(3, audit.Attempts);
        Assert.Equal("lock_not_available", audit.Reason);
        Assert.All(leads, id => Assert.Contains(id.ToString(), audit.LeadIds, StringComparison.Ordinal));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM marketplace_purchases WHERE buyer_workspace_id = @Buyer", new { Buyer = buyer }));
    }

    [Fact]
    public async Task A_lock_released_during_the_back_off_lets_the_retry_complete_the_purchase()
    {
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 100m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(Db, [seller], 1, 10m);
        var logs = new CapturingLoggerProvider();
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Purchases:MaxConflictRetries"] = "8",
            ["Purchases:ConflictRetryBaseDelay"] = "00:00:00.050",
            ["Purchases:ConflictRetryMaxDelay"] = "00:00:00.200",
        }, logs: logs);

        // Built and warmed (JIT, pool) before the clock starts: on a loaded machine that alone took longer than the
        // hold below, so the clock ran long before the purchase's own and the comparison failed for the wrong reason.
        var purchases = services.GetRequiredService<IPurchaseService>();
        Assert.Equal(PurchaseOutcome.InvalidInput, (await purchases.PurchaseWithCreditsAsync(buyer, [], "t", CancellationToken.None)).Outcome);

        await using var holder = await Db.OpenConnectionAsync();
        var hold = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("SELECT 1 FROM leads WHERE id = @Id FOR UPDATE", new { Id = leads[0] }, hold);
        // The service takes its start time before it returns the task, so this clock starts after it; and the time
        // held is read before the rollback is sent, while the lead is certainly still held. (Read after the rollback,
        // it included however long a loaded machine took to run the test's continuation: 115 ms against a stored 92.)
        var purchase = purchases.PurchaseWithCreditsAsync(buyer, leads, "t", CancellationToken.None);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await logs.WaitForAsync(m => m.Contains("Lock conflict on attempt", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        var heldFor = clock.Elapsed;
        await hold.RollbackAsync();

        var result = await purchase;

        Assert.Equal(PurchaseOutcome.Completed, result.Outcome);
        Assert.True(result.Attempts >= 2, $"expected a retry, got {result.Attempts} attempt(s)");
        await using var connection = await Db.OpenConnectionAsync();
        var durationMs = await connection.ExecuteScalarAsync<decimal>("SELECT duration_ms FROM marketplace_purchases WHERE id = @Id", new { Id = result.PurchaseId });
        // It could not complete before the lock was released, so its stored time includes the first attempt and the back-off.
        Assert.True(durationMs >= (decimal)heldFor.TotalMilliseconds,
            $"the stored duration ({durationMs} ms) must cover the {heldFor.TotalMilliseconds} ms the lead was held");
    }

    [Theory]
    [InlineData("own", PurchaseOutcome.OwnLead)]
    [InlineData("missing", PurchaseOutcome.NotFound)]
    [InlineData("empty", PurchaseOutcome.InvalidInput)]
    [InlineData("duplicate", PurchaseOutcome.InvalidInput)]
    [InlineData("sold", PurchaseOutcome.Conflict)]
    public async Task A_refused_purchase_returns_its_outcome_with_the_reason_and_changes_nothing(string case_, PurchaseOutcome expected)
    {
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 100m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 100m))[0];
        var lead = (await MarketSeed.ListedLeadsAsync(Db, [seller], 1, 10m))[0];
        await using var services = TestServices.Build(database.ConnectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();
        if (case_ == "sold")
        {
            Assert.Equal(PurchaseOutcome.Completed, (await purchases.PurchaseWithCreditsAsync(buyer, [lead], "t", CancellationToken.None)).Outcome);
        }

        var before = await SnapshotAsync();
        var result = case_ switch
        {
            "own" => await purchases.PurchaseWithCreditsAsync(seller, [lead], "t", CancellationToken.None),
            "missing" => await purchases.PurchaseWithCreditsAsync(buyer, [Guid.NewGuid()], "t", CancellationToken.None),
            "empty" => await purchases.PurchaseWithCreditsAsync(buyer, [], "t", CancellationToken.None),
            "duplicate" => await purchases.PurchaseWithCreditsAsync(buyer, [lead, lead], "t", CancellationToken.None),
            _ => await purchases.PurchaseWithCreditsAsync(buyer, [lead], "t", CancellationToken.None),
        };

        Assert.Equal(expected, result.Outcome);
        Assert.False(string.IsNullOrWhiteSpace(result.Detail));
        Assert.Null(result.PurchaseId);
        var after = await SnapshotAsync();
        // A reported conflict adds exactly its audit row; every other refusal changes nothing at all.
        Assert.Equal(before with { ConflictRows = before.ConflictRows + (expected == PurchaseOutcome.Conflict ? 1 : 0) }, after);
    }

    [Fact]
    public async Task A_stripe_checkout_reserves_then_its_payment_event_completes_once()
    {
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(Db, [seller], 2, 12m);
        await using var services = TestServices.Build(database.ConnectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();

        var reserved = await purchases.ReserveForStripeAsync(buyer, leads, "t", CancellationToken.None);
        var completed = await purchases.CompleteStripeAsync(reserved.PurchaseId!.Value, "evt_1", "pi_1", CancellationToken.None);
        var repeat = await purchases.CompleteStripeAsync(reserved.PurchaseId!.Value, "evt_1", "pi_1", CancellationToken.None);
        var other = await purchases.CompleteStripeAsync(reserved.PurchaseId!.Value, "evt_2", "pi_1", CancellationToken.None);

        Assert.Equal((PurchaseOutcome.Reserved, 24m), (reserved.Outcome, reserved.TotalPrice));
        Assert.Equal(PurchaseOutcome.Completed, completed.Outcome);
        Assert.Equal(PurchaseOutcome.Duplicate, repeat.Outcome);
        Assert.Equal(PurchaseOutcome.AlreadyCompleted, other.Outcome);
        await MarketSeed.AssertInvariantsAsync(Db);
    }

    [Fact]
    public async Task A_payment_for_an_unknown_purchase_is_answered_not_found_without_throwing()
    {
        await using var services = TestServices.Build(database.ConnectionString);

        var result = await services.GetRequiredService<IPurchaseService>().CompleteStripeAsync(Guid.NewGuid(), "evt_x", "pi_x", CancellationToken.None);

        Assert.Equal(PurchaseOutcome.NotFound, result.Outcome);
    }

    [Fact]
    public async Task The_reservation_ttl_setting_reaches_the_database()
    {
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(Db, [seller], 1, 1m);
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?> { ["Purchases:ReservationTtl"] = "00:20:00" });

        var reserved = await services.GetRequiredService<IPurchaseService>().ReserveForStripeAsync(buyer, leads, "t", CancellationToken.None);

        await using var connection = await Db.OpenConnectionAsync();
        var ttl = await connection.ExecuteScalarAsync<TimeSpan>(
            "SELECT reserved_until - created_at FROM marketplace_purchases WHERE id = @Id", new { Id = reserved.PurchaseId });
        Assert.InRange(ttl, TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(20.1));
    }

    private async Task<Snapshot> SnapshotAsync()
    {
        await using var connection = await Db.OpenConnectionAsync();
        return await connection.QuerySingleAsync<Snapshot>("""
            SELECT (SELECT count(*) FROM marketplace_purchases) AS Purchases,
                   (SELECT coalesce(sum(balance), 0) FROM workspace_credits) AS Balances,
                   (SELECT count(*) FROM leads WHERE marketplace_status = 'available') AS AvailableLeads,
                   (SELECT count(*) FROM audit_logs WHERE action <> 'purchase_conflict') AS OtherAuditRows,
                   (SELECT count(*) FROM audit_logs WHERE action = 'purchase_conflict') AS ConflictRows
            """);
    }

    private sealed record Snapshot(long Purchases, decimal Balances, long AvailableLeads, long OtherAuditRows, long ConflictRows);
}
