using OpsConsole.Core.Demo;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;
using Stripe;

namespace OpsConsole.Core.Tests.Stripe;

public sealed class ExactlyOnceTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_thousand_shuffled_deliveries_with_30_percent_duplicates_from_16_senders_complete_each_purchase_exactly_once()
    {
        await using var kit = StripeKit.Create(database.ConnectionString, database.DataSource);
        var sellers = await MarketSeed.WorkspacesAsync(database.DataSource, 10, 0m);
        var buyers = await MarketSeed.WorkspacesAsync(database.DataSource, 20, 0m);
        var leads = await MarketSeed.ListedLeadsAsync(database.DataSource, sellers, 60, 5m);
        var random = new Random(14);
        var shuffledLeads = leads.OrderBy(_ => random.Next()).ToArray();
        var checkouts = new List<(Guid PurchaseId, string PaymentIntentId, long Amount)>();
        for (var i = 0; i < 300; i++)
        {
            var mine = shuffledLeads.Skip(i * 2).Take(2).ToArray();
            var reserved = await kit.Purchases.ReserveForStripeAsync(buyers[i % buyers.Length], mine, "test", CancellationToken.None);
            checkouts.Add((reserved.PurchaseId!.Value, SimulatedStripeEvents.NewId("pi"), 1000));
        }

        // 700 distinct events: each purchase's payment intent and checkout session, and 100 the console ignores;
        // then 300 of them delivered again: 1,000 deliveries, 30 % duplicates, in random order.
        var distinct = checkouts.SelectMany(c => new[]
            {
                SimulatedStripeEvents.PaymentIntentSucceeded(c.PurchaseId, c.PaymentIntentId, c.Amount),
                SimulatedStripeEvents.CheckoutSessionCompleted(c.PurchaseId, c.PaymentIntentId, c.Amount),
            })
            .Concat(checkouts.Take(100).Select(c => SimulatedStripeEvents.ChargeRefunded(c.PaymentIntentId)))
            .ToList();
        var repeats = Enumerable.Range(0, 300).Select(_ => distinct[random.Next(distinct.Count)]).ToList();
        var deliveries = distinct.Concat(repeats).OrderBy(_ => random.Next()).Select(e => SimulatedStripeEvents.Body(e)).ToList();
        Assert.Equal(1000, deliveries.Count);

        var queue = new System.Collections.Concurrent.ConcurrentQueue<string>(deliveries);
        var answers = new System.Collections.Concurrent.ConcurrentBag<WebhookAnswer>();
        var senders = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            while (queue.TryDequeue(out var body))
            {
                answers.Add(await kit.Receiver.ReceiveAsync(body, SimulatedStripeEvents.Sign(body, StripeKit.Secret), CancellationToken.None));
            }
        }));
        await Task.WhenAll(senders);

        Assert.All(answers, a => Assert.Equal(200, a.StatusCode));
        var ids = checkouts.Select(c => c.PurchaseId).ToArray();
        Assert.Equal(300, await kit.ScalarAsync<int>("SELECT count(*) FROM marketplace_purchases WHERE id = ANY(@Ids) AND status = 'completed'", new { Ids = ids }));
        Assert.Equal(300, await kit.ScalarAsync<int>(
            "SELECT count(*) FROM audit_logs WHERE action = 'purchase_completed' AND (details->>'purchase_id')::uuid = ANY(@Ids)", new { Ids = ids }));
        Assert.Equal(600, await kit.ScalarAsync<int>("SELECT count(*) FROM leads WHERE workspace_id = ANY(@Sellers) AND sold_count = 1", new { Sellers = sellers }));
        Assert.Equal(0, await kit.ScalarAsync<int>("SELECT count(*) FROM leads WHERE sold_count > 1"));
        // Sellers were credited once per lead sold: 600 leads at 5.
        Assert.Equal(3000m, await kit.ScalarAsync<decimal>("SELECT sum(total_earned) FROM workspace_credits WHERE workspace_id = ANY(@Sellers)", new { Sellers = sellers }));

        var byOutcome = answers.GroupBy(a => a.Outcome!.Value).ToDictionary(g => g.Key, g => g.Count());
        var paymentRepeats = repeats.Count(e => e.Type != "charge.refunded");
        Assert.Equal(300, byOutcome[DeliveryOutcome.Completed]);
        Assert.Equal(300, byOutcome[DeliveryOutcome.AlreadyCompleted]);
        Assert.Equal(paymentRepeats, byOutcome[DeliveryOutcome.Duplicate]);
        Assert.Equal(100 + (300 - paymentRepeats), byOutcome[DeliveryOutcome.Ignored]);
        // The duplicates are counted where the webhook duplicate rate reads them, and in the delivery log.
        var paymentEventIds = distinct.Where(e => e.Type != "charge.refunded").Select(e => e.Id).ToArray();
        Assert.Equal(600 + paymentRepeats, await kit.ScalarAsync<long>(
            "SELECT sum(deliveries) FROM stripe_webhook_events WHERE event_id = ANY(@Ids)", new { Ids = paymentEventIds }));
        Assert.Equal(paymentRepeats, await kit.ScalarAsync<long>("SELECT count(*) FROM ops.stripe_deliveries WHERE outcome = 'duplicate'"));
        Assert.Equal(1000, await kit.DeliveryRowsAsync());
        await MarketSeed.AssertInvariantsAsync(database.DataSource);
    }
}
