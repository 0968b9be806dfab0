using Dapper;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>validate_and_lock_leads_for_purchase: input checks, refusals, the reservation it makes.</summary>
public sealed class ValidateAndLockLeadsTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    private async Task<(Guid Buyer, Guid Lead)> BuyerAndLeadAsync()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        return (buyer, await Data.ListedLeadAsync(seller, 10m, Ct));
    }

    private async Task<Reservation> ReserveRawAsync(Guid? buyer, Guid?[]? leads, string? paymentMethod)
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync(Ct);
        return await connection.ReserveAsync(buyer, leads, paymentMethod, Ct);
    }

    [Fact]
    public async Task Null_buyer_is_rejected_with_22023()
    {
        var (_, lead) = await BuyerAndLeadAsync();
        await MarketplaceData.AssertSqlStateAsync("22023", () => ReserveRawAsync(null, [lead], "credits"));
    }

    [Fact]
    public async Task Null_lead_list_is_rejected_with_22023()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        await MarketplaceData.AssertSqlStateAsync("22023", () => ReserveRawAsync(buyer, null, "credits"));
    }

    [Fact]
    public async Task Empty_lead_list_is_rejected_with_22023()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        await MarketplaceData.AssertSqlStateAsync("22023", () => ReserveRawAsync(buyer, [], "credits"));
    }

    [Fact]
    public async Task Null_lead_id_in_the_list_is_rejected_with_22023()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();
        await MarketplaceData.AssertSqlStateAsync("22023", () => ReserveRawAsync(buyer, [lead, null], "credits"));
    }

    [Fact]
    public async Task Duplicate_lead_ids_are_rejected_with_22023()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();
        await MarketplaceData.AssertSqlStateAsync("22023", () => ReserveRawAsync(buyer, [lead, lead], "credits"));
        Assert.Equal("available", (await Data.LeadRowAsync(lead, Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task More_than_100_leads_are_rejected_with_22023()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leads = new List<Guid?>();
        for (var i = 0; i < 101; i++)
        {
            leads.Add(await Data.ListedLeadAsync(seller, 1m, Ct));
        }

        await MarketplaceData.AssertSqlStateAsync("22023", () => ReserveRawAsync(buyer, [.. leads], "credits"));
        Assert.Empty(await Data.PurchasesOfBuyerAsync(buyer, Ct));
    }

    [Fact]
    public async Task Exactly_100_leads_can_be_reserved_at_once()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leads = new List<Guid>();
        for (var i = 0; i < 100; i++)
        {
            leads.Add(await Data.ListedLeadAsync(seller, 1m, Ct));
        }

        var reservation = await Data.ReserveAsync(buyer, leads, "credits", Ct);

        Assert.Equal(100, reservation.LeadCount);
        Assert.Equal(100m, reservation.TotalPrice);
    }

    [Theory]
    [InlineData("bitcoin")]
    [InlineData("CREDITS")]
    [InlineData("")]
    [InlineData(null)]
    public async Task Unknown_payment_method_is_rejected_with_22023(string? paymentMethod)
    {
        var (buyer, lead) = await BuyerAndLeadAsync();
        await MarketplaceData.AssertSqlStateAsync("22023", () => ReserveRawAsync(buyer, [lead], paymentMethod));
    }

    [Fact]
    public async Task Unknown_buyer_workspace_gets_MK404()
    {
        var (_, lead) = await BuyerAndLeadAsync();
        await MarketplaceData.AssertSqlStateAsync("MK404", () => Data.ReserveAsync(Guid.NewGuid(), [lead], "credits", Ct));
        Assert.Equal("available", (await Data.LeadRowAsync(lead, Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task Unknown_lead_gets_MK404_naming_it()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();
        var missing = Guid.NewGuid();

        var error = await MarketplaceData.AssertSqlStateAsync("MK404", () => Data.ReserveAsync(buyer, [lead, missing], "credits", Ct));

        Assert.Contains(missing.ToString(), error.MessageText, StringComparison.Ordinal);
        Assert.Equal("available", (await Data.LeadRowAsync(lead, Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task Buying_an_own_lead_gets_MK403()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var own = await Data.ListedLeadAsync(buyer, 10m, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK403", () => Data.ReserveAsync(buyer, [own], "credits", Ct));
        Assert.Equal("available", (await Data.LeadRowAsync(own, Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task Sold_lead_gets_MK409()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();
        var firstBuyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        await Data.BuyWithCreditsAsync(firstBuyer, [lead], Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.ReserveAsync(buyer, [lead], "credits", Ct));
        Assert.Equal(1, (await Data.LeadRowAsync(lead, Ct)).SoldCount);
    }

    [Fact]
    public async Task Lead_sold_before_the_migration_gets_MK409_even_when_marked_available()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var soldBefore = await Data.LeadAsync(seller, new LeadSpec { SoldCount = 1, FirstSoldAt = DateTime.UtcNow.AddDays(-3) }, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.ReserveAsync(buyer, [soldBefore], "credits", Ct));
    }

    [Fact]
    public async Task Lead_not_listed_on_the_marketplace_gets_MK409()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var notListed = await Data.LeadAsync(seller, new LeadSpec { Listed = false }, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.ReserveAsync(buyer, [notListed], "credits", Ct));
    }

    [Fact]
    public async Task Unlisted_lead_gets_MK409()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var unlisted = await Data.LeadAsync(seller, new LeadSpec { Status = "unlisted" }, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.ReserveAsync(buyer, [unlisted], "credits", Ct));
    }

    [Fact]
    public async Task Lead_without_a_price_gets_MK409()
    {
        var (buyer, _) = await BuyerAndLeadAsync();
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var unpriced = await Data.LeadAsync(seller, new LeadSpec { Price = null }, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.ReserveAsync(buyer, [unpriced], "credits", Ct));
    }

    [Fact]
    public async Task Second_buyer_of_a_reserved_lead_gets_MK409()
    {
        var (firstBuyer, lead) = await BuyerAndLeadAsync();
        var first = await Data.ReserveAsync(firstBuyer, [lead], "credits", Ct);
        var secondBuyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);

        var error = await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.ReserveAsync(secondBuyer, [lead], "stripe", Ct));

        Assert.Contains(lead.ToString(), error.MessageText, StringComparison.Ordinal);
        Assert.Equal(first.PurchaseId, (await Data.LeadRowAsync(lead, Ct)).ReservedByPurchaseId);
        Assert.Empty(await Data.PurchasesOfBuyerAsync(secondBuyer, Ct));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Reservation_creates_a_pending_purchase_with_its_items_and_reserves_the_leads()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var sellerA = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var sellerB = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leadA = await Data.ListedLeadAsync(sellerA, 12.50m, Ct);
        var leadB = await Data.ListedLeadAsync(sellerB, 7.25m, Ct);

        var reservation = await Data.ReserveAsync(buyer, [leadB, leadA], "stripe", Ct);

        Assert.Equal(19.75m, reservation.TotalPrice);
        Assert.Equal(2, reservation.LeadCount);
        var purchase = await Data.PurchaseAsync(reservation.PurchaseId, Ct);
        Assert.Equal(("pending", "stripe", 19.75m, buyer), (purchase.Status, purchase.PaymentMethod, purchase.TotalPrice, purchase.BuyerWorkspaceId));
        Assert.Null(purchase.CompletedAt);
        var items = await Data.ItemsAsync(reservation.PurchaseId, Ct);
        Assert.Equal(
            new[] { (leadA, 12.50m), (leadB, 7.25m) }.OrderBy(i => i.Item1),
            items.Select(i => (i.LeadId, i.Price)).OrderBy(i => i.LeadId));
        foreach (var lead in new[] { leadA, leadB })
        {
            var row = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("reserved", reservation.PurchaseId), (row.MarketplaceStatus, row.ReservedByPurchaseId));
            Assert.Equal(purchase.ReservedUntil, row.ReservedUntil);
        }

        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Reservation_writes_a_purchase_reserved_audit_row()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();

        var reservation = await Data.ReserveAsync(buyer, [lead], "credits", Ct);

        var audit = Assert.Single(await Data.AuditAsync(reservation.PurchaseId, Ct));
        Assert.Equal(("purchase_reserved", buyer), (audit.Action, audit.WorkspaceId));
        Assert.Equal([lead], audit.GuidList("lead_ids"));
        Assert.Equal(10m, audit.Detail("total").GetDecimal());
        Assert.Equal("credits", audit.Detail("payment_method").GetString());
    }

    [Fact]
    public async Task Reservation_lasts_15_minutes_by_default()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();

        var reservation = await Data.ReserveAsync(buyer, [lead], "credits", Ct);

        var ttl = await Data.QuerySingleAsync<TimeSpan>(
            "SELECT reserved_until - created_at FROM marketplace_purchases WHERE id = @Id", new { Id = reservation.PurchaseId }, Ct);
        Assert.InRange(ttl, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Reservation_time_follows_the_marketplace_reservation_ttl_setting()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();
        await using var connection = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT set_config('marketplace.reservation_ttl', '20 minutes', true)", transaction: transaction, cancellationToken: Ct));

        var reservation = await connection.ReserveAsync(buyer, [lead], "credits", Ct);
        var ttl = await connection.QuerySingleAsync<TimeSpan>(new CommandDefinition(
            "SELECT reserved_until - created_at FROM marketplace_purchases WHERE id = @Id", new { Id = reservation.PurchaseId },
            transaction, cancellationToken: Ct));
        await transaction.CommitAsync(Ct);

        Assert.InRange(ttl, TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(20) + TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_lead_held_by_an_expired_reservation_is_taken_over_by_a_new_buyer()
    {
        var (firstBuyer, lead) = await BuyerAndLeadAsync();
        var first = await Data.ReserveAsync(firstBuyer, [lead], "credits", Ct);
        await Data.BackdateReservationAsync(first.PurchaseId, Ct);
        var secondBuyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);

        var second = await Data.ReserveAsync(secondBuyer, [lead], "credits", Ct);

        var row = await Data.LeadRowAsync(lead, Ct);
        Assert.Equal(("reserved", second.PurchaseId), (row.MarketplaceStatus, row.ReservedByPurchaseId));
        Assert.True(row.ReservedUntil > DateTime.UtcNow);
        // The old purchase is left to release_expired_lead_reservations.
        Assert.Equal("pending", (await Data.PurchaseAsync(first.PurchaseId, Ct)).Status);
        var audit = Assert.Single(await Data.AuditAsync(second.PurchaseId, Ct));
        Assert.Equal([first.PurchaseId], audit.GuidList("taken_over_from"));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Lead_row_locked_by_another_transaction_fails_at_once_with_55P03()
    {
        var (buyer, lead) = await BuyerAndLeadAsync();
        var seller = (await Data.LeadRowAsync(lead, Ct)).WorkspaceId;
        var free = await Data.ListedLeadAsync(seller, 10m, Ct);
        await using var holder = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var held = await holder.BeginTransactionAsync(Ct);
        await holder.ExecuteAsync(new CommandDefinition(
            "SELECT 1 FROM leads WHERE id = @Id FOR UPDATE", new { Id = lead }, held, cancellationToken: Ct));
        // A call that waited for the lock would end with 57014 (statement timeout), not 55P03.
        await using var caller = await OpenUnpooledAsync("-c statement_timeout=10s");

        await MarketplaceData.AssertSqlStateAsync("55P03", () => caller.ReserveAsync(buyer, [free, lead], "credits", Ct));

        await held.RollbackAsync(Ct);
        Assert.Empty(await Data.PurchasesOfBuyerAsync(buyer, Ct));
        Assert.Equal("available", (await Data.LeadRowAsync(free, Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task A_refused_reservation_leaves_nothing_behind()
    {
        var (buyer, free) = await BuyerAndLeadAsync();
        var seller = (await Data.LeadRowAsync(free, Ct)).WorkspaceId;
        var unlisted = await Data.LeadAsync(seller, new LeadSpec { Status = "unlisted" }, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.ReserveAsync(buyer, [free, unlisted], "credits", Ct));

        Assert.Empty(await Data.PurchasesOfBuyerAsync(buyer, Ct));
        Assert.Empty(await Data.AuditOfWorkspaceAsync(buyer, Ct));
        var row = await Data.LeadRowAsync(free, Ct);
        Assert.Equal(("available", (Guid?)null), (row.MarketplaceStatus, row.ReservedByPurchaseId));
        Assert.Equal(0L, await Data.QuerySingleAsync<long>(
            "SELECT count(*) FROM marketplace_purchase_items WHERE lead_id = @Id", new { Id = free }, Ct));
    }
}
