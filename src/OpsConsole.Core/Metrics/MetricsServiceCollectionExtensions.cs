using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace OpsConsole.Core.Metrics;

/// <summary>Registration of the purchase metrics.</summary>
public static class MetricsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the metrics settings (section <c>Metrics</c>, validated at start), their data source (the replica of
    /// <c>ConnectionStrings:MarketplaceReadOnly</c> when set), the query, and the shared sampler and the rollup
    /// (on the primary) as hosted services.
    /// </summary>
    public static IServiceCollection AddOpsConsoleMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MetricsOptions>().Bind(configuration.GetSection(MetricsOptions.Section))
            .Validate(o => o.SampleInterval >= TimeSpan.FromMilliseconds(100), "Metrics:SampleInterval must be at least 100 ms.")
            .Validate(o => o.StatementTimeout >= TimeSpan.FromMilliseconds(1), "Metrics:StatementTimeout must be at least 1 ms.")
            .Validate(o => o.PendingEvaluations >= 1, "Metrics:PendingEvaluations must be 1 or more.")
            .Validate(o => o.RollupInterval >= TimeSpan.FromSeconds(1), "Metrics:RollupInterval must be at least 1 s.")
            .Validate(o => MetricsWindow.TryParse(o.ScrapeWindow, out _), "Metrics:ScrapeWindow must be one of 15m, 1h, 6h, 24h, 7d.")
            .Validate(o => o.SuccessRate.Alert <= o.SuccessRate.Target, "Metrics:SuccessRate:Alert must not be above its Target (higher is better).")
            .Validate(o => o.ConflictRate.Alert >= o.ConflictRate.Target, "Metrics:ConflictRate:Alert must not be below its Target.")
            .Validate(o => o.PurchaseTime.Alert >= o.PurchaseTime.Target, "Metrics:PurchaseTime:Alert must not be below its Target.")
            .Validate(o => o.WebhookDuplicateRate.Alert >= o.WebhookDuplicateRate.Target, "Metrics:WebhookDuplicateRate:Alert must not be below its Target.")
            .ValidateOnStart();

        services.AddSingleton(sp => MetricsDataSource.Create(configuration, sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton<PurchaseMetricsQuery>();
        services.AddSingleton<MetricsSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<MetricsSampler>());
        services.AddSingleton<MetricsRollupService>();
        services.AddHostedService(sp => sp.GetRequiredService<MetricsRollupService>());
        return services;
    }
}
