using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Purchases;

/// <summary>Registration of the purchase path.</summary>
public static class PurchasesServiceCollectionExtensions
{
    /// <summary>Registers the marketplace's SQL functions and <see cref="IPurchaseService"/>, with section <c>Purchases</c> validated at start.</summary>
    public static IServiceCollection AddOpsConsolePurchases(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PurchaseOptions>().Bind(configuration.GetSection(PurchaseOptions.Section))
            .Validate(o => o.MaxConflictRetries >= 0, "Purchases:MaxConflictRetries must be 0 or more.")
            .Validate(o => o.ConflictRetryBaseDelay > TimeSpan.Zero, "Purchases:ConflictRetryBaseDelay must be positive.")
            .Validate(o => o.ReservationTtl is null || o.ReservationTtl >= TimeSpan.FromMilliseconds(1), "Purchases:ReservationTtl must be at least 1 ms.")
            .ValidateOnStart();
        services.AddSingleton<MarketplaceFunctions>();
        services.AddSingleton<IPurchaseService, PurchaseService>();
        return services;
    }
}
