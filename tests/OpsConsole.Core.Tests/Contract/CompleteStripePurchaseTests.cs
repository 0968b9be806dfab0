using Dapper;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>complete_stripe_lead_purchase: each of its four outcomes, late payments, and its refusals.</summary>
public sealed class CompleteStripePurchaseTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    private static string NewEventId() => $"evt_{Guid.NewGuid():N}";

    private static string NewPaymentIntentId() => $"pi_{Guid.NewGuid():N}";

    private async Task<(Guid Buyer, Guid Seller, Guid[] Leads, Guid PurchaseId)> StripeCheckoutAsync(int leadCount = 2)
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(50m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leads = new Guid[leadCount];
        for (var i = 0; i < leadCount; i++)
        {
            leads[i] = await Data.ListedLeadAsync(seller, 10m, Ct);
        }

        var reservation = await Data.ReserveAsync(buyer, leads, "stripe", Ct);
        return (buyer, seller, leads, reservation.PurchaseId);
    }

    [Fact]
    public async Task Null_purchase_id_is_rejected_with_22023()
    {
        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.CompleteStripeAsync(null, NewEventId(), NewPaymentIntentId(), Ct));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public async Task Missing_event_id_is_rejected_with_22023(string? eventId)
    {
        var (_, _, _, purchase) = await StripeCheckoutAsync(1);
        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.CompleteStripeAsync(purchase, eventId, NewPaymentIntentId(), Ct));
        Assert.Equal("pending", (await Data.PurchaseAsync(purchase, Ct)).Status);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public async Task Missing_payment_intent_id_is_rejected_with_22023(string? paymentIntentId)
    {
        var (_, _, _, purchase) = await StripeCheckoutAsync(1);
        var eventId = NewEventId();

        await MarketplaceData.AssertSqlStateAsync("22023", () => Data.CompleteStripeAsync(purchase, eventId, paymentIntentId, Ct));

        Assert.Null(await Data.WebhookEventAsync(eventId, Ct));
    }

    [Fact]
    public async Task Unknown_purchase_gets_MK404_and_the_event_is_not_recorded()
    {
        var eventId = NewEventId();

        await MarketplaceData.AssertSqlStateAsync("MK404", () => Data.CompleteStripeAsync(Guid.NewGuid(), eventId, NewPaymentIntentId(), Ct));

        // Nothing of a failed call remains, so Stripe's retry of the event counts as a first delivery.
        Assert.Null(await Data.WebhookEventAsync(eventId, Ct));
    }

    [Fact]
    public async Task Paying_a_credit_purchase_by_stripe_gets_MK409()
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(50m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var reservation = await Data.ReserveAsync(buyer, [await Data.ListedLeadAsync(seller, 10m, Ct)], "credits", Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.CompleteStripeAsync(reservation.PurchaseId, NewEventId(), NewPaymentIntentId(), Ct));

        Assert.Equal("pending", (await Data.PurchaseAsync(reservation.PurchaseId, Ct)).Status);
    }

    [Fact]
    public async Task Paying_a_failed_purchase_gets_MK409()
    {
        var (_, _, leads, purchase) = await StripeCheckoutAsync(1);
        // No function fails a stripe purchase; the core library may (payment_intent.payment_failed).
        await Data.ExecuteAsync("""
            UPDATE leads SET marketplace_status = 'available', reserved_by_purchase_id = NULL, reserved_until = NULL WHERE id = @Lead;
            UPDATE marketplace_purchases SET status = 'failed' WHERE id = @Purchase;
            """, new { Lead = leads[0], Purchase = purchase }, Ct);

        await MarketplaceData.AssertSqlStateAsync("MK409", () => Data.CompleteStripeAsync(purchase, NewEventId(), NewPaymentIntentId(), Ct));

        Assert.Equal("available", (await Data.LeadRowAsync(leads[0], Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task First_delivery_completes_the_purchase_sells_the_leads_and_credits_the_seller()
    {
        var (buyer, seller, leads, purchase) = await StripeCheckoutAsync();
        var eventId = NewEventId();
        var paymentIntentId = NewPaymentIntentId();

        var completion = await Data.CompleteStripeAsync(purchase, eventId, paymentIntentId, Ct);

        Assert.Equal((purchase, "completed"), (completion.PurchaseId, completion.Status));
        var row = await Data.PurchaseAsync(purchase, Ct);
        Assert.Equal(("completed", paymentIntentId, eventId), (row.Status, row.StripePaymentIntentId, row.StripeEventId));
        Assert.NotNull(row.CompletedAt);
        foreach (var lead in leads)
        {
            var leadRow = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("sold", 1), (leadRow.MarketplaceStatus, leadRow.SoldCount));
        }

        Assert.Equal(new CreditRow { Balance = 20m, TotalEarned = 20m }, await Data.CreditsAsync(seller, Ct));
        // Paid by card: the buyer's credits do not move.
        Assert.Equal(new CreditRow { Balance = 50m, TotalPurchased = 50m }, await Data.CreditsAsync(buyer, Ct));
        var audit = Assert.Single(await Data.AuditAsync(purchase, Ct), a => a.Action == "purchase_completed");
        Assert.Equal("stripe", audit.Detail("payment_method").GetString());
        var recorded = await Data.WebhookEventAsync(eventId, Ct);
        Assert.Equal(("payment_intent.succeeded", 1, (Guid?)purchase, paymentIntentId),
            (recorded!.Type, recorded.Deliveries, recorded.PurchaseId, recorded.PaymentIntentId));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Repeated_event_is_a_duplicate_and_only_raises_its_delivery_count()
    {
        var (_, seller, leads, purchase) = await StripeCheckoutAsync();
        var eventId = NewEventId();
        var paymentIntentId = NewPaymentIntentId();
        await Data.CompleteStripeAsync(purchase, eventId, paymentIntentId, Ct);
        var first = await Data.WebhookEventAsync(eventId, Ct);

        var second = await Data.CompleteStripeAsync(purchase, eventId, paymentIntentId, Ct);
        var third = await Data.CompleteStripeAsync(purchase, eventId, paymentIntentId, Ct);

        Assert.Equal(("duplicate", "duplicate"), (second.Status, third.Status));
        var recorded = await Data.WebhookEventAsync(eventId, Ct);
        Assert.Equal(3, recorded!.Deliveries);
        Assert.Equal(first!.FirstReceivedAt, recorded.FirstReceivedAt);
        Assert.True(recorded.LastReceivedAt > first.LastReceivedAt);
        Assert.Equal(20m, (await Data.CreditsAsync(seller, Ct))!.Balance);
        foreach (var lead in leads)
        {
            Assert.Equal(("sold", 1), await LeadStateAsync(lead));
        }
        Assert.Single(await Data.AuditAsync(purchase, Ct), a => a.Action == "purchase_completed");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Another_event_for_a_completed_purchase_is_already_completed_and_changes_nothing()
    {
        var (_, seller, _, purchase) = await StripeCheckoutAsync();
        var firstEvent = NewEventId();
        await Data.CompleteStripeAsync(purchase, firstEvent, NewPaymentIntentId(), Ct);

        var other = await Data.CompleteStripeAsync(purchase, NewEventId(), NewPaymentIntentId(), Ct);

        Assert.Equal("already_completed", other.Status);
        Assert.Equal(firstEvent, (await Data.PurchaseAsync(purchase, Ct)).StripeEventId);
        Assert.Equal(20m, (await Data.CreditsAsync(seller, Ct))!.Balance);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Late_payment_after_a_lead_was_sold_elsewhere_requires_a_refund_and_sells_nothing_twice()
    {
        var (_, seller, leads, purchase) = await StripeCheckoutAsync();
        await Data.BackdateReservationAsync(purchase, Ct);
        Assert.True(await Data.ReleaseExpiredAsync(Ct) >= 1);
        var otherBuyer = await Data.WorkspaceWithCreditsAsync(50m, Ct);
        await Data.BuyWithCreditsAsync(otherBuyer, [leads[0]], Ct);
        var eventId = NewEventId();
        var paymentIntentId = NewPaymentIntentId();

        var completion = await Data.CompleteStripeAsync(purchase, eventId, paymentIntentId, Ct);

        Assert.Equal("refund_required", completion.Status);
        var row = await Data.PurchaseAsync(purchase, Ct);
        Assert.Equal(("refund_required", paymentIntentId, eventId), (row.Status, row.StripePaymentIntentId, row.StripeEventId));
        Assert.Null(row.CompletedAt);
        Assert.Equal(1, (await Data.LeadRowAsync(leads[0], Ct)).SoldCount);
        Assert.Equal(("available", 0), await LeadStateAsync(leads[1]));
        Assert.Equal(new CreditRow { Balance = 10m, TotalEarned = 10m }, await Data.CreditsAsync(seller, Ct));
        var audit = Assert.Single(await Data.AuditAsync(purchase, Ct), a => a.Action == "purchase_refund_required");
        Assert.Equal([leads[0]], audit.GuidList("conflicting_lead_ids"));
        Assert.Equal(paymentIntentId, audit.Detail("payment_intent_id").GetString());
        Assert.Equal(1, (await Data.WebhookEventAsync(eventId, Ct))!.Deliveries);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Payment_for_a_purchase_whose_lead_another_checkout_now_holds_requires_a_refund_and_frees_its_other_leads()
    {
        var (_, _, leads, purchase) = await StripeCheckoutAsync();
        await Data.BackdateReservationAsync(purchase, Ct);
        var otherBuyer = await Data.WorkspaceWithCreditsAsync(50m, Ct);
        var taker = await Data.ReserveAsync(otherBuyer, [leads[0]], "credits", Ct);

        var completion = await Data.CompleteStripeAsync(purchase, NewEventId(), NewPaymentIntentId(), Ct);

        Assert.Equal("refund_required", completion.Status);
        Assert.Equal(taker.PurchaseId, (await Data.LeadRowAsync(leads[0], Ct)).ReservedByPurchaseId);
        Assert.Equal(("available", 0), await LeadStateAsync(leads[1]));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Another_event_for_a_refund_required_purchase_answers_refund_required_and_changes_nothing()
    {
        var (_, seller, leads, purchase) = await StripeCheckoutAsync(1);
        await Data.BackdateReservationAsync(purchase, Ct);
        var otherBuyer = await Data.WorkspaceWithCreditsAsync(50m, Ct);
        await Data.BuyWithCreditsAsync(otherBuyer, leads, Ct);
        var firstEvent = NewEventId();
        Assert.Equal("refund_required", (await Data.CompleteStripeAsync(purchase, firstEvent, NewPaymentIntentId(), Ct)).Status);

        var again = await Data.CompleteStripeAsync(purchase, NewEventId(), NewPaymentIntentId(), Ct);

        Assert.Equal("refund_required", again.Status);
        Assert.Equal(firstEvent, (await Data.PurchaseAsync(purchase, Ct)).StripeEventId);
        Assert.Single(await Data.AuditAsync(purchase, Ct), a => a.Action == "purchase_refund_required");
        Assert.Equal(10m, (await Data.CreditsAsync(seller, Ct))!.Balance);
    }

    [Fact]
    public async Task Late_payment_for_an_expired_purchase_whose_leads_are_still_free_completes()
    {
        var (_, seller, leads, purchase) = await StripeCheckoutAsync();
        await Data.BackdateReservationAsync(purchase, Ct);
        Assert.True(await Data.ReleaseExpiredAsync(Ct) >= 1);
        Assert.Equal("expired", (await Data.PurchaseAsync(purchase, Ct)).Status);

        var completion = await Data.CompleteStripeAsync(purchase, NewEventId(), NewPaymentIntentId(), Ct);

        Assert.Equal("completed", completion.Status);
        Assert.Equal("completed", (await Data.PurchaseAsync(purchase, Ct)).Status);
        foreach (var lead in leads)
        {
            Assert.Equal(("sold", 1), await LeadStateAsync(lead));
        }

        Assert.Equal(20m, (await Data.CreditsAsync(seller, Ct))!.TotalEarned);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Late_payment_for_a_pending_purchase_past_its_reservation_completes_while_it_still_holds_the_leads()
    {
        var (_, _, leads, purchase) = await StripeCheckoutAsync();
        await Data.BackdateReservationAsync(purchase, Ct);

        var completion = await Data.CompleteStripeAsync(purchase, NewEventId(), NewPaymentIntentId(), Ct);

        Assert.Equal("completed", completion.Status);
        foreach (var lead in leads)
        {
            Assert.Equal(("sold", 1), await LeadStateAsync(lead));
        }
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Lead_row_locked_by_another_transaction_fails_with_55P03_and_leaves_the_event_unrecorded()
    {
        var (_, seller, leads, purchase) = await StripeCheckoutAsync(1);
        await using var holder = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var held = await holder.BeginTransactionAsync(Ct);
        await holder.ExecuteAsync(new CommandDefinition("SELECT 1 FROM leads WHERE id = @Id FOR UPDATE", new { Id = leads[0] }, held, cancellationToken: Ct));
        await using var caller = await OpenUnpooledAsync("-c statement_timeout=10s");
        var eventId = NewEventId();

        await MarketplaceData.AssertSqlStateAsync("55P03", () => caller.CompleteStripeAsync(purchase, eventId, NewPaymentIntentId(), Ct));

        await held.RollbackAsync(Ct);
        Assert.Null(await Data.WebhookEventAsync(eventId, Ct));
        Assert.Equal("pending", (await Data.PurchaseAsync(purchase, Ct)).Status);
        Assert.Null(await Data.CreditsAsync(seller, Ct));
    }

    private async Task<(string Status, int SoldCount)> LeadStateAsync(Guid lead)
    {
        var row = await Data.LeadRowAsync(lead, Ct);
        return (row.MarketplaceStatus, row.SoldCount);
    }
}
