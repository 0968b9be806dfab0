using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Purchases;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Stripe;

/// <summary>One test per answer of the receiver, each checking what was written and what was not.</summary>
public sealed class WebhookReceiverTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private StripeKit Kit() => StripeKit.Create(database.ConnectionString, database.DataSource);

    [Fact]
    public async Task A_paid_payment_intent_completes_its_purchase_and_logs_the_delivery_in_the_same_commit()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();
        var paid = checkout.Paid();

        var answer = await kit.DeliverAsync(paid);

        Assert.Equal((200, DeliveryOutcome.Completed), (answer.StatusCode, answer.Outcome));
        Assert.Equal("completed", await kit.StatusOfAsync(checkout.PurchaseId));
        Assert.Equal(2, await kit.ScalarAsync<int>("SELECT count(*) FROM leads WHERE id = ANY(@Leads) AND marketplace_status = 'sold' AND sold_count = 1", new { checkout.Leads }));
        Assert.Equal(checkout.Total, await kit.ScalarAsync<decimal>("SELECT total_earned FROM workspace_credits WHERE workspace_id = @Seller", new { checkout.Seller }));
        Assert.Equal(1, await kit.EventDeliveriesAsync(paid.Id));
        var log = (await kit.QueryAsync<(string Outcome, string Signature, Guid PurchaseId, string PaymentIntentId, int HttpStatus)>(
            "SELECT outcome, signature, purchase_id, payment_intent_id, http_status FROM ops.stripe_deliveries WHERE event_id = @Id", new { Id = paid.Id })).Single();
        Assert.Equal(("completed", "valid", checkout.PurchaseId, checkout.PaymentIntentId, 200), log);
        // The purchase, its audit row and the delivery log row were written by one transaction.
        Assert.Equal(1, await kit.ScalarAsync<int>("""
            SELECT count(DISTINCT x) FROM (
                SELECT xmin::text AS x FROM marketplace_purchases WHERE id = @Id
                UNION ALL SELECT xmin::text FROM ops.stripe_deliveries WHERE purchase_id = @Id
                UNION ALL SELECT xmin::text FROM audit_logs WHERE action = 'purchase_completed' AND (details->>'purchase_id')::uuid = @Id) AS rows
            """, new { Id = checkout.PurchaseId }));
        Assert.Equal(StripeEventApplier.Actor, await kit.ScalarAsync<string>(
            "SELECT actor FROM audit_logs WHERE action = 'purchase_completed' AND (details->>'purchase_id')::uuid = @Id", new { Id = checkout.PurchaseId }));
        await MarketSeed.AssertInvariantsAsync(database.DataSource);
    }

    [Fact]
    public async Task A_repeated_event_is_answered_duplicate_and_changes_only_its_delivery_count()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();
        var paid = checkout.Paid();
        await kit.DeliverAsync(paid);

        var answer = await kit.DeliverAsync(paid);

        Assert.Equal((200, DeliveryOutcome.Duplicate), (answer.StatusCode, answer.Outcome));
        Assert.Equal(2, await kit.EventDeliveriesAsync(paid.Id));
        Assert.Equal(checkout.Total, await kit.ScalarAsync<decimal>("SELECT total_earned FROM workspace_credits WHERE workspace_id = @Seller", new { checkout.Seller }));
        Assert.Equal(1, await kit.ScalarAsync<int>("SELECT count(*) FROM audit_logs WHERE action = 'purchase_completed' AND (details->>'purchase_id')::uuid = @Id", new { Id = checkout.PurchaseId }));
        Assert.Equal(["completed", "duplicate"], await kit.QueryAsync<string>("SELECT outcome FROM ops.stripe_deliveries WHERE event_id = @Id ORDER BY id", new { Id = paid.Id }));
    }

    [Fact]
    public async Task The_checkout_session_after_the_payment_intent_is_already_completed_and_changes_nothing()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();
        await kit.DeliverAsync(checkout.Paid());
        var session = checkout.SessionCompleted();

        var answer = await kit.DeliverAsync(session);

        Assert.Equal((200, DeliveryOutcome.AlreadyCompleted), (answer.StatusCode, answer.Outcome));
        Assert.Equal(checkout.Total, await kit.ScalarAsync<decimal>("SELECT total_earned FROM workspace_credits WHERE workspace_id = @Seller", new { checkout.Seller }));
        Assert.Equal(1, await kit.ScalarAsync<int>("SELECT max(sold_count) FROM leads WHERE id = ANY(@Leads)", new { checkout.Leads }));
        Assert.Equal(1, await kit.EventDeliveriesAsync(session.Id));
    }

    [Fact]
    public async Task A_payment_after_expiry_and_resale_is_refund_required_and_nothing_is_sold_twice()
    {
        // Reservations of 50 ms: the card buyer's checkout runs out before the payment arrives.
        await using var kit = StripeKit.Create(database.ConnectionString, database.DataSource, new Dictionary<string, string?>
        {
            ["Purchases:ReservationTtl"] = "00:00:00.050",
        });
        var checkout = await kit.CheckoutAsync(leadCount: 1);
        await Task.Delay(100);
        Assert.NotNull(await kit.Services.GetRequiredService<ReservationExpirySweeper>().SweepOnceAsync(CancellationToken.None));
        Assert.Equal("expired", await kit.StatusOfAsync(checkout.PurchaseId));
        var creditBuyer = (await MarketSeed.WorkspacesAsync(database.DataSource, 1, 100m))[0];
        Assert.Equal(PurchaseOutcome.Completed, (await kit.Purchases.PurchaseWithCreditsAsync(creditBuyer, checkout.Leads, "second-buyer", CancellationToken.None)).Outcome);

        var answer = await kit.DeliverAsync(checkout.Paid());

        Assert.Equal((200, DeliveryOutcome.RefundRequired), (answer.StatusCode, answer.Outcome));
        Assert.Equal("refund_required", await kit.StatusOfAsync(checkout.PurchaseId));
        Assert.Equal(1, await kit.ScalarAsync<int>("SELECT sold_count FROM leads WHERE id = @Lead", new { Lead = checkout.Leads[0] }));
        // The seller was paid once, by the credit buyer.
        Assert.Equal(checkout.Total, await kit.ScalarAsync<decimal>("SELECT total_earned FROM workspace_credits WHERE workspace_id = @Seller", new { checkout.Seller }));
        var queue = await kit.Services.GetRequiredService<StripeRefunds>().QueueAsync(50, CancellationToken.None);
        Assert.Contains(queue, e => e.PurchaseId == checkout.PurchaseId && e.PaymentIntentId == checkout.PaymentIntentId && !e.Refunded);
        await MarketSeed.AssertInvariantsAsync(database.DataSource);
    }

    [Fact]
    public async Task Other_event_types_and_unpaid_checkouts_are_acknowledged_as_ignored_and_change_nothing()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();
        var refunded = SimulatedStripeEvents.ChargeRefunded(checkout.PaymentIntentId);
        var unpaid = checkout.SessionCompleted(paymentStatus: "unpaid");

        var other = await kit.DeliverAsync(refunded);
        var notPaid = await kit.DeliverAsync(unpaid);

        Assert.Equal((200, DeliveryOutcome.Ignored), (other.StatusCode, other.Outcome));
        Assert.Equal((200, DeliveryOutcome.Ignored), (notPaid.StatusCode, notPaid.Outcome));
        Assert.Equal("pending", await kit.StatusOfAsync(checkout.PurchaseId));
        Assert.Null(await kit.EventDeliveriesAsync(refunded.Id));
        Assert.Null(await kit.EventDeliveriesAsync(unpaid.Id));
        Assert.Equal(1, await kit.DeliveryRowsAsync(refunded.Id));
        Assert.Equal("ignored", await kit.ScalarAsync<string>("SELECT outcome FROM ops.stripe_deliveries WHERE event_id = @Id", new { Id = unpaid.Id }));
    }

    [Fact]
    public async Task A_payment_naming_an_unknown_or_a_credit_purchase_is_acknowledged_and_recorded_as_a_problem()
    {
        await using var kit = Kit();
        var unknown = SimulatedStripeEvents.PaymentIntentSucceeded(Guid.NewGuid(), SimulatedStripeEvents.NewId("pi"), 1000);
        var seller = (await MarketSeed.WorkspacesAsync(database.DataSource, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(database.DataSource, 1, 100m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(database.DataSource, [seller], 1, 10m);
        var credit = await kit.Purchases.PurchaseWithCreditsAsync(buyer, leads, "credit-buyer", CancellationToken.None);
        var byCard = SimulatedStripeEvents.PaymentIntentSucceeded(credit.PurchaseId, SimulatedStripeEvents.NewId("pi"), 1000);
        var noPurchase = SimulatedStripeEvents.PaymentIntentSucceeded(null, SimulatedStripeEvents.NewId("pi"), 1000);

        var answers = new[] { await kit.DeliverAsync(unknown), await kit.DeliverAsync(byCard), await kit.DeliverAsync(noPurchase) };

        Assert.All(answers, a => Assert.Equal((200, DeliveryOutcome.Problem), (a.StatusCode, a.Outcome)));
        Assert.Contains("does not exist", answers[0].Message, StringComparison.Ordinal);
        Assert.Contains("not stripe", answers[1].Message, StringComparison.Ordinal);
        Assert.Contains("metadata.purchase_id", answers[2].Message, StringComparison.Ordinal);
        foreach (var e in new[] { unknown, byCard, noPurchase })
        {
            Assert.Null(await kit.EventDeliveriesAsync(e.Id));
            Assert.Equal("problem", await kit.ScalarAsync<string>("SELECT outcome FROM ops.stripe_deliveries WHERE event_id = @Id", new { e.Id }));
        }

        Assert.Equal(credit.PurchaseId, await kit.ScalarAsync<Guid?>("SELECT purchase_id FROM ops.stripe_deliveries WHERE event_id = @Id", new { byCard.Id }));
        Assert.Equal(1, await kit.ScalarAsync<int>("SELECT sold_count FROM leads WHERE id = @Lead", new { Lead = leads[0] }));
    }

    [Theory]
    [InlineData("wrong-secret", SignatureVerdict.Invalid)]
    [InlineData("stale", SignatureVerdict.Stale)]
    [InlineData("missing", SignatureVerdict.Missing)]
    public async Task A_bad_stale_or_missing_signature_is_refused_with_400_and_only_counted_never_logged_as_a_delivery(string how, SignatureVerdict verdict)
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();
        var paid = checkout.Paid();
        var body = SimulatedStripeEvents.Body(paid);
        var header = how switch
        {
            "wrong-secret" => SimulatedStripeEvents.Sign(body, "whsec_someone_else"),
            "stale" => SimulatedStripeEvents.Sign(body, StripeKit.Secret, DateTimeOffset.UtcNow.AddSeconds(-301)),
            _ => null,
        };
        var client = $"192.0.2.{(int)verdict}";
        var before = await kit.DeliveryRowsAsync();

        var answer = await kit.Receiver.ReceiveAsync(body, header, new WebhookClient(client), CancellationToken.None);
        await kit.Services.GetRequiredService<StripeRejections>().FlushAsync(CancellationToken.None);

        Assert.Equal((400, DeliveryOutcome.Rejected), (answer.StatusCode, answer.Outcome));
        Assert.Equal("pending", await kit.StatusOfAsync(checkout.PurchaseId));
        Assert.Null(await kit.EventDeliveriesAsync(paid.Id));
        Assert.Equal(before, await kit.DeliveryRowsAsync());
        Assert.Equal((verdict.ToString().ToLowerInvariant(), 1L), (await kit.QueryAsync<(string Reason, long Count)>(
            "SELECT reason, count FROM ops.stripe_rejections WHERE client = @Client", new { Client = client })).Single());
    }

    [Fact]
    public async Task A_throttled_client_gets_429_for_junk_but_its_valid_delivery_still_completes()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();
        var throttled = new WebhookClient("192.0.2.99", Throttled: true);
        var before = await kit.DeliveryRowsAsync();

        var junk = await kit.Receiver.ReceiveAsync("{}", "t=1,v1=00", throttled, CancellationToken.None);
        var body = SimulatedStripeEvents.Body(checkout.Paid());
        var valid = await kit.Receiver.ReceiveAsync(body, SimulatedStripeEvents.Sign(body, StripeKit.Secret), throttled, CancellationToken.None);
        await kit.Services.GetRequiredService<StripeRejections>().FlushAsync(CancellationToken.None);

        Assert.Equal((429, DeliveryOutcome.Rejected), (junk.StatusCode, junk.Outcome));
        Assert.Equal((200, DeliveryOutcome.Completed), (valid.StatusCode, valid.Outcome));
        Assert.Equal(before + 1, await kit.DeliveryRowsAsync());
        Assert.Equal("throttled", await kit.ScalarAsync<string>("SELECT reason FROM ops.stripe_rejections WHERE client = '192.0.2.99'"));
    }

    [Fact]
    public async Task Refusals_are_one_row_per_client_minute_and_reason_and_clients_past_the_cap_count_as_other()
    {
        await using var kit = StripeKit.Create(database.ConnectionString, database.DataSource, new Dictionary<string, string?> { ["Stripe:RejectionClientsPerMinute"] = "3" });
        var rejections = kit.Services.GetRequiredService<StripeRejections>();
        var before = await kit.ScalarAsync<long>("SELECT count(*) FROM ops.stripe_rejections");

        for (var i = 0; i < 500; i++)
        {
            await kit.Receiver.ReceiveAsync("{}", "t=1,v1=00", new WebhookClient($"198.18.0.{i % 50}"), CancellationToken.None);
        }

        await rejections.FlushAsync(CancellationToken.None);
        var rows = await kit.QueryAsync<(string Client, long Count)>(
            "SELECT client, count FROM ops.stripe_rejections WHERE client LIKE '198.18.%' OR client = 'other'");

        // 50 clients in a minute, a cap of 3: three rows of their own and the rest in "other" (a minute may turn over once).
        Assert.InRange(rows.Count, 4, 8);
        Assert.Equal(500, rows.Sum(r => r.Count));
        Assert.InRange(await kit.ScalarAsync<long>("SELECT count(*) FROM ops.stripe_rejections") - before, 4, 8);
    }

    [Fact]
    public async Task A_signed_body_that_is_not_an_event_is_refused_as_malformed_and_changes_nothing()
    {
        await using var kit = Kit();
        var before = await kit.ScalarAsync<long>("SELECT count(*) FROM stripe_webhook_events");
        var deliveries = await kit.DeliveryRowsAsync();
        const string body = "{\"id\": \"evt_1\", \"object\": \"event\", \"type\": \"payment_intent.succeeded\", \"data\": ";

        var answer = await kit.Receiver.ReceiveAsync(body, SimulatedStripeEvents.Sign(body, StripeKit.Secret), new WebhookClient("192.0.2.200"), CancellationToken.None);
        await kit.Services.GetRequiredService<StripeRejections>().FlushAsync(CancellationToken.None);

        Assert.Equal((400, DeliveryOutcome.Malformed), (answer.StatusCode, answer.Outcome));
        Assert.Equal(before, await kit.ScalarAsync<long>("SELECT count(*) FROM stripe_webhook_events"));
        Assert.Equal(deliveries, await kit.DeliveryRowsAsync());
        Assert.Equal("malformed", await kit.ScalarAsync<string>("SELECT reason FROM ops.stripe_rejections WHERE client = '192.0.2.200'"));
    }

    [Fact]
    public async Task During_a_secret_rotation_the_previous_secret_still_signs_and_an_older_api_version_is_accepted()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();

        var answer = await kit.DeliverAsync(checkout.Paid(apiVersion: "2020-08-27"), StripeKit.OldSecret);

        Assert.Equal((200, DeliveryOutcome.Completed), (answer.StatusCode, answer.Outcome));
        Assert.Equal("2020-08-27", await kit.ScalarAsync<string>("SELECT api_version FROM ops.stripe_deliveries WHERE purchase_id = @Id", new { Id = checkout.PurchaseId }));
    }

    [Fact]
    public async Task With_the_database_unreachable_the_answer_is_503_and_nothing_is_written()
    {
        await using var kit = Kit();
        var checkout = await kit.CheckoutAsync();
        var paid = checkout.Paid();
        // The same console, pointed at a port where no database listens.
        var unreachable = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = FreePort(), Timeout = 2 }.ConnectionString;
        await using var offline = StripeKit.Create(unreachable, database.DataSource);

        var answer = await offline.DeliverAsync(paid);

        Assert.Equal(503, answer.StatusCode);
        Assert.Null(answer.Outcome);
        Assert.Equal("pending", await kit.StatusOfAsync(checkout.PurchaseId));
        Assert.Null(await kit.EventDeliveriesAsync(paid.Id));
        Assert.Equal(0, await kit.DeliveryRowsAsync(paid.Id));
        // Stripe's retry, once the database is back, completes the purchase.
        Assert.Equal(DeliveryOutcome.Completed, (await kit.DeliverAsync(paid)).Outcome);
    }

    [Fact]
    public async Task Without_a_webhook_secret_the_receiver_answers_404_and_writes_nothing()
    {
        await using var kit = StripeKit.Create(database.ConnectionString, database.DataSource, new Dictionary<string, string?> { ["Stripe:WebhookSecret"] = "" });
        var before = await kit.DeliveryRowsAsync();

        var answer = await kit.Receiver.ReceiveAsync("{}", "t=1,v1=00", CancellationToken.None);

        Assert.Equal(404, answer.StatusCode);
        Assert.Equal(before, await kit.DeliveryRowsAsync());
    }

    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
