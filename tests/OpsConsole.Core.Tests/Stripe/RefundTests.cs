using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Stripe;

public sealed class RefundTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private StripeApiStandIn _stripe = null!;

    public async Task InitializeAsync() => _stripe = await StripeApiStandIn.StartAsync();

    public async Task DisposeAsync() => await _stripe.DisposeAsync();

    private StripeKit Kit() => StripeKit.Create(database.ConnectionString, database.DataSource, new Dictionary<string, string?>
    {
        ["Stripe:ApiKey"] = StripeKit.ApiKey,
        ["Stripe:ApiBase"] = _stripe.BaseUrl,
        ["Purchases:ReservationTtl"] = "00:00:00.050",
    });

    [Fact]
    public async Task Two_concurrent_refund_clicks_make_one_stripe_refund_one_record_and_one_audit_row()
    {
        await using var kit = Kit();
        var purchaseId = await RefundRequiredAsync(kit);
        var refunds = kit.Services.GetRequiredService<StripeRefunds>();
        _stripe.RefundDelay = TimeSpan.FromMilliseconds(300);
        var admin = TestActors.Admin;

        var results = await Task.WhenAll(
            refunds.IssueAsync(StripeKit.Support, purchaseId, CancellationToken.None),
            refunds.IssueAsync(admin, purchaseId, CancellationToken.None));

        Assert.Equal(1, _stripe.RefundsCreated);
        Assert.Equal(2, _stripe.RefundRequests);
        Assert.All(results, r => Assert.True(r.Succeeded, r.Refusal?.Message));
        Assert.Single(results, r => !r.Value.AlreadyIssued);
        Assert.Equal(results[0].Value.RefundId, results[1].Value.RefundId);
        Assert.Equal(1, await kit.ScalarAsync<int>("SELECT count(*) FROM ops.stripe_refunds WHERE purchase_id = @Id AND outcome = 'issued'", new { Id = purchaseId }));
        Assert.Equal(1, await kit.ScalarAsync<int>("SELECT count(*) FROM audit_logs WHERE action = 'refund_issued' AND details->'details'->>'purchaseId' = @Id", new { Id = purchaseId.ToString() }));
        Assert.Equal(StripeRefunds.IdempotencyKey(purchaseId), await kit.ScalarAsync<string>("SELECT idempotency_key FROM ops.stripe_refunds WHERE purchase_id = @Id", new { Id = purchaseId }));
        var entry = (await refunds.QueueAsync(50, CancellationToken.None)).Single(e => e.PurchaseId == purchaseId);
        Assert.True(entry.Refunded);

        var third = await refunds.IssueAsync(StripeKit.Support, purchaseId, CancellationToken.None);
        Assert.Equal(RefusalKind.Conflict, third.Refusal?.Kind);
        Assert.Equal(1, _stripe.RefundsCreated);
    }

    [Fact]
    public async Task A_stripe_error_is_shown_as_stripe_worded_it_and_nothing_is_marked_refunded()
    {
        await using var kit = Kit();
        var purchaseId = await RefundRequiredAsync(kit);
        var refunds = kit.Services.GetRequiredService<StripeRefunds>();
        _stripe.RefundError = ("charge_already_refunded", "Charge ch_3Pq has already been refunded.");

        var result = await refunds.IssueAsync(StripeKit.Support, purchaseId, CancellationToken.None);

        Assert.Equal(RefusalKind.Rule, result.Refusal?.Kind);
        Assert.Contains("Charge ch_3Pq has already been refunded.", result.Refusal!.Message, StringComparison.Ordinal);
        Assert.Equal(0, await kit.ScalarAsync<int>("SELECT count(*) FROM ops.stripe_refunds WHERE purchase_id = @Id AND outcome = 'issued'", new { Id = purchaseId }));
        Assert.Equal(("charge_already_refunded", "Charge ch_3Pq has already been refunded."), (await kit.QueryAsync<(string, string)>(
            "SELECT error_code, error_message FROM ops.stripe_refunds WHERE purchase_id = @Id", new { Id = purchaseId })).Single());
        Assert.Equal(0, await kit.ScalarAsync<int>("SELECT count(*) FROM audit_logs WHERE action = 'refund_issued' AND details->'details'->>'purchaseId' = @Id", new { Id = purchaseId.ToString() }));
        var entry = (await refunds.QueueAsync(50, CancellationToken.None)).Single(e => e.PurchaseId == purchaseId);
        Assert.False(entry.Refunded);
        Assert.Equal("Charge ch_3Pq has already been refunded.", entry.LastError);
    }

    [Fact]
    public async Task Only_support_or_admin_may_refund_and_a_refusal_records_nothing_and_calls_nothing()
    {
        await using var kit = Kit();
        var purchaseId = await RefundRequiredAsync(kit);
        var refunds = kit.Services.GetRequiredService<StripeRefunds>();
        var manager = TestActors.Manager;

        var results = new[]
        {
            await refunds.IssueAsync(StripeKit.Engineer, purchaseId, CancellationToken.None),
            await refunds.IssueAsync(manager, purchaseId, CancellationToken.None),
        };

        Assert.All(results, r => Assert.Equal(RefusalKind.Forbidden, r.Refusal?.Kind));
        Assert.Equal(0, _stripe.RefundRequests);
        Assert.Equal(0, await kit.ScalarAsync<int>("SELECT count(*) FROM ops.stripe_refunds WHERE purchase_id = @Id", new { Id = purchaseId }));
    }

    [Fact]
    public async Task A_purchase_not_waiting_for_a_refund_is_refused()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();

        var result = await kit.Services.GetRequiredService<StripeRefunds>().IssueAsync(StripeKit.Support, checkout.PurchaseId, CancellationToken.None);

        Assert.Equal(RefusalKind.Conflict, result.Refusal?.Kind);
        Assert.Equal(0, _stripe.RefundRequests);
    }

    private async Task<Guid> RefundRequiredAsync(StripeKit kit)
    {
        var checkout = await kit.CheckoutAsync(leadCount: 1);
        await Task.Delay(100);
        var creditBuyer = (await MarketSeed.WorkspacesAsync(database.DataSource, 1, 100m))[0];
        Assert.Equal(OpsConsole.Core.Purchases.PurchaseOutcome.Completed,
            (await kit.Purchases.PurchaseWithCreditsAsync(creditBuyer, checkout.Leads, "second-buyer", CancellationToken.None)).Outcome);
        Assert.Equal(DeliveryOutcome.RefundRequired, (await kit.DeliverAsync(checkout.Paid())).Outcome);
        return checkout.PurchaseId;
    }
}
