using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Locks;

/// <summary>Registration of the lock views.</summary>
public static class LocksServiceCollectionExtensions
{
    /// <summary>
    /// Registers the lock settings (section <c>Locks</c>, validated at start), the snapshot query, the history, the
    /// shared sampler as a hosted service, and the cancel/terminate actions.
    /// </summary>
    public static IServiceCollection AddOpsConsoleLocks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LockOptions>().Bind(configuration.GetSection(LockOptions.Section))
            .Validate(o => o.LockTimeout >= TimeSpan.FromMilliseconds(1), "Locks:LockTimeout must be at least 1 ms.")
            .Validate(o => o.StatementTimeout >= TimeSpan.FromMilliseconds(1), "Locks:StatementTimeout must be at least 1 ms.")
            .Validate(o => o.WaitWarn > TimeSpan.Zero, "Locks:WaitWarn must be positive.")
            .Validate(o => o.WaitAlert >= o.WaitWarn, "Locks:WaitAlert must not be below Locks:WaitWarn.")
            .Validate(o => o.SampleInterval >= TimeSpan.FromMilliseconds(100), "Locks:SampleInterval must be at least 100 ms.")
            .Validate(o => o.HistoryRetention >= TimeSpan.FromHours(24), "Locks:HistoryRetention must be at least 24 hours (the chart's longest window).")
            .ValidateOnStart();

        services.AddSingleton<LockSnapshotQuery>();
        services.AddSingleton<LockHistory>();
        services.AddSingleton<BackendActions>();
        services.AddSingleton<LockSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<LockSampler>());
        return services;
    }
}
