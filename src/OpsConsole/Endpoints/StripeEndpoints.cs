using System.Text;
using Microsoft.AspNetCore.Http.Features;
using OpsConsole.Core.Stripe;

namespace OpsConsole.Endpoints;

/// <summary>
/// <c>POST /api/stripe/webhook</c>: Stripe's deliveries. Anonymous (Stripe signs, it does not sign in), outside
/// antiforgery (no form, no cookie), body at most 1 MB; 404 while no webhook secret is configured. The
/// verification, the completion and the answers are Core's (<see cref="StripeWebhookReceiver"/>).
/// </summary>
public static class StripeEndpoints
{
    public const string WebhookPath = "/api/stripe/webhook";

    public static IEndpointRouteBuilder MapStripeEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(WebhookPath, ReceiveAsync)
            .AllowAnonymous()
            .DisableAntiforgery()
            .WithName("StripeWebhook");
        return endpoints;
    }

    private static async Task<IResult> ReceiveAsync(HttpContext context, StripeWebhookReceiver receiver, CancellationToken cancellationToken)
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

        var answer = await receiver.ReceiveAsync(body, context.Request.Headers["Stripe-Signature"].FirstOrDefault(), cancellationToken);
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
