using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>mark_leads_sold_bulk: all of the purchase's reserved leads, or none.</summary>
public sealed class MarkLeadsSoldBulkTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    private async Task<(Guid PurchaseId, Guid[] Leads)> ReservedLeadsAsync(int count, LeadSpec? spec = null)
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leads = new Guid[count];
        for (var i = 0; i < count; i++)
        {
            leads[i] = await Data.LeadAsync(seller, spec ?? new LeadSpec(), Ct);
        }

        return ((await Data.ReserveAsync(buyer, leads, "credits", Ct)).PurchaseId, leads);
    }

    private static Guid?[] Nullable(params Guid[] ids) => [.. ids.Select(id => (Guid?)id)];

    [Fact]
    public async Task Null_purchase_id_is_rejected_with_22023()
    {
        var (_, leads) = await ReservedLeadsAsync(1);
        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.MarkSoldAsync(null, Nullable(leads), Ct));
    }

    [Fact]
    public async Task Null_lead_list_is_rejected_with_22023()
    {
        var (purchase, _) = await ReservedLeadsAsync(1);
        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.MarkSoldAsync(purchase, null, Ct));
    }

    [Fact]
    public async Task Empty_lead_list_is_rejected_with_22023()
    {
        var (purchase, _) = await ReservedLeadsAsync(1);
        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.MarkSoldAsync(purchase, [], Ct));
    }

    [Fact]
    public async Task Duplicate_lead_ids_are_rejected_with_22023_and_nothing_is_marked()
    {
        var (purchase, leads) = await ReservedLeadsAsync(1);

        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.MarkSoldAsync(purchase, Nullable(leads[0], leads[0]), Ct));

        Assert.Equal("reserved", (await Data.LeadRowAsync(leads[0], Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task Null_lead_id_in_the_list_is_rejected_with_22023()
    {
        var (purchase, leads) = await ReservedLeadsAsync(1);
        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.MarkSoldAsync(purchase, [leads[0], null], Ct));
    }

    [Fact]
    public async Task Marks_every_lead_reserved_by_the_purchase_sold_and_returns_the_count()
    {
        var (purchase, leads) = await ReservedLeadsAsync(3);
        var before = DateTime.UtcNow.AddSeconds(-5);

        var marked = await Data.MarkSoldAsync(purchase, Nullable(leads), Ct);

        Assert.Equal(3, marked);
        foreach (var lead in leads)
        {
            var row = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("sold", 1, (Guid?)null, (DateTime?)null), (row.MarketplaceStatus, row.SoldCount, row.ReservedByPurchaseId, row.ReservedUntil));
            Assert.True(row.SoldAt > before);
            Assert.Equal(row.SoldAt, row.FirstSoldAt);
        }
    }

    [Fact]
    public async Task Keeps_first_sold_at_when_it_is_already_set()
    {
        var firstSold = new DateTime(2024, 11, 5, 9, 30, 0, DateTimeKind.Utc);
        var (purchase, leads) = await ReservedLeadsAsync(1, new LeadSpec { FirstSoldAt = firstSold });

        await Data.MarkSoldAsync(purchase, Nullable(leads), Ct);

        var row = await Data.LeadRowAsync(leads[0], Ct);
        Assert.Equal(firstSold, row.FirstSoldAt);
        Assert.True(row.SoldAt > firstSold);
    }

    [Fact]
    public async Task A_lead_not_reserved_by_the_purchase_gets_MK409_and_none_is_marked()
    {
        var (purchase, leads) = await ReservedLeadsAsync(2);
        var (otherPurchase, otherLeads) = await ReservedLeadsAsync(1);

        var error = await MarketplaceData.AssertSqlStateAsync("MK409",
            () => Data.MarkSoldAsync(purchase, Nullable(leads[0], otherLeads[0], leads[1]), Ct));

        Assert.Contains(otherLeads[0].ToString(), error.MessageText, StringComparison.Ordinal);
        foreach (var lead in leads)
        {
            var row = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("reserved", 0, (Guid?)purchase), (row.MarketplaceStatus, row.SoldCount, row.ReservedByPurchaseId));
        }

        Assert.Equal(otherPurchase, (await Data.LeadRowAsync(otherLeads[0], Ct)).ReservedByPurchaseId);
    }

    [Fact]
    public async Task An_available_lead_gets_MK409_and_stays_available()
    {
        var (purchase, leads) = await ReservedLeadsAsync(1);
        var seller = (await Data.LeadRowAsync(leads[0], Ct)).WorkspaceId;
        var available = await Data.ListedLeadAsync(seller, 10m, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.MarkSoldAsync(purchase, Nullable(available), Ct));

        var row = await Data.LeadRowAsync(available, Ct);
        Assert.Equal(("available", 0), (row.MarketplaceStatus, row.SoldCount));
    }

    [Fact]
    public async Task Marking_sold_leads_again_gets_MK409_and_sells_nothing_twice()
    {
        var (purchase, leads) = await ReservedLeadsAsync(1);
        await Data.MarkSoldAsync(purchase, Nullable(leads), Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.MarkSoldAsync(purchase, Nullable(leads), Ct));

        Assert.Equal(1, (await Data.LeadRowAsync(leads[0], Ct)).SoldCount);
    }

    [Fact]
    public async Task Marks_twenty_leads_with_one_update_statement_not_one_per_lead()
    {
        var (purchase, leads) = await ReservedLeadsAsync(20);
        await using var updates = await StatementCounter.InstallAsync(Database.DataSource, "leads", "UPDATE", Ct);

        Assert.Equal(20, await Data.MarkSoldAsync(purchase, Nullable(leads), Ct));

        Assert.Equal((1, 20L), await updates.ReadAsync(Ct));
    }
}
