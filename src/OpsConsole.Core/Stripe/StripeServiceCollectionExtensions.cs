using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Stripe;

/// <summary>Registration of the Stripe receiver, replay, refunds and reservation expiry.</summary>
public static class StripeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Stripe settings (section <c>Stripe</c>, validated at start), the receiver and its log, the
    /// Stripe.net client, refunds, and the replay and expiry sweep as hosted services.
    /// </summary>
    public static IServiceCollection AddOpsConsoleStripe(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StripeOptions>().Bind(configuration.GetSection(StripeOptions.Section))
            .Validate(o => o.SignatureToleranceSeconds >= 1, "Stripe:SignatureToleranceSeconds must be at least 1.")
            .Validate(o => o.WebhookSecrets().All(s => s.StartsWith("whsec_", StringComparison.Ordinal)),
                "Stripe:WebhookSecret must hold webhook signing secrets (whsec_...), separated by commas.")
            .Validate(o => string.IsNullOrWhiteSpace(o.ApiBase) || Uri.TryCreate(o.ApiBase, UriKind.Absolute, out _), "Stripe:ApiBase must be an absolute URL.")
            .Validate(o => o.ReplayInterval >= TimeSpan.FromSeconds(10), "Stripe:ReplayInterval must be at least 10 s.")
            .Validate(o => o.ReplayLookback > TimeSpan.Zero && o.ReplayLookback <= TimeSpan.FromDays(30),
                "Stripe:ReplayLookback must be positive and at most 30 days (what the Stripe API keeps).")
            .Validate(o => o.ExpirySweepInterval >= TimeSpan.FromSeconds(1), "Stripe:ExpirySweepInterval must be at least 1 s.")
            .Validate(o => o.DeliveryRetention >= TimeSpan.FromDays(4), "Stripe:DeliveryRetention must be at least 4 days (Stripe retries for 3).")
            .Validate(o => o.RejectionsPerMinute >= 1, "Stripe:RejectionsPerMinute must be at least 1.")
            .Validate(o => o.RejectionClientsPerMinute >= 1, "Stripe:RejectionClientsPerMinute must be at least 1.")
            .Validate(o => o.RejectionFlushInterval >= TimeSpan.FromMilliseconds(100) && o.RejectionFlushInterval <= TimeSpan.FromMinutes(1),
                "Stripe:RejectionFlushInterval must be from 100 ms to 1 min.")
            .Validate(o => o.RejectionRetention >= TimeSpan.FromHours(1), "Stripe:RejectionRetention must be at least 1 h (the page shows the last hour).")
            .ValidateOnStart();

        services.AddSingleton<StripeApi>();
        services.AddSingleton<StripeDeliveryLog>();
        services.AddSingleton<StripeRejections>();
        services.AddHostedService(sp => sp.GetRequiredService<StripeRejections>());
        services.AddSingleton<StripeEventApplier>();
        services.AddSingleton<StripeWebhookReceiver>();
        services.AddSingleton<StripeRefunds>();
        services.AddSingleton<StripeReplayer>();
        services.AddHostedService(sp => sp.GetRequiredService<StripeReplayer>());
        services.AddSingleton<ReservationExpirySweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<ReservationExpirySweeper>());
        services.AddSingleton<StripeOverview>();
        return services;
    }
}
