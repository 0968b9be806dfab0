using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace OpsConsole.Core.Deployments;

/// <summary>Registration of the deployment checklist.</summary>
public static class DeploymentsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the deployment checklist: runbook catalog, probe runner, service, the in-process event hub and,
    /// unless <c>Deployments:ListenForChanges</c> is false, the LISTEN/NOTIFY listener as a hosted service.
    /// Needs the <c>NpgsqlDataSource</c> that <c>AddOpsConsoleCore</c> registers.
    /// </summary>
    public static IServiceCollection AddOpsConsoleDeployments(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DeploymentOptions>().Bind(configuration.GetSection(DeploymentOptions.Section))
            .Validate(o => o.ProbeTimeout >= TimeSpan.FromMilliseconds(1), "Deployments:ProbeTimeout must be at least 1 ms.")
            .Validate(o => o.MaxStoredRows is >= 0 and <= 10_000, "Deployments:MaxStoredRows must be between 0 and 10000.")
            .Validate(o => o.MaxStoredChars is >= 1024 and <= 16 * 1024 * 1024, "Deployments:MaxStoredChars must be between 1024 and 16777216.")
            .Validate(o => o.MaxStoredValueChars >= 64 && o.MaxStoredValueChars <= o.MaxStoredChars,
                "Deployments:MaxStoredValueChars must be at least 64 and at most Deployments:MaxStoredChars.")
            .Validate(o => o.ListenerMaxReconnectDelay > TimeSpan.Zero, "Deployments:ListenerMaxReconnectDelay must be positive.")
            .ValidateOnStart();

        services.AddSingleton<RunbookCatalog>();
        services.AddSingleton(_ => ProbeDataSource.Create(configuration));
        services.AddSingleton<ProbeRunner>();
        services.AddSingleton<DeploymentStore>();
        services.AddSingleton<IDeploymentService, DeploymentService>();
        services.AddSingleton<DeploymentEventHub>();
        services.AddSingleton<DeploymentEventListener>();
        services.AddSingleton<IHostedService>(sp =>
            sp.GetRequiredService<IOptions<DeploymentOptions>>().Value.ListenForChanges
                ? sp.GetRequiredService<DeploymentEventListener>()
                : new NoListener());
        services.AddSingleton<DeploymentDemoSeed>();
        return services;
    }

    private sealed class NoListener : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
