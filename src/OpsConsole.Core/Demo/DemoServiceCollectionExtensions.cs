using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Demo;

/// <summary>Registration of the demo seed and, when asked, the demo traffic.</summary>
public static class DemoServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="DemoSeeder"/>, <see cref="DemoTrafficStats"/> and the traffic, which runs only when
    /// <see cref="DemoOptions.Enabled"/> is true (section <c>Demo</c>, validated at start).
    /// </summary>
    public static IServiceCollection AddOpsConsoleDemo(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DemoOptions>().Bind(configuration.GetSection(DemoOptions.Section))
            .Validate(o => o.LeadCount >= 0, "Demo:LeadCount must be 0 or more.")
            .Validate(o => o.Buyers >= 0, "Demo:Buyers must be 0 or more.")
            .Validate(o => o.PurchasesPerSecond >= 0, "Demo:PurchasesPerSecond must be 0 or more.")
            .Validate(o => o.HotLeads >= 1, "Demo:HotLeads must be 1 or more.")
            .Validate(o => o.RestockBelow >= 0, "Demo:RestockBelow must be 0 or more.")
            .ValidateOnStart();
        services.AddSingleton<DemoSeeder>();
        services.AddSingleton<DemoMarket>();
        services.AddSingleton<DemoTrafficStats>();
        services.AddHostedService<DemoTrafficService>();
        return services;
    }
}
