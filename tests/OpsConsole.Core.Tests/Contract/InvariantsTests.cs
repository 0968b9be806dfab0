using OpsConsole.Core.Purchases;
using OpsConsole.Testing;
using Xunit.Sdk;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The invariant check itself (Core's queries, behind the tests' assertion and the console's live checks): on each
/// kind of breakage it reports exactly the offending rows, with the values that show it. Each test breaks a
/// database of its own (xunit makes a class instance per test), so no breakage depends on another test's.
/// </summary>
public sealed class InvariantsTests : IAsyncLifetime, IDisposable
{
    private readonly MarketplaceDatabase _database = new();
    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromMinutes(1));
    private MarketplaceData _data = null!;

    private CancellationToken Ct => _deadline.Token;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        _data = new MarketplaceData(_database.DataSource);
    }

    public Task DisposeAsync() => _database.DisposeAsync();

    public void Dispose() => _deadline.Dispose();

    private async Task<IReadOnlyList<InvariantViolation>> ViolationsAsync()
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync(Ct);
        return await MarketplaceInvariants.FindViolationsAsync(connection, Ct);
    }

    /// <summary>A completed card purchase of <paramref name="leads"/> (sold, priced 10 each), its seller credited with the total.</summary>
    private async Task<Guid> CompletedCardPurchaseAsync(Guid buyer, Guid seller, decimal total, params Guid[] leads)
    {
        var purchase = Guid.NewGuid();
        await _data.ExecuteAsync("""
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, completed_at)
            VALUES (@Purchase, @Buyer, 'completed', 'stripe', @Total, now());
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price) SELECT @Purchase, unnest(@Leads), 10;
            INSERT INTO workspace_credits (workspace_id, balance, total_earned) VALUES (@Seller, @Total, @Total)
            ON CONFLICT (workspace_id) DO UPDATE
               SET balance = workspace_credits.balance + excluded.balance, total_earned = workspace_credits.total_earned + excluded.total_earned;
            """, new { Purchase = purchase, Buyer = buyer, Seller = seller, Total = total, Leads = leads }, Ct);
        return purchase;
    }

    [Fact]
    public async Task A_fresh_marketplace_breaks_none()
    {
        Assert.Empty(await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_lead_sold_twice()
    {
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await _data.LeadAsync(seller, new LeadSpec { Status = "sold", SoldCount = 2 }, Ct);

        Assert.Equal([new InvariantViolation(1, $"lead {lead}", "sold_count = 2")], await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_lead_in_two_completed_purchases_though_its_sold_count_says_once()
    {
        var buyer = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await _data.LeadAsync(seller, new LeadSpec { Status = "sold", SoldCount = 1 }, Ct);
        Guid[] purchases = [await CompletedCardPurchaseAsync(buyer, seller, 10m, lead), await CompletedCardPurchaseAsync(buyer, seller, 10m, lead)];

        var ids = string.Join(", ", purchases.Select(p => p.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal([new InvariantViolation(1, $"lead {lead}", $"in 2 completed purchases ({ids})")], await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_credit_row_whose_balance_drifted_from_its_totals()
    {
        var workspace = await _data.WorkspaceWithoutCreditsAsync(Ct);
        await _data.ExecuteAsync("INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@Id, 15, 10)", new { Id = workspace }, Ct);

        Assert.Equal(
            [new InvariantViolation(2, $"workspace {workspace}", "balance 15.00, purchased 10.00 + earned 0.00 - used 0.00 = 10.00")],
            await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_completed_purchase_whose_lead_is_not_sold()
    {
        var buyer = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await _data.ListedLeadAsync(seller, 10m, Ct);
        var purchase = await CompletedCardPurchaseAsync(buyer, seller, 10m, lead);

        Assert.Equal([new InvariantViolation(3, $"purchase {purchase}", "total 10.00, items sum 10.00, unsold leads 1")], await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_completed_purchase_whose_total_is_not_the_sum_of_its_items()
    {
        var buyer = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var first = await _data.LeadAsync(seller, new LeadSpec { Status = "sold", SoldCount = 1 }, Ct);
        var second = await _data.LeadAsync(seller, new LeadSpec { Status = "sold", SoldCount = 1 }, Ct);
        // The seller earned what the buyer was charged (25), so only the purchase's own arithmetic is wrong.
        var purchase = await CompletedCardPurchaseAsync(buyer, seller, 25m, first, second);

        Assert.Equal([new InvariantViolation(3, $"purchase {purchase}", "total 25.00, items sum 20.00, unsold leads 0")], await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_credits_used_that_no_completed_purchase_accounts_for()
    {
        var workspace = await _data.WorkspaceWithoutCreditsAsync(Ct);
        await _data.ExecuteAsync(
            "INSERT INTO workspace_credits (workspace_id, balance, total_purchased, total_used) VALUES (@Id, 5, 10, 5)", new { Id = workspace }, Ct);

        Assert.Equal(
            [new InvariantViolation(4, "credit totals", "buyers used 5.00, credit purchases completed 0; sellers earned 0.00, purchases completed 0")],
            await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_reserved_lead_that_no_pending_purchase_holds()
    {
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await _data.LeadAsync(seller, new LeadSpec { Status = "reserved" }, Ct);

        Assert.Equal([new InvariantViolation(5, $"lead {lead}", "reserved, but not by a pending purchase holding it (by nobody)")], await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_lead_held_by_two_live_pending_purchases()
    {
        var buyer = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await _data.ListedLeadAsync(seller, 10m, Ct);
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        await _data.ExecuteAsync("""
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, reserved_until)
            VALUES (@First, @Buyer, 'pending', 'credits', 10, now() + interval '10 minutes'),
                   (@Second, @Buyer, 'pending', 'credits', 10, now() + interval '10 minutes');
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price) VALUES (@First, @Lead, 10), (@Second, @Lead, 10);
            UPDATE leads SET marketplace_status = 'reserved', reserved_by_purchase_id = @First, reserved_until = now() + interval '10 minutes'
            WHERE id = @Lead;
            """, new { First = first, Second = second, Buyer = buyer, Lead = lead }, Ct);

        Assert.Equal(
            [
                new InvariantViolation(5, $"lead {lead}", "2 live pending purchases hold it"),
                new InvariantViolation(5, $"purchase {second}", $"live pending purchase, but its lead {lead} is reserved by {first}"),
            ],
            await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_live_pending_purchase_whose_lead_is_no_longer_reserved_by_it()
    {
        var buyer = await _data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var kept = await _data.ListedLeadAsync(seller, 10m, Ct);
        var freed = await _data.ListedLeadAsync(seller, 10m, Ct);
        var purchase = (await _data.ReserveAsync(buyer, [kept, freed], "credits", Ct)).PurchaseId;
        // What a sweep that frees leads without expiring their purchase would leave.
        await _data.ExecuteAsync(
            "UPDATE leads SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL WHERE id = @Id", new { Id = freed }, Ct);

        Assert.Equal(
            [new InvariantViolation(5, $"purchase {purchase}", $"live pending purchase, but its lead {freed} is available")],
            await ViolationsAsync());
    }

    [Fact]
    public async Task The_tests_assertion_fails_naming_the_invariant_and_the_row()
    {
        var seller = await _data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await _data.LeadAsync(seller, new LeadSpec { Status = "sold", SoldCount = 3 }, Ct);

        var failure = await Assert.ThrowsAnyAsync<XunitException>(() => Invariants.AssertAllInvariantsAsync(_database.DataSource, Ct));

        Assert.Contains($"Invariant 1 ({MarketplaceInvariants.Names[1]}) is broken by:", failure.Message, StringComparison.Ordinal);
        Assert.Contains($"  lead {lead}: sold_count = 3", failure.Message, StringComparison.Ordinal);
    }
}
