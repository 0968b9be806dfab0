namespace OpsConsole.Core.Stripe;

/// <summary>Settings of the Stripe receiver, replay, refunds and reservation expiry (section <c>Stripe</c>).</summary>
public sealed class StripeOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Stripe";

    /// <summary>
    /// The webhook endpoint's signing secret (<c>whsec_...</c>). Several, separated by commas, while a secret is
    /// rotated: a delivery signed with any of them is accepted. Unset: <c>POST /api/stripe/webhook</c> answers 404.
    /// </summary>
    public string? WebhookSecret { get; set; }

    /// <summary>How old a signature's timestamp may be, in seconds (Stripe's default, 300). Older ones are refused as stale.</summary>
    public long SignatureToleranceSeconds { get; set; } = 300;

    /// <summary>Secret API key (<c>sk_...</c> or a restricted <c>rk_...</c> with Events read and Refunds write). Unset: no replay, no refunds.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Base address of the Stripe API; unset for Stripe's own (<c>https://api.stripe.com</c>).</summary>
    public string? ApiBase { get; set; }

    /// <summary>How often missed events are replayed from the Stripe API (with <see cref="ApiKey"/> set).</summary>
    public TimeSpan ReplayInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How far back a replay lists events (the Stripe API keeps 30 days).</summary>
    public TimeSpan ReplayLookback { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often <c>release_expired_lead_reservations()</c> runs (one instance at a time).</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long delivery log rows are kept (longer than Stripe's three days of retries).</summary>
    public TimeSpan DeliveryRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Refused webhook requests a client may make per minute before the next refusals are answered 429 unread.</summary>
    public int RejectionsPerMinute { get; set; } = 60;

    /// <summary>Distinct clients whose refusals are counted apart per minute; the rest count as one, <c>other</c>.</summary>
    public int RejectionClientsPerMinute { get; set; } = 100;

    /// <summary>How often the refusal counts are written to <c>ops.stripe_rejections</c>.</summary>
    public TimeSpan RejectionFlushInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the refusal counts are kept.</summary>
    public TimeSpan RejectionRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The secrets of <see cref="WebhookSecret"/>, in order.</summary>
    public IReadOnlyList<string> WebhookSecrets() =>
        (WebhookSecret ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>True when the receiver is on.</summary>
    public bool ReceiverEnabled => WebhookSecrets().Count > 0;

    /// <summary>True when replay and refunds can call the Stripe API.</summary>
    public bool ApiEnabled => !string.IsNullOrWhiteSpace(ApiKey);
}
