using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OpsConsole.Tests.Infrastructure;

/// <summary>The console app on a given database, demo off, with test settings on top of appsettings.json.</summary>
public sealed class ConsoleAppFactory(string connectionString, IReadOnlyDictionary<string, string?>? settings = null, string environment = "Development")
    : WebApplicationFactory<Program>
{
    /// <summary>Replaces the app's services after its own registrations (a fake clock, say); set before the app starts.</summary>
    public Action<IServiceCollection>? TestServices { get; set; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        builder.UseSetting("ConnectionStrings:Marketplace", connectionString);
        builder.UseSetting("ConnectionStrings:MarketplaceProbe", OpsConsole.Testing.PostgresServer.ProbeConnectionStringFor(connectionString));
        builder.UseSetting("Demo:Enabled", "false");
        builder.UseSetting("Database:Probe:Interval", "00:00:00.500");
        builder.UseSetting("Accounts:SignInAttemptsPerMinute", "1000");
        // Every request re-checks the account, so tests see role changes at once.
        builder.UseSetting("Accounts:RevalidationInterval", "00:00:00");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        builder.ConfigureTestServices(services => TestServices?.Invoke(services));
    }
}
