using OpsConsole.Core.Purchases;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;
using Xunit.Sdk;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The invariant check itself (Core's queries, behind the tests' assertion and the console's live checks), on the
/// marketplace's real columns: on each kind of breakage it reports the offending rows, with the values that show
/// it. Each test breaks a database of its own (xunit makes a class instance per test).
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

    /// <summary>A credit purchase of two leads at 2 each, completed through the drop-in as the app makes it.</summary>
    private async Task<(AppBuyer Buyer, Guid Purchase, Guid[] Leads)> CompletedPurchaseAsync()
    {
        var leads = await _data.LeadsAsync(2, 2m, Ct);
        var buyer = await _data.BuyerAsync(10, Ct);
        var outcome = await AppCallReplay.BuyWithCreditsAsync(_database.DataSource, buyer, leads, completionCalls: 1, Ct);
        Assert.Equal(ReplayStage.Completed, outcome.Stage);
        return (buyer, outcome.PurchaseId!.Value, leads);
    }

    [Fact]
    public async Task Purchases_made_through_the_drop_in_break_none()
    {
        await CompletedPurchaseAsync();
        Assert.Empty(await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_lead_sold_twice()
    {
        var (_, _, leads) = await CompletedPurchaseAsync();
        await _data.ExecuteAsync("UPDATE leads SET sold_count = 2 WHERE id = @Id", new { Id = leads[0] }, Ct);

        Assert.Equal([new InvariantViolation(1, $"lead {leads[0]}", "sold_count = 2")], await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_lead_in_two_completed_purchases_though_its_sold_count_says_once()
    {
        var (buyer, first, leads) = await CompletedPurchaseAsync();
        var second = await _data.PendingPurchaseAsync(buyer, [leads[0]], "stripe", 2m, 2m, Ct);
        await _data.ExecuteAsync("UPDATE marketplace_purchases SET status = 'completed', completed_at = now() WHERE id = @Id", new { Id = second }, Ct);

        var violation = Assert.Single(await ViolationsAsync());
        Assert.Equal(1, violation.Invariant);
        Assert.Equal($"lead {leads[0]}", violation.Subject);
        Assert.Contains("in 2 completed purchases", violation.Detail, StringComparison.Ordinal);
        Assert.Contains(first.ToString(), violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_a_credit_row_whose_balance_drifted_from_its_totals()
    {
        var (buyer, _, _) = await CompletedPurchaseAsync();
        await _data.ExecuteAsync("UPDATE workspace_credits SET balance = balance + 1 WHERE workspace_id = @Id", new { Id = buyer.WorkspaceId }, Ct);

        Assert.Equal(
            [new InvariantViolation(2, $"workspace {buyer.WorkspaceId}", "balance 7.0000, purchased 10.0000 + earned 0.0000 - used 4.0000 = 6.0000")],
            await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_completed_purchase_whose_total_is_not_the_sum_of_its_items()
    {
        var (_, purchase, _) = await CompletedPurchaseAsync();
        await _data.ExecuteAsync("UPDATE marketplace_purchases SET total_price = 5 WHERE id = @Id", new { Id = purchase }, Ct);

        Assert.Equal(
            [new InvariantViolation(3, $"purchase {purchase}", "total 5.00 for 2 leads, items sum 4.0000 over 2 items, unsold leads 0")],
            await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_credits_used_that_no_completed_credit_purchase_accounts_for()
    {
        var (buyer, _, _) = await CompletedPurchaseAsync();
        await _data.ExecuteAsync("UPDATE workspace_credits SET total_used = total_used + 1, balance = balance - 1 WHERE workspace_id = @Id",
            new { Id = buyer.WorkspaceId }, Ct);

        Assert.Equal(
            [new InvariantViolation(4, $"workspace {buyer.WorkspaceId}", "used 5.0000, completed credit purchases' items total 4.0000")],
            await ViolationsAsync());
    }

    [Fact]
    public async Task Reports_a_sold_lead_that_is_still_reserved()
    {
        var (buyer, _, leads) = await CompletedPurchaseAsync();
        await _data.ExecuteAsync("UPDATE leads SET reserved_for_workspace_id = @Buyer, reserved_until = now() + interval '1 minute' WHERE id = @Id",
            new { Id = leads[0], Buyer = buyer.WorkspaceId }, Ct);

        var violation = Assert.Single(await ViolationsAsync());
        Assert.Equal((5, $"lead {leads[0]}"), (violation.Invariant, violation.Subject));
        Assert.Contains($"reserved for {buyer.WorkspaceId}", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_tests_assertion_fails_naming_the_invariant_and_the_row()
    {
        var (_, _, leads) = await CompletedPurchaseAsync();
        await _data.ExecuteAsync("UPDATE leads SET sold_count = 3 WHERE id = @Id", new { Id = leads[1] }, Ct);

        var failure = await Assert.ThrowsAnyAsync<XunitException>(() => Invariants.AssertAllInvariantsAsync(_database.DataSource, Ct));

        Assert.Contains($"Invariant 1 ({MarketplaceInvariants.Names[1]}) is broken by:", failure.Message, StringComparison.Ordinal);
        Assert.Contains($"  lead {leads[1]}: sold_count = 3", failure.Message, StringComparison.Ordinal);
    }
}
