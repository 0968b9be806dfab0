using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Purchases;
using OpsConsole.Core.Stripe;
using Stripe;

namespace OpsConsole.Core.Demo;

/// <summary>Registration of the demo's card purchases.</summary>
public static class DemoCardPaymentsServiceCollectionExtensions
{
    /// <summary>
    /// Card checkouts in the demo traffic (when <c>Demo:Enabled</c>), paid through a local simulated Stripe that posts
    /// signed events to the console's own receiver; the demo's webhook secret, generated at start, is added to
    /// <c>Stripe:WebhookSecret</c>.
    /// </summary>
    public static IServiceCollection AddDemoCardPayments(this IServiceCollection services, IConfiguration configuration)
    {
        var secret = SimulatedStripeEvents.NewWebhookSecret();
        services.AddOptions<StripeOptions>().PostConfigure<IOptions<DemoOptions>>((o, demo) =>
        {
            if (demo.Value.Enabled == true)
            {
                o.WebhookSecret = string.IsNullOrWhiteSpace(o.WebhookSecret) ? secret : $"{o.WebhookSecret},{secret}";
            }
        });
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<DemoCardPayments>(sp, configuration, new DemoWebhookSecret(secret)));
        return services;
    }
}

/// <summary>The console's own HTTP addresses, which the web app provides; the demo's simulated Stripe posts there.</summary>
public interface IConsoleAddresses
{
    /// <summary>The addresses the console listens on, as the server reports them once started.</summary>
    IReadOnlyCollection<string> Addresses { get; }
}

/// <summary>The webhook secret the demo's simulated Stripe signs with.</summary>
/// <param name="Value">The secret.</param>
public sealed record DemoWebhookSecret(string Value);

/// <summary>
/// The demo's card buyers and a simulated Stripe. Buyers reserve through <see cref="IPurchaseService"/>; the simulated
/// Stripe then posts signed events (Stripe.net's types and signature helper) to <c>POST /api/stripe/webhook</c> over
/// HTTP, with the mix real traffic has: a <c>payment_intent.created</c> first now and then, the payment intent and
/// often the checkout session (either first), one delivery in <see cref="DuplicateEvery"/> repeated, one checkout in
/// <see cref="AbandonEvery"/> abandoned (it expires), and one in <see cref="LatePaymentEvery"/> paid after the reservation
/// ran out and its lead was sold to a credit buyer (a refund-queue entry). The rare ones come on a fixed count, not at
/// random, so that no window of the calm baseline sees a cluster of them. During the webhook storm scenario every event
/// is delivered <see cref="StormDeliveries"/> times. Slow customers' checkouts hold their leads for seconds, not 15
/// minutes, so expiry and refunds show within a minute of start.
/// </summary>
public sealed class DemoCardPayments : BackgroundService
{
    /// <summary>The actor of the demo's card checkouts.</summary>
    public const string Actor = "demo-card";

    private static readonly TimeSpan SlowCustomerTtl = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan BackOffAfterError = TimeSpan.FromSeconds(5);

    /// <summary>One delivery in this many is repeated (Stripe's at-least-once delivery): 1.7 %, under the guide's 5 % target.</summary>
    public const int DuplicateEvery = 60;

    /// <summary>One checkout in this many is abandoned and expires.</summary>
    public const int AbandonEvery = 150;

    /// <summary>One checkout in this many is paid after its reservation ran out and its lead was sold (the first at the 200th: an early one,
    /// among the few purchases of a just-started demo, read as a success rate under target on the first look).</summary>
    public const int LatePaymentEvery = 400;

    /// <summary>Deliveries of each event while the webhook storm runs.</summary>
    public const int StormDeliveries = 4;

    private readonly IPurchaseService _purchases;
    private readonly DemoMarket _market;
    private readonly DemoLeadPool _pool;
    private readonly DemoScenarios? _scenarios;
    private readonly DemoTrafficStats _stats;
    private readonly IConsoleAddresses? _addresses;
    private readonly IHostApplicationLifetime? _lifetime;
    private readonly IConfiguration _configuration;
    private readonly IOptions<DemoOptions> _demo;
    private readonly IOptions<PurchaseOptions> _purchaseOptions;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<DemoCardPayments> _logger;
    private readonly DemoWebhookSecret _secret;
    private readonly HttpClient _http;
    private readonly Random _random = new();
    private int _checkouts;
    private long _deliveries;

    /// <summary>Created by <see cref="DemoCardPaymentsServiceCollectionExtensions.AddDemoCardPayments"/>.</summary>
    public DemoCardPayments(
        IPurchaseService purchases, DemoMarket market, DemoLeadPool pool, DemoTrafficStats stats, IConfiguration configuration,
        IOptions<DemoOptions> demo, IOptions<PurchaseOptions> purchaseOptions, TimeProvider time, ILoggerFactory loggers, DemoWebhookSecret secret,
        IConsoleAddresses? addresses = null, IHostApplicationLifetime? lifetime = null, DemoScenarios? scenarios = null)
    {
        _purchases = purchases;
        _market = market;
        _pool = pool;
        _stats = stats;
        _scenarios = scenarios;
        _addresses = addresses;
        _lifetime = lifetime;
        _configuration = configuration;
        _demo = demo;
        _purchaseOptions = purchaseOptions;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<DemoCardPayments>();
        _secret = secret;
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_demo.Value.Enabled != true || _demo.Value.PurchasesPerSecond <= 0 || _demo.Value.CardCheckoutsPerSecond <= 0)
        {
            return;
        }

        if (_lifetime is null)
        {
            // Without a web host there is no receiver to post to.
            return;
        }

        var started = new TaskCompletionSource();
        using (_lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }

        var webhook = WebhookAddress();
        if (webhook is null)
        {
            _logger.LogWarning("Demo card payments are off: the console has no HTTP address to post Stripe events to");
            return;
        }

        // Slow customers: the same purchase service over connections whose reservations last seconds.
        var slowSettings = new ConfigurationBuilder().AddConfiguration(_configuration)
            .AddInMemoryCollection(new Dictionary<string, string?> { [$"{PurchaseOptions.Section}:ReservationTtl"] = SlowCustomerTtl.ToString() })
            .Build();
        await using var slowSource = ServiceCollectionExtensions.BuildDataSource(slowSettings);
        var slow = new PurchaseService(slowSource, new MarketplaceFunctions(slowSource), _purchaseOptions, _time, _loggers.CreateLogger<PurchaseService>());
        var deliveries = new List<Task>();
        _logger.LogInformation("Demo card payments: simulated Stripe posting signed events to {Webhook}", webhook);
        _stats.CardPaymentsRunning = true;
        var checkoutsPerSecond = _demo.Value.CardCheckoutsPerSecond;

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds((0.5 + _random.NextDouble()) / checkoutsPerSecond), _time, stoppingToken);
                deliveries.RemoveAll(t => t.IsCompleted);
                var number = ++_checkouts;
                if (number % LatePaymentEvery == LatePaymentEvery / 2)
                {
                    deliveries.Add(LatePaymentAsync(slow, webhook, stoppingToken));
                }
                else if (number % AbandonEvery == AbandonEvery / 2)
                {
                    await CheckoutAsync(slow, stoppingToken); // abandoned: never paid, expires
                }
                else if (await CheckoutAsync(_purchases, stoppingToken) is { } checkout)
                {
                    deliveries.Add(PayAsync(checkout, webhook, stoppingToken));
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
            catch (Exception error)
            {
                _logger.LogWarning("Demo card checkout failed: {Error}", error.Message);
                await Task.Delay(BackOffAfterError, _time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        _stats.CardPaymentsRunning = false;
        await Task.WhenAll(deliveries).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    private async Task<CardCheckout?> CheckoutAsync(IPurchaseService purchases, CancellationToken cancellationToken)
    {
        var buyers = (await _market.GetBuyerBalancesAsync(cancellationToken)).Where(b => b.Balance >= DemoTrafficService.MinBuyerBalance).ToList();
        if (buyers.Count == 0)
        {
            return null;
        }

        var buyer = buyers[_random.Next(buyers.Count)].Id;
        var mine = _pool.Take(_random.Next(1, 3), buyer);
        if (mine.Count == 0)
        {
            return null;
        }

        var reserved = await purchases.ReserveForStripeAsync(buyer, [.. mine], Actor, cancellationToken);
        return reserved.Outcome == PurchaseOutcome.Reserved
            ? new CardCheckout(reserved.PurchaseId!.Value, buyer, [.. mine], SimulatedStripeEvents.NewId("pi"),
                SimulatedStripeEvents.MinorUnits(reserved.TotalPrice ?? 0m))
            : null;
    }

    private async Task PayAsync(CardCheckout checkout, Uri webhook, CancellationToken cancellationToken)
    {
        try
        {
            var events = new List<Event>();
            if (_random.NextDouble() < 0.3)
            {
                events.Add(SimulatedStripeEvents.PaymentIntentCreated(checkout.PurchaseId, checkout.PaymentIntentId, checkout.AmountMinor));
            }

            var paid = new List<Event> { SimulatedStripeEvents.PaymentIntentSucceeded(checkout.PurchaseId, checkout.PaymentIntentId, checkout.AmountMinor) };
            if (_random.NextDouble() < 0.6)
            {
                paid.Add(SimulatedStripeEvents.CheckoutSessionCompleted(checkout.PurchaseId, checkout.PaymentIntentId, checkout.AmountMinor));
            }

            // Out of order now and then: the checkout session before the payment intent.
            events.AddRange(_random.NextDouble() < 0.3 ? Enumerable.Reverse(paid) : paid);
            await Task.Delay(TimeSpan.FromSeconds(0.2 + _random.NextDouble() * 0.8), _time, cancellationToken);
            foreach (var stripeEvent in events)
            {
                await SendAsync(stripeEvent, webhook, cancellationToken);
                var repeats = _scenarios?.IsActive(DemoScenario.WebhookStorm) == true ? StormDeliveries - 1
                    : Interlocked.Increment(ref _deliveries) % DuplicateEvery == 0 ? 1 : 0;
                for (var i = 0; i < repeats; i++)
                {
                    // Stripe's at-least-once delivery: the same event again, a little later.
                    await Task.Delay(TimeSpan.FromSeconds(0.2 + _random.NextDouble()), _time, cancellationToken);
                    await SendAsync(stripeEvent, webhook, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception error)
        {
            _logger.LogWarning("Simulated Stripe could not deliver: {Error}", error.Message);
        }
    }

    private async Task LatePaymentAsync(IPurchaseService slow, Uri webhook, CancellationToken cancellationToken)
    {
        try
        {
            if (await CheckoutAsync(slow, cancellationToken) is not { } checkout)
            {
                return;
            }

            // The customer dawdles past the reservation; meanwhile a credit buyer takes the leads.
            await Task.Delay(SlowCustomerTtl + TimeSpan.FromSeconds(1), _time, cancellationToken);
            var buyers = await _market.GetBuyerBalancesAsync(cancellationToken);
            var other = buyers.Where(b => b.Id != checkout.Buyer && b.Balance >= DemoTrafficService.MinBuyerBalance).Select(b => b.Id).FirstOrDefault();
            if (other != Guid.Empty)
            {
                await _purchases.PurchaseWithCreditsAsync(other, checkout.Leads, DemoTrafficService.Actor, cancellationToken);
            }

            await SendAsync(SimulatedStripeEvents.PaymentIntentSucceeded(checkout.PurchaseId, checkout.PaymentIntentId, checkout.AmountMinor), webhook, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception error)
        {
            _logger.LogWarning("Demo late card payment failed: {Error}", error.Message);
        }
    }

    private async Task SendAsync(Event stripeEvent, Uri webhook, CancellationToken cancellationToken)
    {
        var body = SimulatedStripeEvents.Body(stripeEvent);
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook)
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Stripe-Signature", SimulatedStripeEvents.Sign(body, _secret.Value));
        using var response = await _http.SendAsync(request, cancellationToken);
        if ((int)response.StatusCode >= 500)
        {
            _logger.LogWarning("The receiver answered {Status} to event {EventId}", (int)response.StatusCode, stripeEvent.Id);
        }
    }

    // The console's own address: plain HTTP on loopback when it listens there, else its first address.
    private Uri? WebhookAddress()
    {
        var addresses = _addresses?.Addresses ?? [];
        var chosen = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal)) ?? addresses.FirstOrDefault();
        if (chosen is null)
        {
            return null;
        }

        var address = new UriBuilder(chosen.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal).Replace("://[::]", "://localhost", StringComparison.Ordinal))
        {
            Path = "/api/stripe/webhook",
        };
        return address.Uri;
    }

    private sealed record CardCheckout(Guid PurchaseId, Guid Buyer, Guid[] Leads, string PaymentIntentId, long AmountMinor);
}
