using Dapper;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The drop-in's guarantees (docs/marketplace-contract.md) on the database the console migrates, called with the
/// signatures and argument names route.ts and the Stripe webhook use: each RPC its own transaction, as the app
/// makes them. The app's whole call sequence under concurrency is in RealMarketplace/AppCallSequenceTests.
/// </summary>
public sealed class DropInGuaranteeTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_validated_lead_stays_reserved_for_its_buyer_after_the_call_and_another_buyer_is_refused()
    {
        var leads = await Data.LeadsAsync(2, 1.25m, Ct);
        var first = await Data.BuyerAsync(10, Ct);
        var second = await Data.BuyerAsync(10, Ct);

        Assert.Equal(leads.Order(), (await Data.ValidateAsync(leads, first.WorkspaceId, Ct)).Order());
        var error = await MarketplaceData.AssertSqlStateAsync("P0001", () => Data.ValidateAsync(leads, second.WorkspaceId, Ct));

        Assert.Contains("no longer available", error.MessageText, StringComparison.Ordinal);
        var lead = await Data.LeadRowAsync(leads[0], Ct);
        Assert.Equal(first.WorkspaceId, lead.ReservedForWorkspaceId);
        Assert.InRange(lead.ReservedUntil!.Value, DateTime.UtcNow.AddMinutes(14), DateTime.UtcNow.AddMinutes(16));
        // The same buyer may validate again (a retry of its own request).
        Assert.Equal(2, (await Data.ValidateAsync(leads, first.WorkspaceId, Ct)).Length);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_reservation_time_follows_the_marketplace_reservation_ttl_setting()
    {
        var leads = await Data.LeadsAsync(1, 1m, Ct);
        var buyer = await Data.BuyerAsync(10, Ct);
        await using var connection = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT set_config('marketplace.reservation_ttl', '20 minutes', true)", transaction: transaction, cancellationToken: Ct));
        await Data.ValidateAsync(leads, buyer.WorkspaceId, Ct, connection);
        await transaction.CommitAsync(Ct);

        var lead = await Data.LeadRowAsync(leads[0], Ct);
        Assert.InRange(lead.ReservedUntil!.Value, DateTime.UtcNow.AddMinutes(19), DateTime.UtcNow.AddMinutes(21));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    public async Task A_lead_list_of_the_wrong_size_is_refused_with_22023_and_reserves_nothing(int count)
    {
        var buyer = await Data.BuyerAsync(10, Ct);
        var leads = count == 0 ? [] : await Data.LeadsAsync(count, 1m, Ct);

        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.ValidateAsync(leads, buyer.WorkspaceId, Ct));

        foreach (var lead in leads.Take(3))
        {
            Assert.Null((await Data.LeadRowAsync(lead, Ct)).ReservedForWorkspaceId);
        }
    }

    [Fact]
    public async Task Duplicate_lead_ids_are_refused_with_22023()
    {
        var buyer = await Data.BuyerAsync(10, Ct);
        var lead = (await Data.LeadsAsync(1, 1m, Ct))[0];

        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.ValidateAsync([lead, lead], buyer.WorkspaceId, Ct));
        Assert.Null((await Data.LeadRowAsync(lead, Ct)).ReservedForWorkspaceId);
    }

    [Fact]
    public async Task A_retried_credit_completion_charges_once_and_says_it_charged_nothing_now()
    {
        var leads = await Data.LeadsAsync(2, 1.5m, Ct);
        var buyer = await Data.BuyerAsync(10, Ct);

        var outcome = await AppCallReplay.BuyWithCreditsAsync(Database.DataSource, buyer, leads, completionCalls: 3, Ct);

        Assert.Equal(ReplayStage.Completed, outcome.Stage);
        Assert.Equal([true, true, true], outcome.CompletionSuccesses);
        Assert.StartsWith("already_completed", outcome.Error, StringComparison.Ordinal);
        var credits = await Data.CreditsAsync(buyer.WorkspaceId, Ct);
        Assert.Equal(7m, credits.Balance);
        Assert.Equal(3m, credits.TotalUsed);
        Assert.All(await Task.WhenAll(leads.Select(l => Data.LeadRowAsync(l, Ct))), l => Assert.Equal(1, l.SoldCount));
        var purchase = await Data.PurchaseAsync(outcome.PurchaseId!.Value, Ct);
        Assert.Equal("completed", purchase.Status);
        Assert.Equal(3m, purchase.CreditsUsed);
        Assert.Contains("marketplace_purchase_completed", await Data.AuditActionsAsync(outcome.PurchaseId.Value, Ct));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task The_total_is_recomputed_from_the_items_and_a_client_amount_that_disagrees_is_refused_without_a_charge()
    {
        var leads = await Data.LeadsAsync(2, 0.05m, Ct);
        var buyer = await Data.BuyerAsync(10, Ct);
        await Data.ValidateAsync(leads, buyer.WorkspaceId, Ct);
        // The items say 0.10 in all; the client sends (and the row claims) 0.05.
        var purchase = await Data.PendingPurchaseAsync(buyer, leads, "credits", 0.05m, 0.05m, Ct);

        var answer = await Data.CompleteCreditAsync(purchase, buyer.WorkspaceId, 0.05m, Ct);

        Assert.False(answer.Success);
        Assert.Contains("does not match", answer.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("failed", (await Data.PurchaseAsync(purchase, Ct)).Status);
        Assert.Equal(10m, (await Data.CreditsAsync(buyer.WorkspaceId, Ct)).Balance);
        var lead = await Data.LeadRowAsync(leads[0], Ct);
        Assert.Equal(0, lead.SoldCount);
        Assert.Null(lead.ReservedForWorkspaceId); // a refusal frees the buyer's reservations
        Assert.Contains("marketplace_purchase_refused", await Data.AuditActionsAsync(purchase, Ct));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task No_fraction_of_a_credit_is_lost_twenty_purchases_at_half_a_credit_charge_ten()
    {
        var leads = await Data.LeadsAsync(20, 0.5m, Ct);
        var buyer = await Data.BuyerAsync(20, Ct);

        foreach (var lead in leads)
        {
            Assert.Equal(ReplayStage.Completed, (await AppCallReplay.BuyWithCreditsAsync(Database.DataSource, buyer, [lead], completionCalls: 1, Ct)).Stage);
        }

        var credits = await Data.CreditsAsync(buyer.WorkspaceId, Ct);
        Assert.Equal(10m, credits.Balance);
        Assert.Equal(10m, credits.TotalUsed);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Completion_re_checks_every_lead_and_a_lead_sold_meanwhile_fails_the_purchase_without_a_charge()
    {
        var leads = await Data.LeadsAsync(2, 1m, Ct);
        var late = await Data.BuyerAsync(10, Ct);
        var other = await Data.BuyerAsync(10, Ct);
        await Data.ValidateAsync(leads, late.WorkspaceId, Ct);
        var purchase = await Data.PendingPurchaseAsync(late, leads, "credits", 1m, 2m, Ct);
        // The late buyer's reservation ran out; another buyer takes one of its leads.
        await Data.BackdateAsync(leads, null, Ct);
        Assert.Equal(ReplayStage.Completed, (await AppCallReplay.BuyWithCreditsAsync(Database.DataSource, other, [leads[0]], completionCalls: 1, Ct)).Stage);

        var answer = await Data.CompleteCreditAsync(purchase, late.WorkspaceId, 2m, Ct);

        Assert.False(answer.Success);
        Assert.Contains("no longer available", answer.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("failed", (await Data.PurchaseAsync(purchase, Ct)).Status);
        Assert.Equal(10m, (await Data.CreditsAsync(late.WorkspaceId, Ct)).Balance);
        Assert.Equal(1, (await Data.LeadRowAsync(leads[0], Ct)).SoldCount);
        Assert.Equal(0, (await Data.LeadRowAsync(leads[1], Ct)).SoldCount);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_late_card_payment_for_a_lead_sold_meanwhile_ends_refund_required_never_a_second_sale()
    {
        var leads = await Data.LeadsAsync(2, 2m, Ct);
        var cardBuyer = await Data.BuyerAsync(0, Ct);
        var creditBuyer = await Data.BuyerAsync(10, Ct);
        var checkout = await AppCallReplay.StartCardCheckoutAsync(Database.DataSource, cardBuyer, leads, Ct);
        Assert.Equal(ReplayStage.CheckoutStarted, checkout.Stage);
        await Data.BackdateAsync(leads, null, Ct);
        Assert.Equal(ReplayStage.Completed, (await AppCallReplay.BuyWithCreditsAsync(Database.DataSource, creditBuyer, [leads[1]], completionCalls: 1, Ct)).Stage);

        var payment = await AppCallReplay.DeliverCheckoutCompletedAsync(Database.DataSource, checkout.PurchaseId!.Value, Ct);
        var redelivery = await AppCallReplay.DeliverCheckoutCompletedAsync(Database.DataSource, checkout.PurchaseId.Value, Ct);

        Assert.Equal(new StripeCompletion(false, true, []), payment);
        Assert.Equal(new StripeCompletion(false, true, []), redelivery);
        var purchase = await Data.PurchaseAsync(checkout.PurchaseId.Value, Ct);
        Assert.Equal("refund_required", purchase.Status);
        Assert.Equal(purchase.TotalPrice, purchase.RefundAmount);
        Assert.Equal(1, (await Data.LeadRowAsync(leads[1], Ct)).SoldCount);
        Assert.Equal(0, (await Data.LeadRowAsync(leads[0], Ct)).SoldCount);
        Assert.Contains("marketplace_purchase_refund_required", await Data.AuditActionsAsync(checkout.PurchaseId.Value, Ct));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_card_payment_completes_once_and_a_redelivery_changes_nothing()
    {
        var leads = await Data.LeadsAsync(2, 2m, Ct);
        var cardBuyer = await Data.BuyerAsync(0, Ct);
        var checkout = await AppCallReplay.StartCardCheckoutAsync(Database.DataSource, cardBuyer, leads, Ct);

        var payment = await AppCallReplay.DeliverCheckoutCompletedAsync(Database.DataSource, checkout.PurchaseId!.Value, Ct);
        var redelivery = await AppCallReplay.DeliverCheckoutCompletedAsync(Database.DataSource, checkout.PurchaseId.Value, Ct);

        Assert.True(payment.Success);
        Assert.Equal(leads.Order(), payment.LeadIdsMarked.Order());
        Assert.Equal(new StripeCompletion(false, true, []), redelivery);
        Assert.Equal("completed", (await Data.PurchaseAsync(checkout.PurchaseId.Value, Ct)).Status);
        Assert.All(await Task.WhenAll(leads.Select(l => Data.LeadRowAsync(l, Ct))), l => Assert.Equal(1, l.SoldCount));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Releasing_expired_reservations_frees_the_leads_of_old_pending_credit_purchases_and_leaves_card_checkouts_pending()
    {
        var leads = await Data.LeadsAsync(2, 1m, Ct);
        var creditBuyer = await Data.BuyerAsync(10, Ct);
        var cardBuyer = await Data.BuyerAsync(0, Ct);
        await Data.ValidateAsync([leads[0]], creditBuyer.WorkspaceId, Ct);
        var credit = await Data.PendingPurchaseAsync(creditBuyer, [leads[0]], "credits", 1m, 1m, Ct);
        var card = (await AppCallReplay.StartCardCheckoutAsync(Database.DataSource, cardBuyer, [leads[1]], Ct)).PurchaseId!.Value;
        await Data.BackdateAsync(leads, credit, Ct);
        await Data.BackdateAsync([], card, Ct);

        Assert.Equal(1, await Data.ReleaseExpiredAsync(Ct));

        Assert.Null((await Data.LeadRowAsync(leads[0], Ct)).ReservedForWorkspaceId);
        Assert.Equal("expired", (await Data.PurchaseAsync(credit, Ct)).Status);
        Assert.Equal("pending", (await Data.PurchaseAsync(card, Ct)).Status);
        // The card checkout's ended reservation is left on its lead, inert: another buyer may take the lead.
        Assert.True((await Data.LeadRowAsync(leads[1], Ct)).ReservedUntil <= DateTime.UtcNow);
        var other = await Data.BuyerAsync(10, Ct);
        Assert.Equal(ReplayStage.Completed, (await AppCallReplay.BuyWithCreditsAsync(Database.DataSource, other, [leads[1]], completionCalls: 1, Ct)).Stage);
        await AssertInvariantsAsync();
    }
}
