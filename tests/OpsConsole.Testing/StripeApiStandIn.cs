using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Stripe;

namespace OpsConsole.Testing;

/// <summary>
/// STAND-IN for the Stripe HTTP API, the one stand-in the tests allow: a local Kestrel server that speaks Stripe's
/// documented JSON for the two calls the console makes: <c>GET /v1/events</c> (a list object, newest first, with
/// <c>types[]</c>, <c>created[gte]</c>, <c>limit</c> and <c>starting_after</c>) and <c>POST /v1/refunds</c> (a refund
/// object, or Stripe's error object), honouring <c>Idempotency-Key</c> as Stripe does: the same key answers the
/// same refund again.
/// </summary>
public sealed class StripeApiStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Event> _events = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<(int Status, string Json)>>> _idempotent = new();
    private int _refundsCreated;
    private int _eventListCalls;

    private StripeApiStandIn(WebApplication app) => _app = app;

    /// <summary>Where it listens, for <c>Stripe:ApiBase</c>.</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>Refunds created (an idempotent replay does not count).</summary>
    public int RefundsCreated => Volatile.Read(ref _refundsCreated);

    /// <summary>Refund requests received, replays included.</summary>
    public int RefundRequests { get; private set; }

    /// <summary>Times the events list was asked for (pages included).</summary>
    public int EventListCalls => Volatile.Read(ref _eventListCalls);

    /// <summary>When set, refunds fail with this Stripe error (code, message) instead.</summary>
    public (string Code, string Message)? RefundError { get; set; }

    /// <summary>How long a refund takes to create (to make concurrent requests overlap).</summary>
    public TimeSpan RefundDelay { get; set; }

    /// <summary>Page size cap of the events list (small, to exercise pagination).</summary>
    public int MaxPageSize { get; set; } = 100;

    /// <summary>Starts a stand-in on a free loopback port.</summary>
    public static async Task<StripeApiStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var standIn = new StripeApiStandIn(app);
        app.MapGet("/v1/events", standIn.ListEvents);
        app.MapPost("/v1/refunds", standIn.CreateRefundAsync);
        await app.StartAsync();
        standIn.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return standIn;
    }

    /// <summary>While set, every page of events waits for it: a test holds a replay in the middle of its paging.</summary>
    public TaskCompletionSource? EventPageGate { get; set; }

    /// <summary>Completes when a page of events waits at <see cref="EventPageGate"/>.</summary>
    public TaskCompletionSource EventPageWaiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Makes <paramref name="stripeEvent"/> part of the account's event history.</summary>
    public void AddEvent(Event stripeEvent) => _events[stripeEvent.Id] = stripeEvent;

    private async Task<IResult> ListEvents(HttpRequest request)
    {
        Interlocked.Increment(ref _eventListCalls);
        if (EventPageGate is { } gate)
        {
            EventPageWaiting.TrySetResult();
            await gate.Task;
        }

        if (!IsAuthorized(request))
        {
            return Error(401, "invalid_request_error", null, "Invalid API Key provided.");
        }

        var types = request.Query.Where(q => q.Key.StartsWith("types[", StringComparison.Ordinal)).SelectMany(q => q.Value).ToHashSet();
        long? createdFrom = long.TryParse(request.Query["created[gte]"], out var gte) ? gte : null;
        var limit = Math.Min(int.TryParse(request.Query["limit"], out var l) ? l : 10, MaxPageSize);
        var after = request.Query["starting_after"].FirstOrDefault();

        var matching = _events.Values
            .Where(e => types.Count == 0 || types.Contains(e.Type))
            .Where(e => createdFrom is null || new DateTimeOffset(e.Created, TimeSpan.Zero).ToUnixTimeSeconds() >= createdFrom)
            .OrderByDescending(e => e.Created).ThenByDescending(e => e.Id, StringComparer.Ordinal)
            .ToList();
        if (after is not null)
        {
            matching = matching.SkipWhile(e => e.Id != after).Skip(1).ToList();
        }

        var page = matching.Take(limit).ToList();
        var list = new JsonObject
        {
            ["object"] = "list",
            ["url"] = "/v1/events",
            ["has_more"] = matching.Count > page.Count,
            ["data"] = new JsonArray(page.Select(e => JsonNode.Parse(e.ToJson())).ToArray()),
        };
        return Results.Content(list.ToJsonString(), "application/json");
    }

    private async Task<IResult> CreateRefundAsync(HttpRequest request)
    {
        if (!IsAuthorized(request))
        {
            return Error(401, "invalid_request_error", null, "Invalid API Key provided.");
        }

        var form = await request.ReadFormAsync();
        lock (_idempotent)
        {
            RefundRequests++;
        }

        var key = request.Headers["Idempotency-Key"].FirstOrDefault() ?? Guid.NewGuid().ToString();
        var answer = await _idempotent.GetOrAdd(key, _ => new Lazy<Task<(int, string)>>(() => CreateOnceAsync(form))).Value;
        return Results.Content(answer.Json, "application/json", statusCode: answer.Status);
    }

    private async Task<(int Status, string Json)> CreateOnceAsync(IFormCollection form)
    {
        await Task.Delay(RefundDelay);
        if (RefundError is { } error)
        {
            return (400, ErrorJson("invalid_request_error", error.Code, error.Message));
        }

        var paymentIntent = form["payment_intent"].ToString();
        if (string.IsNullOrEmpty(paymentIntent))
        {
            return (400, ErrorJson("invalid_request_error", "parameter_missing", "One of the following params should be provided for this request: payment_intent or charge."));
        }

        Interlocked.Increment(ref _refundsCreated);
        var refund = new JsonObject
        {
            ["id"] = $"re_{Guid.NewGuid():N}"[..27],
            ["object"] = "refund",
            ["amount"] = 1000,
            ["currency"] = "usd",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["payment_intent"] = paymentIntent,
            ["status"] = "succeeded",
            ["metadata"] = new JsonObject(form.Where(f => f.Key.StartsWith("metadata[", StringComparison.Ordinal))
                .Select(f => KeyValuePair.Create(f.Key["metadata[".Length..^1], (JsonNode?)JsonValue.Create(f.Value.ToString())))),
        };
        return (200, refund.ToJsonString());
    }

    private static bool IsAuthorized(HttpRequest request) =>
        request.Headers.Authorization.ToString().StartsWith("Bearer sk_test_", StringComparison.Ordinal);

    private static IResult Error(int status, string type, string? code, string message) =>
        Results.Content(ErrorJson(type, code, message), "application/json", statusCode: status);

    private static string ErrorJson(string type, string? code, string message) =>
        JsonSerializer.Serialize(new { error = new { type, code, message } });

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
