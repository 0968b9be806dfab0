using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Overview;

/// <summary>Registration of the overview's shared snapshot.</summary>
public static class OverviewServiceCollectionExtensions
{
    /// <summary>Registers the overview settings (section <c>Overview</c>, validated at start) and <see cref="OverviewService"/>, hosted.</summary>
    public static IServiceCollection AddOpsConsoleOverview(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OverviewOptions>().Bind(configuration.GetSection(OverviewOptions.Section))
            .Validate(o => o.KpiWindow >= TimeSpan.FromSeconds(10), "Overview:KpiWindow must be at least 10 s.")
            .Validate(o => o.RefreshInterval >= TimeSpan.FromMilliseconds(200), "Overview:RefreshInterval must be at least 200 ms.")
            .ValidateOnStart();
        services.AddSingleton<OverviewService>();
        services.AddHostedService(sp => sp.GetRequiredService<OverviewService>());
        return services;
    }
}
