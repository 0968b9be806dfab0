using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Stripe;

namespace OpsConsole.Core.Stripe;

/// <summary>The receiver's answer to one delivery.</summary>
/// <param name="StatusCode">HTTP status: 200 for everything Stripe should stop retrying, 400 refused, 429 refused unread (too many refusals), 503 retry later, 404 receiver off.</param>
/// <param name="Outcome">What became of it; null when the receiver is off or the database unreachable (nothing recorded).</param>
/// <param name="Message">A sentence for the sender (Stripe shows it in the dashboard's delivery attempts).</param>
public sealed record WebhookAnswer(int StatusCode, DeliveryOutcome? Outcome, string Message);

/// <summary>
/// <c>POST /api/stripe/webhook</c>'s logic: verifies <c>Stripe-Signature</c> with Stripe.net's
/// <see cref="EventUtility"/> against each configured secret, reads the event whatever its API version, and hands it
/// to <see cref="StripeEventApplier"/>. Every accepted delivery is logged; a refused request only counted
/// (<see cref="StripeRejections"/>), so junk cannot grow the delivery log.
/// </summary>
public sealed class StripeWebhookReceiver(
    StripeEventApplier applier, StripeRejections rejections, IOptionsMonitor<StripeOptions> options, ILogger<StripeWebhookReceiver> logger, TimeProvider time)
{
    /// <summary>The largest body accepted, in bytes (Stripe's events are a few kilobytes).</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    // Long enough to accept any timestamp: used to tell a wrong signature from a stale one.
    private const long AnyAge = 100L * 365 * 24 * 3600;

    /// <summary>True when at least one webhook secret is configured.</summary>
    public bool Enabled => options.CurrentValue.ReceiverEnabled;

    /// <summary>Verifies, applies and records one delivery from inside the process (<see cref="WebhookClient.Local"/>).</summary>
    public Task<WebhookAnswer> ReceiveAsync(string body, string? signatureHeader, CancellationToken cancellationToken) =>
        ReceiveAsync(body, signatureHeader, WebhookClient.Local, cancellationToken);

    /// <summary>
    /// Verifies, applies and records one delivery. The signature is checked first, whoever sends: a valid delivery is
    /// applied even from a <see cref="WebhookClient.Throttled"/> client, so junk from its address cannot hold it up.
    /// </summary>
    /// <param name="body">The request body exactly as received.</param>
    /// <param name="signatureHeader">The <c>Stripe-Signature</c> header, if any.</param>
    /// <param name="client">Who sent it, for the refusal counts.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async Task<WebhookAnswer> ReceiveAsync(string body, string? signatureHeader, WebhookClient client, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var settings = options.CurrentValue;
        var secrets = settings.WebhookSecrets();
        if (secrets.Count == 0)
        {
            return new WebhookAnswer(404, null, "No Stripe webhook secret is configured.");
        }

        try
        {
            var now = time.GetUtcNow().ToUnixTimeSeconds();
            var (verdict, secret) = Verify(body, signatureHeader, secrets, settings.SignatureToleranceSeconds, now);
            if (verdict != SignatureVerdict.Valid)
            {
                if (client.Throttled)
                {
                    rejections.Count(client.Address, RejectionReason.Throttled);
                    return new WebhookAnswer(429, DeliveryOutcome.Rejected, "Too many refused deliveries from this address; slow down.");
                }

                var (why, reason) = verdict switch
                {
                    SignatureVerdict.Missing => (RejectionReason.Missing, "No Stripe-Signature header."),
                    SignatureVerdict.Stale => (RejectionReason.Stale, $"The signature is older than {settings.SignatureToleranceSeconds} s."),
                    _ => (RejectionReason.Invalid, "The signature matches no configured webhook secret."),
                };
                rejections.Count(client.Address, why);
                return new WebhookAnswer(400, DeliveryOutcome.Rejected, reason);
            }

            Event stripeEvent;
            try
            {
                // Accounts pin older API versions: the fields used are checked by the applier, not the version.
                stripeEvent = EventUtility.ConstructEvent(body, signatureHeader, secret, settings.SignatureToleranceSeconds, now, throwOnApiVersionMismatch: false);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                rejections.Count(client.Address, RejectionReason.Malformed);
                return new WebhookAnswer(400, DeliveryOutcome.Malformed, $"The body is not a Stripe event: {error.Message}");
            }

            if (string.IsNullOrEmpty(stripeEvent.Id) || string.IsNullOrEmpty(stripeEvent.Type))
            {
                rejections.Count(client.Address, RejectionReason.Malformed);
                return new WebhookAnswer(400, DeliveryOutcome.Malformed, "The event has no id or no type.");
            }

            var record = await applier.ApplyAsync(stripeEvent, DeliverySource.Webhook, SignatureVerdict.Valid, started, cancellationToken);
            return new WebhookAnswer(record.HttpStatus, record.Outcome, record.Error ?? record.Outcome.ToSql());
        }
        catch (Exception error) when (StripeEventApplier.IsDatabaseUnreachable(error) && !cancellationToken.IsCancellationRequested)
        {
            // Nothing was committed: the completion and its log row share one transaction. Stripe retries a 503.
            logger.LogWarning("Stripe delivery refused with 503, the database is unreachable: {Error}", error.Message);
            return new WebhookAnswer(503, null, "The database is unreachable; retry later.");
        }
    }

    private static (SignatureVerdict Verdict, string Secret) Verify(
        string body, string? header, IReadOnlyList<string> secrets, long tolerance, long now)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return (SignatureVerdict.Missing, "");
        }

        foreach (var secret in secrets)
        {
            try
            {
                EventUtility.ValidateSignature(body, header, secret, AnyAge, now);
            }
            catch (Exception error) when (error is StripeException or FormatException or OverflowException or ArgumentException)
            {
                continue;
            }

            try
            {
                EventUtility.ValidateSignature(body, header, secret, tolerance, now);
                return (SignatureVerdict.Valid, secret);
            }
            catch (StripeException)
            {
                return (SignatureVerdict.Stale, secret);
            }
        }

        return (SignatureVerdict.Invalid, "");
    }
}
