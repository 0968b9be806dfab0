using Dapper;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>complete_credit_lead_purchase: the credit movements, the failure path, the refusals.</summary>
public sealed class CompleteCreditPurchaseTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Null_purchase_id_is_rejected_with_22023()
    {
        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.CompleteCreditAsync(null, Ct));
    }

    [Fact]
    public async Task Unknown_purchase_gets_MK404()
    {
        await MarketplaceData.AssertSqlStateAsync("MK404", () => Data.CompleteCreditAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task Completion_moves_the_total_from_the_buyer_to_each_seller()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var sellerWithCredits = await Data.WorkspaceWithCreditsAsync(5m, Ct);
        var firstTimeSeller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var a1 = await Data.ListedLeadAsync(sellerWithCredits, 10m, Ct);
        var a2 = await Data.ListedLeadAsync(sellerWithCredits, 15.50m, Ct);
        var b1 = await Data.ListedLeadAsync(firstTimeSeller, 20m, Ct);
        var reservation = await Data.ReserveAsync(buyer, [a1, a2, b1], "credits", Ct);

        var completion = await Data.CompleteCreditAsync(reservation.PurchaseId, Ct);

        Assert.Equal((reservation.PurchaseId, "completed", 54.50m), (completion.PurchaseId, completion.Status, completion.BuyerBalance));
        Assert.Equal(new CreditRow { Balance = 54.50m, TotalPurchased = 100m, TotalUsed = 45.50m }, await Data.CreditsAsync(buyer, Ct));
        Assert.Equal(new CreditRow { Balance = 30.50m, TotalPurchased = 5m, TotalEarned = 25.50m }, await Data.CreditsAsync(sellerWithCredits, Ct));
        Assert.Equal(new CreditRow { Balance = 20m, TotalEarned = 20m }, await Data.CreditsAsync(firstTimeSeller, Ct));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Completion_sells_the_leads_and_completes_the_purchase()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leads = new[] { await Data.ListedLeadAsync(seller, 10m, Ct), await Data.ListedLeadAsync(seller, 10m, Ct) };
        var reservation = await Data.ReserveAsync(buyer, leads, "credits", Ct);
        var before = DateTime.UtcNow.AddSeconds(-5);

        await Data.CompleteCreditAsync(reservation.PurchaseId, Ct);

        var purchase = await Data.PurchaseAsync(reservation.PurchaseId, Ct);
        Assert.Equal("completed", purchase.Status);
        Assert.NotNull(purchase.CompletedAt);
        Assert.True(purchase.CompletedAt >= purchase.CreatedAt);
        foreach (var lead in leads)
        {
            var row = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("sold", 1, (Guid?)null, (DateTime?)null), (row.MarketplaceStatus, row.SoldCount, row.ReservedByPurchaseId, row.ReservedUntil));
            Assert.True(row.SoldAt > before);
            Assert.Equal(row.SoldAt, row.FirstSoldAt);
        }

        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Completion_keeps_an_earlier_first_sold_at()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var firstSold = new DateTime(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc);
        var relisted = await Data.LeadAsync(seller, new LeadSpec { FirstSoldAt = firstSold }, Ct);
        var reservation = await Data.ReserveAsync(buyer, [relisted], "credits", Ct);

        await Data.CompleteCreditAsync(reservation.PurchaseId, Ct);

        var row = await Data.LeadRowAsync(relisted, Ct);
        Assert.Equal(firstSold, row.FirstSoldAt);
        Assert.True(row.SoldAt > firstSold);
    }

    [Fact]
    public async Task Completion_writes_a_purchase_completed_audit_row()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leads = new[] { await Data.ListedLeadAsync(seller, 10m, Ct), await Data.ListedLeadAsync(seller, 30m, Ct) };
        var reservation = await Data.ReserveAsync(buyer, leads, "credits", Ct);

        await Data.CompleteCreditAsync(reservation.PurchaseId, Ct);

        var audit = Assert.Single(await Data.AuditAsync(reservation.PurchaseId, Ct), a => a.Action == "purchase_completed");
        Assert.Equal(buyer, audit.WorkspaceId);
        Assert.Equal(40m, audit.Detail("total").GetDecimal());
        Assert.Equal(60m, audit.Detail("buyer_balance").GetDecimal());
        Assert.Equal("credits", audit.Detail("payment_method").GetString());
        Assert.Equal(leads.Order(), audit.GuidList("lead_ids"));
    }

    [Fact]
    public async Task Insufficient_credits_fail_the_purchase_free_its_leads_and_change_no_balance()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(15m, Ct);
        var seller = await Data.WorkspaceWithCreditsAsync(3m, Ct);
        var leads = new[] { await Data.ListedLeadAsync(seller, 10m, Ct), await Data.ListedLeadAsync(seller, 10m, Ct) };
        var reservation = await Data.ReserveAsync(buyer, leads, "credits", Ct);

        var completion = await Data.CompleteCreditAsync(reservation.PurchaseId, Ct);

        Assert.Equal(("insufficient_credits", 15m), (completion.Status, completion.BuyerBalance));
        Assert.Equal("failed", (await Data.PurchaseAsync(reservation.PurchaseId, Ct)).Status);
        foreach (var lead in leads)
        {
            var row = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("available", 0, (Guid?)null), (row.MarketplaceStatus, row.SoldCount, row.ReservedByPurchaseId));
        }

        Assert.Equal(new CreditRow { Balance = 15m, TotalPurchased = 15m }, await Data.CreditsAsync(buyer, Ct));
        Assert.Equal(new CreditRow { Balance = 3m, TotalPurchased = 3m }, await Data.CreditsAsync(seller, Ct));
        var audit = Assert.Single(await Data.AuditAsync(reservation.PurchaseId, Ct), a => a.Action == "purchase_failed");
        Assert.Equal("insufficient_credits", audit.Detail("reason").GetString());
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Buyer_without_a_credit_row_has_insufficient_credits_and_gets_no_row()
    {
        var buyer = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.ListedLeadAsync(seller, 1m, Ct);
        var reservation = await Data.ReserveAsync(buyer, [lead], "credits", Ct);

        var completion = await Data.CompleteCreditAsync(reservation.PurchaseId, Ct);

        Assert.Equal(("insufficient_credits", 0m), (completion.Status, completion.BuyerBalance));
        Assert.Null(await Data.CreditsAsync(buyer, Ct));
        Assert.Null(await Data.CreditsAsync(seller, Ct));
    }

    [Fact]
    public async Task A_balance_equal_to_the_total_is_enough()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(25m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var reservation = await Data.ReserveAsync(buyer, [await Data.ListedLeadAsync(seller, 25m, Ct)], "credits", Ct);

        var completion = await Data.CompleteCreditAsync(reservation.PurchaseId, Ct);

        Assert.Equal(("completed", 0m), (completion.Status, completion.BuyerBalance));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Completing_a_completed_purchase_again_gets_MK409_and_charges_once()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var purchase = await Data.BuyWithCreditsAsync(buyer, [await Data.ListedLeadAsync(seller, 10m, Ct)], Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.CompleteCreditAsync(purchase, Ct));

        Assert.Equal(90m, (await Data.CreditsAsync(buyer, Ct))!.Balance);
        Assert.Equal(10m, (await Data.CreditsAsync(seller, Ct))!.Balance);
    }

    [Fact]
    public async Task Completing_a_failed_purchase_gets_MK409()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(1m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var reservation = await Data.ReserveAsync(buyer, [await Data.ListedLeadAsync(seller, 10m, Ct)], "credits", Ct);
        Assert.Equal("insufficient_credits", (await Data.CompleteCreditAsync(reservation.PurchaseId, Ct)).Status);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.CompleteCreditAsync(reservation.PurchaseId, Ct));
    }

    [Fact]
    public async Task Completing_a_stripe_purchase_with_credits_gets_MK409()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.ListedLeadAsync(seller, 10m, Ct);
        var reservation = await Data.ReserveAsync(buyer, [lead], "stripe", Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.CompleteCreditAsync(reservation.PurchaseId, Ct));

        Assert.Equal("pending", (await Data.PurchaseAsync(reservation.PurchaseId, Ct)).Status);
        Assert.Equal(100m, (await Data.CreditsAsync(buyer, Ct))!.Balance);
        Assert.Equal("reserved", (await Data.LeadRowAsync(lead, Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task Completing_a_purchase_whose_lead_was_taken_over_gets_MK409_and_changes_nothing()
    {
        var late = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var other = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var kept = await Data.ListedLeadAsync(seller, 10m, Ct);
        var lost = await Data.ListedLeadAsync(seller, 10m, Ct);
        var stale = await Data.ReserveAsync(late, [kept, lost], "credits", Ct);
        await Data.BackdateReservationAsync(stale.PurchaseId, Ct);
        var taker = await Data.ReserveAsync(other, [lost], "credits", Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.CompleteCreditAsync(stale.PurchaseId, Ct));

        Assert.Equal("pending", (await Data.PurchaseAsync(stale.PurchaseId, Ct)).Status);
        Assert.Equal(100m, (await Data.CreditsAsync(late, Ct))!.Balance);
        Assert.Null(await Data.CreditsAsync(seller, Ct));
        Assert.Equal(stale.PurchaseId, (await Data.LeadRowAsync(kept, Ct)).ReservedByPurchaseId);
        Assert.Equal(taker.PurchaseId, (await Data.LeadRowAsync(lost, Ct)).ReservedByPurchaseId);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Lead_row_locked_by_another_transaction_fails_the_completion_with_55P03_and_changes_nothing()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.ListedLeadAsync(seller, 10m, Ct);
        var reservation = await Data.ReserveAsync(buyer, [lead], "credits", Ct);
        await using var holder = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var held = await holder.BeginTransactionAsync(Ct);
        await holder.ExecuteAsync(new CommandDefinition("SELECT 1 FROM leads WHERE id = @Id FOR UPDATE", new { Id = lead }, held, cancellationToken: Ct));
        await using var caller = await OpenUnpooledAsync("-c statement_timeout=10s");

        await MarketplaceData.AssertSqlStateAsync("55P03", () => caller.CompleteCreditAsync(reservation.PurchaseId, Ct));

        await held.RollbackAsync(Ct);
        Assert.Equal("pending", (await Data.PurchaseAsync(reservation.PurchaseId, Ct)).Status);
        Assert.Equal(100m, (await Data.CreditsAsync(buyer, Ct))!.Balance);
        Assert.Equal("reserved", (await Data.LeadRowAsync(lead, Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task A_concurrent_completion_of_the_same_purchase_waits_for_the_first_and_then_gets_MK409()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var reservation = await Data.ReserveAsync(buyer, [await Data.ListedLeadAsync(seller, 10m, Ct)], "credits", Ct);
        await using var first = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var firstTransaction = await first.BeginTransactionAsync(Ct);
        Assert.Equal("completed", (await first.CompleteCreditAsync(reservation.PurchaseId, Ct)).Status);
        await using var second = await Database.DataSource.OpenConnectionAsync(Ct);

        var secondCall = second.CompleteCreditAsync(reservation.PurchaseId, Ct);
        await WaitUntilASessionWaitsForALockAsync();
        await firstTransaction.CommitAsync(Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => secondCall);
        Assert.Equal(90m, (await Data.CreditsAsync(buyer, Ct))!.Balance);
        await AssertInvariantsAsync();
    }
}
