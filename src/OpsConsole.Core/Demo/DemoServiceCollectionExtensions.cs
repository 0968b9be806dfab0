using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Demo;

/// <summary>Registration of the demo seed and, when asked, the demo traffic.</summary>
public static class DemoServiceCollectionExtensions
{
    /// <summary>Registers <see cref="DemoSeeder"/> and <see cref="DemoTrafficStats"/>; the traffic only when <paramref name="runTraffic"/>.</summary>
    public static IServiceCollection AddOpsConsoleDemo(this IServiceCollection services, IConfiguration configuration, bool runTraffic)
    {
        services.Configure<DemoOptions>(configuration.GetSection(DemoOptions.SectionName));
        services.AddSingleton<DemoSeeder>();
        services.AddSingleton<DemoMarket>();
        services.AddSingleton<DemoTrafficStats>();
        if (runTraffic)
        {
            services.AddHostedService<DemoTrafficService>();
            services.AddDemoCardPayments();
        }

        return services;
    }
}
