using Microsoft.Extensions.Options;
using Stripe;

namespace OpsConsole.Core.Stripe;

/// <summary>
/// The Stripe.net client of the configured account (<c>Stripe:ApiKey</c>, <c>Stripe:ApiBase</c>), built anew when the
/// settings change. Replay lists events through its <see cref="EventService"/>, refunds go through its <see cref="RefundService"/>.
/// </summary>
public sealed class StripeApi(IOptionsMonitor<StripeOptions> options)
{
    private readonly Lock _gate = new();
    private (string Key, string? Base, IStripeClient Client)? _current;

    /// <summary>True when an API key is configured.</summary>
    public bool Enabled => options.CurrentValue.ApiEnabled;

    /// <summary>The events service, or null without an API key.</summary>
    public EventService? Events() => Client() is { } client ? new EventService(client) : null;

    /// <summary>The refunds service, or null without an API key.</summary>
    public RefundService? Refunds() => Client() is { } client ? new RefundService(client) : null;

    private IStripeClient? Client()
    {
        var settings = options.CurrentValue;
        if (!settings.ApiEnabled)
        {
            return null;
        }

        var apiBase = string.IsNullOrWhiteSpace(settings.ApiBase) ? null : settings.ApiBase.TrimEnd('/');
        lock (_gate)
        {
            if (_current is not { } current || current.Key != settings.ApiKey || current.Base != apiBase)
            {
                _current = current = (settings.ApiKey!, apiBase, new StripeClient(apiKey: settings.ApiKey, apiBase: apiBase));
            }

            return current.Client;
        }
    }
}
