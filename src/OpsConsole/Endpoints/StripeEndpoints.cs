using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Stripe;

namespace OpsConsole.Endpoints;

/// <summary>
/// <c>POST /api/stripe/webhook</c>: Stripe's deliveries. Anonymous (Stripe signs, it does not sign in), outside
/// antiforgery (no form, no cookie), body at most 1 MB; 404 while no webhook secret is configured. The
/// verification, the completion and the answers are Core's (<see cref="StripeWebhookReceiver"/>).
/// Refusals are rate limited per client address (<see cref="WebhookRefusalLimiter"/>); valid deliveries never are.
/// </summary>
public static class StripeEndpoints
{
    public const string WebhookPath = "/api/stripe/webhook";

    public static IServiceCollection AddStripeWebhookLimiter(this IServiceCollection services) =>
        services.AddSingleton<WebhookRefusalLimiter>();

    public static IEndpointRouteBuilder MapStripeEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(WebhookPath, ReceiveAsync)
            .AllowAnonymous()
            .DisableAntiforgery()
            .WithName("StripeWebhook");
        return endpoints;
    }

    private static async Task<IResult> ReceiveAsync(
        HttpContext context, StripeWebhookReceiver receiver, WebhookRefusalLimiter limiter, CancellationToken cancellationToken)
    {
        if (!receiver.Enabled)
        {
            return TypedResults.NotFound();
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = StripeWebhookReceiver.MaxBodyBytes;
        }

        var body = await ReadBodyAsync(context.Request, cancellationToken);
        if (body is null)
        {
            return TypedResults.Problem(
                title: "Payload too large",
                detail: $"A Stripe event is at most {StripeWebhookReceiver.MaxBodyBytes / 1024 / 1024} MB.",
                statusCode: StatusCodes.Status413PayloadTooLarge);
        }

        // The address after a known proxy's forwarded headers (ForwardedHeadersSetup), an IPv6 client by its /64.
        var address = SignInEndpoints.ClientPartition(context.Connection.RemoteIpAddress);
        var client = new WebhookClient(address, limiter.IsExhausted(address));
        var answer = await receiver.ReceiveAsync(body, context.Request.Headers["Stripe-Signature"].FirstOrDefault(), client, cancellationToken);
        if (answer.StatusCode == StatusCodes.Status400BadRequest)
        {
            limiter.Spend(address);
        }

        return answer.StatusCode == StatusCodes.Status404NotFound
            ? TypedResults.NotFound()
            : TypedResults.Json(new { outcome = answer.Outcome?.ToSql(), message = answer.Message }, statusCode: answer.StatusCode);
    }

    // The body exactly as sent (the signature covers its bytes), or null past the limit.
    private static async Task<string?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > StripeWebhookReceiver.MaxBodyBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > StripeWebhookReceiver.MaxBodyBytes)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

/// <summary>
/// Refused webhook requests per client address and minute (<see cref="StripeOptions.RejectionsPerMinute"/>): only a
/// refusal spends a permit, so the limiter sees junk only, and a client past its allowance gets 429 for requests that
/// fail their signature while its valid deliveries still go through.
/// </summary>
public sealed class WebhookRefusalLimiter(IOptions<StripeOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(address =>
        RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.RejectionsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    /// <summary>True when <paramref name="address"/> has no refusal left in this window (asking spends nothing).</summary>
    public bool IsExhausted(string address)
    {
        using var probe = _limiter.AttemptAcquire(address, 0);
        return !probe.IsAcquired;
    }

    /// <summary>Spends one of <paramref name="address"/>'s refusals.</summary>
    public void Spend(string address) => _limiter.AttemptAcquire(address).Dispose();

    public void Dispose() => _limiter.Dispose();
}
