using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace OpsConsole.Core.Credits;

/// <summary>Registration of the credit reconciliation editor.</summary>
public static class CreditsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the credit editor: its settings (section <c>Credits</c>, validated at start), the service, the in-process
    /// event hub and, unless <c>Credits:ListenForChanges</c> is false, the LISTEN/NOTIFY listener as a hosted service.
    /// Needs what <c>AddOpsConsoleCore</c> registers.
    /// </summary>
    public static IServiceCollection AddOpsConsoleCredits(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CreditOptions>().Bind(configuration.GetSection(CreditOptions.Section))
            .Validate(o => o.ApprovalThreshold >= 0, "Credits:ApprovalThreshold must be 0 or more.")
            .Validate(o => o.HistoryPageSize is >= 1 and <= 500, "Credits:HistoryPageSize must be between 1 and 500.")
            .Validate(o => o.ListenerMaxReconnectDelay > TimeSpan.Zero, "Credits:ListenerMaxReconnectDelay must be positive.")
            .ValidateOnStart();

        services.AddSingleton<CreditService>();
        services.AddSingleton<CreditEventHub>();
        services.AddSingleton<CreditEventListener>();
        services.AddSingleton<IHostedService>(sp =>
            sp.GetRequiredService<IOptions<CreditOptions>>().Value.ListenForChanges
                ? sp.GetRequiredService<CreditEventListener>()
                : new NoListener());
        return services;
    }

    private sealed class NoListener : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
