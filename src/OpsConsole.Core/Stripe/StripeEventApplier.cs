using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Purchases;
using Polly;
using Stripe;
using StripeCheckoutSession = Stripe.Checkout.Session;

namespace OpsConsole.Core.Stripe;

/// <summary>
/// The one path of a verified Stripe event, for the receiver and the replay alike: a payment naming its purchase
/// calls <c>complete_stripe_lead_purchase</c> and the delivery log row is written in the same transaction (one round
/// trip, one commit), so the two commit together or not at all; lock conflicts are retried as on the purchase path.
/// </summary>
public sealed class StripeEventApplier
{
    /// <summary>The actor the marketplace's audit rows name for webhook completions.</summary>
    public const string Actor = "stripe-webhook";

    /// <summary>Checkout completed: applied when <c>payment_status</c> is <c>paid</c>.</summary>
    public const string CheckoutSessionCompleted = "checkout.session.completed";

    /// <summary>Payment intent succeeded: always applied.</summary>
    public const string PaymentIntentSucceeded = "payment_intent.succeeded";

    /// <summary>The metadata key naming the marketplace purchase.</summary>
    public const string PurchaseIdKey = "purchase_id";

    /// <summary>The event types that complete purchases (what the replay lists).</summary>
    public static IReadOnlyList<string> PaymentTypes { get; } = [CheckoutSessionCompleted, PaymentIntentSucceeded];

    private readonly MarketplaceFunctions _functions;
    private readonly StripeDeliveryLog _log;
    private readonly TimeProvider _time;
    private readonly ILogger<StripeEventApplier> _logger;
    private readonly ResiliencePipeline _conflictRetry;

    /// <summary>Creates the applier.</summary>
    public StripeEventApplier(
        MarketplaceFunctions functions, StripeDeliveryLog log,
        IOptions<PurchaseOptions> purchaseOptions, TimeProvider time, ILogger<StripeEventApplier> logger)
    {
        _functions = functions;
        _log = log;
        _time = time;
        _logger = logger;
        _conflictRetry = PurchaseService.BuildConflictRetry(purchaseOptions.Value, time, logger);
    }

    /// <summary>
    /// Applies <paramref name="stripeEvent"/> and records the delivery. Throws only when the database cannot be
    /// reached (nothing is then written: the caller answers 503 so Stripe retries).
    /// </summary>
    /// <param name="stripeEvent">The verified event.</param>
    /// <param name="source">Webhook or replay.</param>
    /// <param name="signature">How it was verified.</param>
    /// <param name="started">Timestamp (of the service's <see cref="TimeProvider"/>) when it arrived.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async Task<DeliveryRecord> ApplyAsync(
        Event stripeEvent, DeliverySource source, SignatureVerdict signature, long started, CancellationToken cancellationToken)
    {
        var payment = Read(stripeEvent);
        DeliveryRecord Record(DeliveryOutcome outcome, string? error) => new(
            source, stripeEvent.Id, stripeEvent.Type, stripeEvent.ApiVersion, signature, outcome, outcome.StatusCode(),
            payment.PurchaseId, payment.PaymentIntentId, _time.GetElapsedTime(started).TotalMilliseconds, error);

        if (payment.Outcome is { } early)
        {
            var record = Record(early, payment.Note);
            await _log.AppendAsync(record, cancellationToken);
            return record;
        }

        try
        {
            return await _conflictRetry.ExecuteAsync(async ct =>
            {
                var pending = Record(DeliveryOutcome.Completed, null);
                var completion = await _functions.CompleteStripePurchaseAsync(
                    payment.PurchaseId!.Value, stripeEvent.Id, payment.PaymentIntentId!, Actor, StripeDeliveryLog.CompletionRow(pending), ct);
                return pending with { Outcome = OutcomeOf(completion.Outcome), DurationMs = _time.GetElapsedTime(started).TotalMilliseconds };
            }, cancellationToken);
        }
        catch (MarketplaceException refusal)
        {
            // Lock conflicts that outlasted the retries: busy now, so Stripe should retry. Anything else is about the
            // purchase itself (unknown, not a card purchase, failed): retrying would never help, so it is acknowledged.
            var record = refusal.IsLockNotAvailable
                ? Record(DeliveryOutcome.Unavailable, $"The purchase's leads stayed locked by other purchases: {refusal.Message}")
                : Record(DeliveryOutcome.Problem, ProblemText(refusal));
            if (record.Outcome == DeliveryOutcome.Problem)
            {
                _logger.LogWarning("Stripe event {EventId} ({Type}) for purchase {PurchaseId} needs a look: {Problem}",
                    stripeEvent.Id, stripeEvent.Type, payment.PurchaseId, record.Error);
            }

            await _log.AppendAsync(record, cancellationToken);
            return record;
        }
    }

    /// <summary>True when <paramref name="exception"/> means the database could not be reached or is going away.</summary>
    public static bool IsDatabaseUnreachable(Exception? exception) => exception switch
    {
        null => false,
        PostgresException postgres => postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
            || postgres.SqlState is "57P01" or "57P02" or "57P03" or "53300",
        NpgsqlException or TimeoutException or System.Net.Sockets.SocketException => true,
        _ => IsDatabaseUnreachable(exception.InnerException),
    };

    private static string ProblemText(MarketplaceException refusal) => refusal.Outcome switch
    {
        PurchaseOutcome.NotFound => $"Unknown purchase: {refusal.Message}.",
        PurchaseOutcome.Conflict => $"Not a payable card purchase: {refusal.Message}.",
        _ => $"Refused by complete_stripe_lead_purchase: {refusal.Message}.",
    };

    private static DeliveryOutcome OutcomeOf(PurchaseOutcome outcome) => outcome switch
    {
        PurchaseOutcome.Completed => DeliveryOutcome.Completed,
        PurchaseOutcome.Duplicate => DeliveryOutcome.Duplicate,
        PurchaseOutcome.AlreadyCompleted => DeliveryOutcome.AlreadyCompleted,
        PurchaseOutcome.RefundRequired => DeliveryOutcome.RefundRequired,
        _ => throw new InvalidOperationException($"complete_stripe_lead_purchase answered {outcome}, which it never should."),
    };

    // The fields used: the payment intent id and metadata.purchase_id, plus payment_status of a checkout session.
    // Read from whatever API version the event was rendered in; a missing field makes the event malformed.
    private static Payment Read(Event stripeEvent)
    {
        string? paymentIntentId;
        IDictionary<string, string>? metadata;
        switch (stripeEvent.Type)
        {
            case PaymentIntentSucceeded:
                if (stripeEvent.Data?.Object is not PaymentIntent intent || string.IsNullOrEmpty(intent.Id))
                {
                    return Payment.Early(DeliveryOutcome.Malformed, "data.object is not a payment intent with an id.");
                }

                paymentIntentId = intent.Id;
                metadata = intent.Metadata;
                break;
            case CheckoutSessionCompleted:
                if (stripeEvent.Data?.Object is not StripeCheckoutSession session)
                {
                    return Payment.Early(DeliveryOutcome.Malformed, "data.object is not a checkout session.");
                }

                if (session.PaymentStatus != "paid")
                {
                    return Payment.Early(DeliveryOutcome.Ignored, $"Checkout session not paid (payment_status {session.PaymentStatus ?? "missing"}).");
                }

                if (string.IsNullOrEmpty(session.PaymentIntentId))
                {
                    return Payment.Early(DeliveryOutcome.Malformed, "The paid checkout session names no payment_intent.");
                }

                paymentIntentId = session.PaymentIntentId;
                metadata = session.Metadata;
                break;
            default:
                return Payment.Early(DeliveryOutcome.Ignored, null);
        }

        if (metadata is null || !metadata.TryGetValue(PurchaseIdKey, out var purchase) || string.IsNullOrWhiteSpace(purchase))
        {
            return Payment.Early(DeliveryOutcome.Problem, "The payment names no purchase (metadata.purchase_id is missing).", paymentIntentId);
        }

        return Guid.TryParse(purchase, out var purchaseId)
            ? new Payment(null, null, purchaseId, paymentIntentId)
            : Payment.Early(DeliveryOutcome.Problem, $"Unknown purchase: metadata.purchase_id '{purchase}' is not a purchase id.", paymentIntentId);
    }

    private sealed record Payment(DeliveryOutcome? Outcome, string? Note, Guid? PurchaseId, string? PaymentIntentId)
    {
        public static Payment Early(DeliveryOutcome outcome, string? note, string? paymentIntentId = null) => new(outcome, note, null, paymentIntentId);
    }
}
