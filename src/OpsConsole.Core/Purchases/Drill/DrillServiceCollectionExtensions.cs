using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OpsConsole.Core.Purchases.Drill;

/// <summary>Registration of the concurrency drill.</summary>
public static class DrillServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IDrillRunner"/>, with section <c>Drill</c> validated at start.</summary>
    public static IServiceCollection AddOpsConsoleDrill(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DrillOptions>().Bind(configuration.GetSection(DrillOptions.Section))
            .Validate(o => o.AllowedDatabases.All(d => !string.IsNullOrWhiteSpace(d)), "Drill:AllowedDatabases must not hold an empty name.")
            .Validate(o => o.CleanupTimeout >= TimeSpan.FromSeconds(1), "Drill:CleanupTimeout must be at least 1 s.")
            .ValidateOnStart();
        services.AddSingleton(sp => new DrillRunner(
            configuration.GetConnectionString(DrillRunner.ConnectionStringName),
            sp.GetRequiredService<IOptions<DrillOptions>>(), sp.GetRequiredService<ILogger<DrillRunner>>()));
        services.AddSingleton<IDrillRunner>(sp => sp.GetRequiredService<DrillRunner>());
        return services;
    }
}
