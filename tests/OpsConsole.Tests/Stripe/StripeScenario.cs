using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Purchases;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Stripe;

/// <summary>Card purchases in the states the Stripe page shows, made through the console's own services.</summary>
internal static class StripeScenario
{
    public const string Secret = "whsec_page_tests_0123456789";

    /// <summary>A card checkout paid after its reservation ran out and its lead was sold to a credit buyer.</summary>
    public static async Task<(Guid PurchaseId, string PaymentIntentId)> RefundRequiredAsync(IServiceProvider services, NpgsqlDataSource db)
    {
        var (creditBuyer, leads) = await MarketAsync(db);
        var cardBuyer = await MetricsRows.BuyerAsync(db);
        var purchases = services.GetRequiredService<IPurchaseService>();
        var reserved = await purchases.ReserveForStripeAsync(cardBuyer, leads, "page-test", CancellationToken.None);
        Assert.Equal(PurchaseOutcome.Reserved, reserved.Outcome);
        await using (var connection = await db.OpenConnectionAsync())
        {
            // As if the customer had taken longer than the reservation: it ran out a minute ago.
            await connection.ExecuteAsync("UPDATE marketplace_purchases SET reserved_until = now() - interval '1 minute' WHERE id = @Id", new { Id = reserved.PurchaseId });
            await connection.ExecuteAsync("UPDATE leads SET reserved_until = now() - interval '1 minute' WHERE id = ANY(@Leads)", new { Leads = leads });
        }

        Assert.Equal(PurchaseOutcome.Completed, (await purchases.PurchaseWithCreditsAsync(creditBuyer, leads, "page-test", CancellationToken.None)).Outcome);
        var paymentIntent = SimulatedStripeEvents.NewId("pi");
        var answer = await DeliverAsync(services, SimulatedStripeEvents.PaymentIntentSucceeded(reserved.PurchaseId, paymentIntent, 500));
        Assert.Equal(DeliveryOutcome.RefundRequired, answer.Outcome);
        return (reserved.PurchaseId!.Value, paymentIntent);
    }

    /// <summary>A card checkout waiting for its payment.</summary>
    public static async Task<Guid> PendingAsync(IServiceProvider services, NpgsqlDataSource db)
    {
        var (_, leads) = await MarketAsync(db);
        var cardBuyer = await MetricsRows.BuyerAsync(db);
        var reserved = await services.GetRequiredService<IPurchaseService>().ReserveForStripeAsync(cardBuyer, leads, "page-test", CancellationToken.None);
        return reserved.PurchaseId!.Value;
    }

    // A seller with one listed lead at 5 and a buyer with credits for it.
    private static async Task<(Guid CreditBuyer, Guid[] Leads)> MarketAsync(NpgsqlDataSource db)
    {
        var seller = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(db, 1, 1000m))[0];
        return (buyer, await MarketSeed.ListedLeadsAsync(db, [seller], 1, 5m));
    }

    public static Task<WebhookAnswer> DeliverAsync(IServiceProvider services, global::Stripe.Event stripeEvent)
    {
        var body = SimulatedStripeEvents.Body(stripeEvent);
        return services.GetRequiredService<StripeWebhookReceiver>().ReceiveAsync(body, SimulatedStripeEvents.Sign(body, Secret), CancellationToken.None);
    }
}
