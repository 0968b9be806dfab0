using Stripe;
using StripeCheckoutSession = Stripe.Checkout.Session;

namespace OpsConsole.Core.Demo;

/// <summary>
/// Stripe events as Stripe would send them for a marketplace checkout, built from Stripe.net's own types and
/// serialised by Stripe.net (no hand-written JSON), and signed with <see cref="EventUtility.GenerateSignatureHeader"/>.
/// The demo's simulated Stripe sends them; tests and benchmarks use them too.
/// </summary>
public static class SimulatedStripeEvents
{
    /// <summary>A new id in Stripe's shape: <c>evt_...</c>, <c>pi_...</c>, <c>cs_...</c>.</summary>
    public static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..(prefix.Length + 25)];

    /// <summary><c>payment_intent.succeeded</c> for the purchase.</summary>
    public static Event PaymentIntentSucceeded(Guid? purchaseId, string paymentIntentId, long amountMinor, string? eventId = null, string? apiVersion = null) =>
        NewEvent(eventId, "payment_intent.succeeded", apiVersion, new PaymentIntent
        {
            Id = paymentIntentId,
            Object = "payment_intent",
            Amount = amountMinor,
            AmountReceived = amountMinor,
            Currency = "usd",
            Status = "succeeded",
            Metadata = Metadata(purchaseId),
        });

    /// <summary><c>payment_intent.created</c>: Stripe sends it first; the console does not act on it.</summary>
    public static Event PaymentIntentCreated(Guid? purchaseId, string paymentIntentId, long amountMinor) =>
        NewEvent(null, "payment_intent.created", null, new PaymentIntent
        {
            Id = paymentIntentId,
            Object = "payment_intent",
            Amount = amountMinor,
            Currency = "usd",
            Status = "requires_payment_method",
            Metadata = Metadata(purchaseId),
        });

    /// <summary><c>checkout.session.completed</c> for the purchase, paid or not.</summary>
    public static Event CheckoutSessionCompleted(
        Guid? purchaseId, string paymentIntentId, long amountMinor, string paymentStatus = "paid", string? eventId = null, string? apiVersion = null) =>
        NewEvent(eventId, "checkout.session.completed", apiVersion, new StripeCheckoutSession
        {
            Id = NewId("cs"),
            Object = "checkout.session",
            Mode = "payment",
            AmountTotal = amountMinor,
            Currency = "usd",
            PaymentStatus = paymentStatus,
            Status = "complete",
            PaymentIntentId = paymentIntentId,
            Metadata = Metadata(purchaseId),
        });

    /// <summary>An event of a type the console does not act on.</summary>
    public static Event ChargeRefunded(string paymentIntentId, string? eventId = null) =>
        NewEvent(eventId, "charge.refunded", null, new Charge { Id = NewId("ch"), Object = "charge", PaymentIntentId = paymentIntentId, Refunded = true, Currency = "usd" });

    /// <summary>The body Stripe would post: the event as JSON.</summary>
    public static string Body(Event stripeEvent) => stripeEvent.ToJson();

    /// <summary>The <c>Stripe-Signature</c> header for <paramref name="body"/>, signed now or at <paramref name="timestamp"/>.</summary>
    public static string Sign(string body, string secret, DateTimeOffset? timestamp = null) =>
        EventUtility.GenerateSignatureHeader(body, secret, timestamp?.ToUnixTimeSeconds());

    /// <summary>A new webhook signing secret in Stripe's shape.</summary>
    public static string NewWebhookSecret() =>
        "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).TrimEnd('=').Replace('+', 'a').Replace('/', 'b');

    /// <summary>Amount in cents of a price.</summary>
    public static long MinorUnits(decimal price) => (long)Math.Round(price * 100m, MidpointRounding.AwayFromZero);

    private static Dictionary<string, string> Metadata(Guid? purchaseId) =>
        purchaseId is { } id ? new() { ["purchase_id"] = id.ToString() } : [];

    private static Event NewEvent(string? eventId, string type, string? apiVersion, IHasObject data) => new()
    {
        Id = eventId ?? NewId("evt"),
        Object = "event",
        Type = type,
        ApiVersion = apiVersion ?? StripeConfiguration.ApiVersion,
        Created = DateTime.UtcNow,
        Livemode = false,
        PendingWebhooks = 1,
        Data = new EventData { Object = data },
    };
}
