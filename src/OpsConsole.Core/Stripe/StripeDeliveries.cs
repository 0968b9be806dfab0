namespace OpsConsole.Core.Stripe;

/// <summary>What became of one delivery of a Stripe event; the delivery log's <c>outcome</c>.</summary>
public enum DeliveryOutcome
{
    /// <summary>The payment completed its purchase: leads sold, sellers credited.</summary>
    Completed,

    /// <summary>This event was applied before; only its delivery count rose.</summary>
    Duplicate,

    /// <summary>Another event (the checkout session's or the payment intent's) completed the purchase already.</summary>
    AlreadyCompleted,

    /// <summary>The payment arrived after a lead was sold elsewhere: the purchase waits in the refund queue.</summary>
    RefundRequired,

    /// <summary>A type the console does not act on, or a checkout not paid yet: acknowledged, nothing changed.</summary>
    Ignored,

    /// <summary>A payment naming no purchase, an unknown one or one not paid by card: acknowledged, kept for a person to look at.</summary>
    Problem,

    /// <summary>The signature was missing, wrong or stale: refused, nothing from the body believed (counted in <c>ops.stripe_rejections</c>, no delivery row).</summary>
    Rejected,

    /// <summary>Signed, but not an event the console can read (not JSON, or a field it needs is missing); counted like a rejection.</summary>
    Malformed,

    /// <summary>The database could not complete it now (lock conflicts after retries): refused so that Stripe retries.</summary>
    Unavailable,
}

/// <summary>How the delivery's signature was judged.</summary>
public enum SignatureVerdict
{
    /// <summary>Signed with a configured secret, within the tolerance.</summary>
    Valid,

    /// <summary>No configured secret produced the signature (or the header was unreadable).</summary>
    Invalid,

    /// <summary>Signed with a configured secret, but longer ago than the tolerance allows.</summary>
    Stale,

    /// <summary>No <c>Stripe-Signature</c> header.</summary>
    Missing,

    /// <summary>Not a webhook: read from the Stripe API with the console's key (replay).</summary>
    Api,
}

/// <summary>Where a delivery came from.</summary>
public enum DeliverySource
{
    /// <summary>Stripe posted it to the receiver.</summary>
    Webhook,

    /// <summary>The replay of missed events fetched it from the Stripe API.</summary>
    Replay,
}

/// <summary>One row of the delivery log.</summary>
/// <param name="Source">Webhook or replay.</param>
/// <param name="EventId">The event's id; null when the signature was refused or the body unreadable.</param>
/// <param name="EventType">The event's type, likewise.</param>
/// <param name="ApiVersion">The API version the event was rendered in.</param>
/// <param name="Signature">The signature verdict.</param>
/// <param name="Outcome">What became of it.</param>
/// <param name="HttpStatus">The status answered (for a replay, what a webhook would have been answered).</param>
/// <param name="PurchaseId">The purchase it named, when readable.</param>
/// <param name="PaymentIntentId">The payment intent it named.</param>
/// <param name="DurationMs">From receipt to the answer.</param>
/// <param name="Error">Why it was a problem, malformed or refused.</param>
public sealed record DeliveryRecord(
    DeliverySource Source,
    string? EventId,
    string? EventType,
    string? ApiVersion,
    SignatureVerdict Signature,
    DeliveryOutcome Outcome,
    int HttpStatus,
    Guid? PurchaseId,
    string? PaymentIntentId,
    double DurationMs,
    string? Error);

/// <summary>The delivery log's words for the enums, in one place.</summary>
public static class DeliveryWords
{
    /// <summary>The outcome as stored: <c>already_completed</c>.</summary>
    public static string ToSql(this DeliveryOutcome outcome) => Snake(outcome.ToString());

    /// <summary>The verdict as stored: <c>stale</c>.</summary>
    public static string ToSql(this SignatureVerdict verdict) => verdict.ToString().ToLowerInvariant();

    /// <summary>The source as stored: <c>replay</c>.</summary>
    public static string ToSql(this DeliverySource source) => source.ToString().ToLowerInvariant();

    /// <summary>The reason as stored: <c>malformed</c>.</summary>
    public static string ToSql(this RejectionReason reason) => reason.ToString().ToLowerInvariant();

    /// <summary>The reason of a stored word.</summary>
    public static RejectionReason ParseReason(string word) =>
        Enum.GetValues<RejectionReason>().Single(r => r.ToSql() == word);

    /// <summary>The outcome of a stored word.</summary>
    public static DeliveryOutcome ParseOutcome(string word) =>
        Enum.GetValues<DeliveryOutcome>().Single(o => o.ToSql() == word);

    /// <summary>The status code each outcome is answered with: 2xx for everything Stripe should stop retrying.</summary>
    public static int StatusCode(this DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Rejected or DeliveryOutcome.Malformed => 400,
        DeliveryOutcome.Unavailable => 503,
        _ => 200,
    };

    private static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
