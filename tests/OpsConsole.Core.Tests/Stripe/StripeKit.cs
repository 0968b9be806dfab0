using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Purchases;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;
using Stripe;

namespace OpsConsole.Core.Tests.Stripe;

/// <summary>The Stripe tests' helpers: the core services with Stripe settings, card checkouts, signed deliveries.</summary>
internal sealed class StripeKit : IAsyncDisposable
{
    public const string Secret = "whsec_test_current_0123456789abcdef";
    public const string OldSecret = "whsec_test_previous_0123456789abcdef";
    public const string ApiKey = "sk_test_opsconsole";

    private StripeKit(ServiceProvider services, NpgsqlDataSource db)
    {
        Services = services;
        Db = db;
    }

    public ServiceProvider Services { get; }

    public NpgsqlDataSource Db { get; }

    public StripeWebhookReceiver Receiver => Services.GetRequiredService<StripeWebhookReceiver>();

    public IPurchaseService Purchases => Services.GetRequiredService<IPurchaseService>();

    public static OpsActor Support => TestActors.Support;

    public static OpsActor Engineer => TestActors.Engineer;

    public static StripeKit Create(string connectionString, NpgsqlDataSource db, IDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Stripe:WebhookSecret"] = $"{Secret}, {OldSecret}",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return new StripeKit(TestServices.Build(connectionString, all), db);
    }

    /// <summary>A seller with <paramref name="leadCount"/> listed leads and a card buyer's reservation of them.</summary>
    public async Task<Checkout> CheckoutAsync(int leadCount = 2, decimal price = 12.50m, IPurchaseService? purchases = null)
    {
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(Db, [seller], leadCount, price);
        var reserved = await (purchases ?? Purchases).ReserveForStripeAsync(buyer, leads, "test-checkout", CancellationToken.None);
        Assert.Equal(PurchaseOutcome.Reserved, reserved.Outcome);
        return new Checkout(reserved.PurchaseId!.Value, seller, buyer, leads, price * leadCount, SimulatedStripeEvents.NewId("pi"));
    }

    public Task<WebhookAnswer> DeliverAsync(Event stripeEvent, string secret = Secret, DateTimeOffset? signedAt = null)
    {
        var body = SimulatedStripeEvents.Body(stripeEvent);
        return Receiver.ReceiveAsync(body, SimulatedStripeEvents.Sign(body, secret, signedAt), CancellationToken.None);
    }

    public async Task<T> ScalarAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = await Db.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = await Db.OpenConnectionAsync();
        return (await connection.QueryAsync<T>(sql, parameters)).AsList();
    }

    public Task<string> StatusOfAsync(Guid purchaseId) =>
        ScalarAsync<string>("SELECT status FROM marketplace_purchases WHERE id = @Id", new { Id = purchaseId });

    public Task<long> DeliveryRowsAsync(string? eventId = null) => eventId is null
        ? ScalarAsync<long>("SELECT count(*) FROM ops.stripe_deliveries")
        : ScalarAsync<long>("SELECT count(*) FROM ops.stripe_deliveries WHERE event_id = @Id", new { Id = eventId });

    public Task<int?> EventDeliveriesAsync(string eventId) =>
        ScalarAsync<int?>("SELECT deliveries FROM stripe_webhook_events WHERE event_id = @Id", new { Id = eventId });

    public async ValueTask DisposeAsync() => await Services.DisposeAsync();
}

internal sealed record Checkout(Guid PurchaseId, Guid Seller, Guid Buyer, Guid[] Leads, decimal Total, string PaymentIntentId)
{
    public long AmountMinor => SimulatedStripeEvents.MinorUnits(Total);

    public Event Paid(string? eventId = null, string? apiVersion = null) =>
        SimulatedStripeEvents.PaymentIntentSucceeded(PurchaseId, PaymentIntentId, AmountMinor, eventId, apiVersion);

    public Event SessionCompleted(string paymentStatus = "paid") =>
        SimulatedStripeEvents.CheckoutSessionCompleted(PurchaseId, PaymentIntentId, AmountMinor, paymentStatus);
}
