using OpsConsole.Testing;
using Xunit.Sdk;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The invariant check itself (Core's queries, behind the tests' assertion): it must fail, naming the rows,
/// on each kind of breakage. These tests break invariants on purpose, so they have a database of their own.
/// </summary>
public sealed class InvariantsTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    private async Task<string> FailureAsync()
    {
        var failure = await Assert.ThrowsAnyAsync<XunitException>(AssertInvariantsAsync);
        return failure.Message;
    }

    [Fact]
    public async Task Reports_a_lead_sold_twice()
    {
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.LeadAsync(seller, new LeadSpec { Status = "sold", SoldCount = 2 }, Ct);

        var message = await FailureAsync();

        Assert.Contains("Invariant 1 ", message, StringComparison.Ordinal);
        Assert.Contains($"lead {lead}: sold_count = 2", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_a_credit_row_whose_balance_drifted_from_its_totals()
    {
        var workspace = await Data.WorkspaceWithoutCreditsAsync(Ct);
        await Data.ExecuteAsync("INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@Id, 15, 10)", new { Id = workspace }, Ct);

        var message = await FailureAsync();

        Assert.Contains("Invariant 2 ", message, StringComparison.Ordinal);
        Assert.Contains($"workspace {workspace}", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_a_completed_purchase_whose_lead_is_not_sold()
    {
        var buyer = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.ListedLeadAsync(seller, 10m, Ct);
        var purchase = Guid.NewGuid();
        await Data.ExecuteAsync("""
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price) VALUES (@Purchase, @Buyer, 'completed', 'stripe', 10);
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price) VALUES (@Purchase, @Lead, 10);
            """, new { Purchase = purchase, Buyer = buyer, Lead = lead }, Ct);

        var message = await FailureAsync();

        Assert.Contains("Invariant 3 ", message, StringComparison.Ordinal);
        Assert.Contains($"purchase {purchase}", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_credits_used_that_no_completed_purchase_accounts_for()
    {
        var workspace = await Data.WorkspaceWithoutCreditsAsync(Ct);
        await Data.ExecuteAsync(
            "INSERT INTO workspace_credits (workspace_id, balance, total_purchased, total_used) VALUES (@Id, 5, 10, 5)", new { Id = workspace }, Ct);

        var message = await FailureAsync();

        Assert.Contains("Invariant 4 ", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_a_reserved_lead_that_no_pending_purchase_holds()
    {
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.LeadAsync(seller, new LeadSpec { Status = "reserved" }, Ct);

        var message = await FailureAsync();

        Assert.Contains("Invariant 5 ", message, StringComparison.Ordinal);
        Assert.Contains($"lead {lead}: reserved, but not by a pending purchase", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_a_lead_held_by_two_live_pending_purchases()
    {
        var buyer = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.ListedLeadAsync(seller, 10m, Ct);
        await Data.ExecuteAsync("""
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, reserved_until)
            VALUES (@First, @Buyer, 'pending', 'credits', 10, now() + interval '10 minutes'),
                   (@Second, @Buyer, 'pending', 'credits', 10, now() + interval '10 minutes');
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price) VALUES (@First, @Lead, 10), (@Second, @Lead, 10);
            """, new { First = Guid.NewGuid(), Second = Guid.NewGuid(), Buyer = buyer, Lead = lead }, Ct);

        var message = await FailureAsync();

        Assert.Contains("Invariant 5 ", message, StringComparison.Ordinal);
        Assert.Contains($"lead {lead}: 2 live pending purchases hold it", message, StringComparison.Ordinal);
    }
}
